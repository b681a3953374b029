"""torch.hub entrypoints of the CAFD zoo: one function per release of weights_manifest.json.

    model = torch.hub.load("cafd-zoo/cafd", "cafd_vgg19_cifar10")

Each returns a model in eval mode taking float RGB in [0, 1] (N, 3, 32, 32) and returning logits
(a denoiser returns its residual). Weights come from the Hugging Face Hub (or ``HF_ENDPOINT``)
and are checked against the manifest's sha256 on every load. Keyword arguments go to
``cafd_zoo.load`` (``revision``, ``cache_dir``, ``local_files_only``, ``weights_dir``, ``device``).
"""
from cafd_zoo.hub import load as _load
from cafd_zoo.hubconf_docs import document as _document

dependencies = ["torch", "torchvision", "safetensors", "huggingface_hub", "timm", "jsonschema"]

# Each docstring's first line is the release's manifest summary, verbatim and on one line (hubconf_docs appends
# the rest; tests/package/test_manifest.py checks the summary is in it): long ones are split into adjacent
# string literals, which Python joins into the same one-line docstring.


@_document
def apeg_vgg19_cifar10(pretrained: bool = True, **kwargs):
    ("The APE-G baseline (Jin et al., ICASSP 2019): the APE-GAN generator, trained against its discriminator on "
     "non-targeted CW-L2 examples of a VGG-19, in front of that VGG-19 CIFAR-10 classifier.")
    return _load("apeg_vgg19_cifar10", pretrained=pretrained, **kwargs)


@_document
def at_vgg19_cifar10(pretrained: bool = True, **kwargs):
    ("VGG-19 adversarially trained on CIFAR-10 at eps 8/255 (fast adversarial training: FGSM with a random start), "
     "the AT baseline of the paper's Table 1.")
    return _load("at_vgg19_cifar10", pretrained=pretrained, **kwargs)


@_document
def cafd_denoiser_cifar10(pretrained: bool = True, **kwargs):
    ("The CAFD DUNET denoiser alone, trained in the class activation feature space of a VGG-19 on CIFAR-10; for "
     "fine-tuning.")
    return _load("cafd_denoiser_cifar10", pretrained=pretrained, **kwargs)


@_document
def cafd_denoiser_svhn(pretrained: bool = True, **kwargs):
    ("The CAFD DUNET denoiser alone, trained in the class activation feature space of a VGG-19 on SVHN (cropped "
     "digits); for fine-tuning.")
    return _load("cafd_denoiser_svhn", pretrained=pretrained, **kwargs)


@_document
def cafd_resnet20_cifar10(pretrained: bool = True, **kwargs):
    ("The compact embedded release: a slim CAFD DUNET (width 16) trained in the class activation feature space of "
     "a CIFAR ResNet-20, in front of that ResNet-20; small enough to ship inside the package.")
    return _load("cafd_resnet20_cifar10", pretrained=pretrained, **kwargs)


@_document
def cafd_resnet50_cifar10(pretrained: bool = True, **kwargs):
    ("CAFD: the DUNET denoiser trained in the class activation feature space of a VGG-19, in front of a ResNet-50 "
     "CIFAR-10 classifier.")
    return _load("cafd_resnet50_cifar10", pretrained=pretrained, **kwargs)


@_document
def cafd_resnet50_cifar10_ft(pretrained: bool = True, **kwargs):
    ("CAFD's released denoiser (cafd_denoiser_cifar10) fine-tuned in the class activation feature space of a "
     "ResNet-50, in front of it.")
    return _load("cafd_resnet50_cifar10_ft", pretrained=pretrained, **kwargs)


@_document
def cafd_resnet50_svhn(pretrained: bool = True, **kwargs):
    ("CAFD: the DUNET denoiser trained in the class activation feature space of a VGG-19, in front of a ResNet-50 "
     "SVHN (cropped digits) classifier.")
    return _load("cafd_resnet50_svhn", pretrained=pretrained, **kwargs)


@_document
def cafd_vgg19_cifar10(pretrained: bool = True, **kwargs):
    ("CAFD: the DUNET denoiser trained in the class activation feature space of a VGG-19, in front of a VGG-19 "
     "CIFAR-10 classifier.")
    return _load("cafd_vgg19_cifar10", pretrained=pretrained, **kwargs)


@_document
def cafd_vgg19_svhn(pretrained: bool = True, **kwargs):
    ("CAFD: the DUNET denoiser trained in the class activation feature space of a VGG-19, in front of a VGG-19 "
     "SVHN (cropped digits) classifier.")
    return _load("cafd_vgg19_svhn", pretrained=pretrained, **kwargs)


@_document
def cafd_wrn28_20_cifar10(pretrained: bool = True, **kwargs):
    ("CAFD: the DUNET denoiser trained in the class activation feature space of a VGG-19, in front of a "
     "WideResNet-28-20 CIFAR-10 classifier.")
    return _load("cafd_wrn28_20_cifar10", pretrained=pretrained, **kwargs)


@_document
def cafd_wrn28_20_svhn(pretrained: bool = True, **kwargs):
    ("CAFD: the DUNET denoiser trained in the class activation feature space of a VGG-19, in front of a "
     "WideResNet-28-20 SVHN (cropped digits) classifier.")
    return _load("cafd_wrn28_20_svhn", pretrained=pretrained, **kwargs)


@_document
def doa_vgg19_cifar10(pretrained: bool = True, **kwargs):
    ("The DOA baseline: a VGG-19 CIFAR-10 classifier trained on rectangular occlusion attacks (Wu, Tong and "
     "Vorobeychik, ICLR 2020; 7x7 gray patch placed by exhaustive search, then optimised inside), with no "
     "purifier.")
    return _load("doa_vgg19_cifar10", pretrained=pretrained, **kwargs)


@_document
def hgd_vgg19_cifar10(pretrained: bool = True, **kwargs):
    ("The HGD baseline (Liao et al., CVPR 2018): a DUNET with HGD's decoder trained with the logit-guided loss "
     "(LGD) of a frozen VGG-19 on non-targeted CW-L2 examples, in front of that VGG-19 CIFAR-10 classifier.")
    return _load("hgd_vgg19_cifar10", pretrained=pretrained, **kwargs)


@_document
def resnet20_cifar10(pretrained: bool = True, **kwargs):
    ("The compact CIFAR-10 ResNet-20 (0.27M parameters, stored in fp16) that ships inside the package: the "
     "classifier of the compact release.")
    return _load("resnet20_cifar10", pretrained=pretrained, **kwargs)


@_document
def resnet50_cifar10(pretrained: bool = True, **kwargs):
    """The bare ResNet-50 CIFAR-10 classifier (no defense): the target model of the paper."""
    return _load("resnet50_cifar10", pretrained=pretrained, **kwargs)


@_document
def resnet50_svhn(pretrained: bool = True, **kwargs):
    """The bare ResNet-50 SVHN (cropped digits) classifier (no defense): the target model of the paper."""
    return _load("resnet50_svhn", pretrained=pretrained, **kwargs)


@_document
def vgg19_cifar10(pretrained: bool = True, **kwargs):
    """The bare VGG-19 CIFAR-10 classifier (no defense): the target model of the paper."""
    return _load("vgg19_cifar10", pretrained=pretrained, **kwargs)


@_document
def vgg19_svhn(pretrained: bool = True, **kwargs):
    """The bare VGG-19 SVHN (cropped digits) classifier (no defense): the target model of the paper."""
    return _load("vgg19_svhn", pretrained=pretrained, **kwargs)


@_document
def wrn28_20_cifar10(pretrained: bool = True, **kwargs):
    """The bare WideResNet-28-20 CIFAR-10 classifier (no defense): the target model of the paper."""
    return _load("wrn28_20_cifar10", pretrained=pretrained, **kwargs)


@_document
def wrn28_20_svhn(pretrained: bool = True, **kwargs):
    """The bare WideResNet-28-20 SVHN (cropped digits) classifier (no defense): the target model of the paper."""
    return _load("wrn28_20_svhn", pretrained=pretrained, **kwargs)
