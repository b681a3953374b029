import pytest
import timm
import torch
from torch import nn

from cafd_zoo.models import create_model
from cafd_zoo.cam import ClassActivationFeatures, class_activation_map


def test_phi_is_f_times_w_of_the_predicted_class(tiny_net, images):
    ca = ClassActivationFeatures(tiny_net)(images)
    with torch.no_grad():
        f = tiny_net.conv3(torch.relu(tiny_net.conv2(torch.relu(tiny_net.bn1(tiny_net.conv1(images))))))
        pred = tiny_net(images).argmax(1)
    expected = torch.stack([f[i] * tiny_net.fc.weight[pred[i]].view(-1, 1, 1) for i in range(len(images))])
    assert torch.equal(ca.classes, pred)
    assert torch.allclose(ca.features, f)
    assert torch.allclose(ca.phi, expected, atol=1e-6)
    assert ca.phi.shape == (6, 16, 8, 8)  # no channel sum


def test_given_classes_select_their_rows(tiny_net, images):
    classes = torch.tensor([0, 1, 2, 3, 4, 9])
    ca = ClassActivationFeatures(tiny_net)(images, classes)
    assert torch.equal(ca.class_weights, tiny_net.fc.weight[classes])
    with pytest.raises(ValueError, match=r"\[0, 10\)"):
        ClassActivationFeatures(tiny_net)(images, torch.tensor([0, 1, 2, 3, 4, 10]))
    with pytest.raises(ValueError, match="6 classes for a batch of 2|got 6 classes"):
        ClassActivationFeatures(tiny_net)(images[:2], classes)


def test_hook_path_equals_direct_path(tiny_net, images):
    direct = ClassActivationFeatures(tiny_net)(images)
    hooked = ClassActivationFeatures(tiny_net, layer="conv3")(images)
    assert torch.equal(direct.phi, hooked.phi)
    assert not tiny_net.conv3._forward_hooks  # the hook is removed after each call


def test_timm_model_hook_and_timm_paths_agree_with_hand_computation():
    torch.manual_seed(0)
    model = timm.create_model("test_resnet", num_classes=10).eval()
    x = torch.rand(4, 3, 64, 64)
    with torch.no_grad():
        f = model.forward_features(x)
        pred = model(x).argmax(1)
        by_hand = f * model.get_classifier().weight[pred][:, :, None, None]
        via_timm = ClassActivationFeatures(model).phi(x)
        via_hook = ClassActivationFeatures(model, layer="layer4").phi(x)
    assert torch.allclose(via_timm, by_hand, atol=1e-6)
    assert torch.allclose(via_hook, by_hand, atol=1e-6)


def test_plain_module_needs_a_layer_and_finds_its_last_linear(images):
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                        nn.Linear(4, 10))
    with pytest.raises(ValueError, match="layer="):
        ClassActivationFeatures(net)
    ca = ClassActivationFeatures(net, layer="1")(images)
    assert ca.phi.shape == (6, 4, 32, 32)
    assert torch.equal(ca.class_weights, net[4].weight[ca.classes])


def test_layer_with_wrong_channel_count_is_explained(tiny_net, images):
    with pytest.raises(ValueError, match="8 channels but the final linear layer takes 16"):
        ClassActivationFeatures(tiny_net, layer="conv1")(images)
    with pytest.raises(AttributeError):
        ClassActivationFeatures(tiny_net, layer="no_such_layer")


def test_class_activation_map_is_a_normalised_picture(images):
    torch.manual_seed(0)
    model = create_model("resnet20").eval()
    with torch.no_grad():
        model.fc.weight.abs_()  # post-ReLU features and positive weights: a CAM with a real peak
    cam = class_activation_map(model, images)
    assert cam.shape == (6, 32, 32)
    assert cam.min() >= 0 and cam.max() <= 1
    assert torch.allclose(cam.flatten(1).amax(1), torch.ones(6))
