import pytest
import torch

from cafd_zoo.models import DUNET, create_model, is_architecture, list_architectures, register_model
from cafd_zoo.models._registry import architecture_task

# Exact counts: VGG-19, WRN and the official "ResNet-50" match the official code's classes;
# resnet50 is the standard CIFAR ResNet-50; DUNET is the official denoiser.
PARAMS_10_CLASSES = {
    "vgg19": 20_040_522,
    "resnet50": 23_520_842,
    "resnet50_cafd_official": 545_930,
    "resnet20": 272_474,
    "wrn28_10": 36_489_290,
    "wrn28_20": 145_835_690,
    "wrn16_4": 2_751_146,  # Zagoruyko and Komodakis: 2.7M
}
CLASSIFIERS = sorted(PARAMS_10_CLASSES)


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_registry_lists_every_architecture():
    assert set(list_architectures()) == set(PARAMS_10_CLASSES) | {"dunet", "vgg_discriminator", "ape_gan_generator",
                                                                  "ape_gan_discriminator"}
    assert list_architectures("wrn*") == ["wrn16_4", "wrn28_10", "wrn28_20"]


def test_registry_knows_each_architectures_task():
    assert list_architectures(task="classifier") == CLASSIFIERS
    assert list_architectures(task="denoiser") == ["ape_gan_generator", "dunet"]
    assert list_architectures(task="discriminator") == ["ape_gan_discriminator", "vgg_discriminator"]
    assert architecture_task("timm:resnet18") == "classifier" and architecture_task("dunet") == "denoiser"
    assert is_architecture("vgg19", task="classifier") and not is_architecture("dunet", task="classifier")
    assert not is_architecture("timm:resnet18", task="denoiser")
    with pytest.raises(ValueError, match="unknown task 'generator': one of classifier, denoiser, discriminator"):
        register_model(task="generator")


@pytest.mark.parametrize("name", CLASSIFIERS)
def test_classifier_parameter_count(name):
    assert n_params(create_model(name)) == PARAMS_10_CLASSES[name]


@pytest.mark.parametrize("name", [n for n in CLASSIFIERS if n != "wrn28_20"])
@pytest.mark.parametrize("num_classes", [10, 100])
def test_classifier_shapes_and_feature_split(name, num_classes):
    torch.manual_seed(0)
    m = create_model(name, num_classes=num_classes).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        logits = m(x)
        feats = m.forward_features(x)
        assert torch.allclose(m.forward_head(feats), logits, atol=1e-5)
    assert logits.shape == (2, num_classes)
    assert feats.shape[:2] == (2, m.get_classifier().in_features)
    assert m.get_classifier().out_features == num_classes


def test_wrn28_20_100_classes_shape():
    m = create_model("wrn28_20", num_classes=100).eval()
    assert n_params(m) == PARAMS_10_CLASSES["wrn28_20"] + 90 * (1280 + 1)
    with torch.no_grad():
        assert m(torch.rand(1, 3, 32, 32)).shape == (1, 100)


def test_vgg_features_are_the_official_pre_bn_last_conv():
    m = create_model("vgg19").eval()
    x = torch.rand(2, 3, 32, 32)
    captured = []
    m.get_submodule(m.cam_layer).register_forward_hook(lambda _m, _i, out: captured.append(out))
    assert isinstance(m.get_submodule(m.cam_layer), torch.nn.Conv2d)
    with torch.no_grad():
        m(x)
        feats = m.forward_features(x)
    assert feats.shape == (2, 512, 2, 2)
    assert torch.equal(captured[0], feats)


def test_normalisation_lives_inside_the_model():
    torch.manual_seed(0)
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    normed = create_model("resnet20", mean=mean, std=std).eval()
    plain = create_model("resnet20").eval()
    plain.load_state_dict({k: v for k, v in normed.state_dict().items() if not k.startswith("normalize.")},
                          strict=False)
    x = torch.rand(2, 3, 32, 32)
    manual = (x - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        assert torch.allclose(normed(x), plain(manual), atol=1e-5)
    with pytest.raises(ValueError, match="both mean and std"):
        create_model("vgg19", mean=mean)


def test_bad_architecture_arguments():
    with pytest.raises(KeyError, match="did you mean 'vgg19'|Did you mean 'vgg19'"):
        create_model("vgg91")
    with pytest.raises(ValueError, match="num_classes"):
        create_model("vgg19", num_classes=0)
    with pytest.raises(ValueError, match="dropout"):
        create_model("wrn28_10", dropout=1.5)


def test_dunet_official_parameter_count_and_layout():
    official = DUNET()
    assert n_params(official) == 11_038_851
    assert n_params(DUNET(decoder="upsample")) == 11_038_851
    assert n_params(DUNET(width=32)) < 11_038_851 / 3
    # the official quirk: 3-block decoder stages open with a stride-2 conv
    strides = [stage[0][0].stride for stage in official.decoder]
    assert strides == [(2, 2), (2, 2), (2, 2), (1, 1)]
    assert all(stage[0][0].stride == (1, 1) for stage in DUNET(decoder="upsample").decoder)
    assert official.encoder[0][0][1].momentum == 0.9


@pytest.mark.parametrize("decoder", ["official", "upsample"])
def test_dunet_residual_and_purify(decoder):
    torch.manual_seed(0)
    d = DUNET(width=8, decoder=decoder).eval()
    x = torch.rand(3, 3, 32, 32)
    with torch.no_grad():
        r = d(x)
        assert r.shape == x.shape
        assert torch.equal(d.purify(x), (x + r).clamp(0, 1))
        assert torch.equal(d.purify(x, clamp=False), x + r)
        assert d(torch.rand(1, 3, 48, 64)).shape == (1, 3, 48, 64)


def test_dunet_decoders_compute_different_functions():
    torch.manual_seed(0)
    a = DUNET(width=8).eval()
    b = DUNET(width=8, decoder="upsample").eval()
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert not torch.allclose(a(x), b(x))


def test_dunet_rejects_bad_inputs():
    d = DUNET(width=8)
    with pytest.raises(ValueError, match="divisible by 16"):
        d(torch.rand(1, 3, 30, 30))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        d(torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="decoder"):
        DUNET(decoder="transpose")
