"""Architectures of the zoo: classifiers, the DUNET denoiser, and the DefendedClassifier wrapper."""
from ._registry import create_model, is_architecture, list_architectures, register_model
from .ape_gan import APEDiscriminator, APEGenerator, ape_gan_discriminator, ape_gan_generator
from .defended import DefendedClassifier
from .denoiser import DUNET, dunet, purify
from .discriminator import VGGDiscriminator, vgg_discriminator
from .normalization import CIFAR10_MEAN, CIFAR10_STD, Normalize
from .resnet import CifarResNet, resnet20, resnet50, resnet50_cafd_official
from .vgg import VGG, vgg19
from .wide_resnet import WideResNet, wrn28_10, wrn28_20

__all__ = [
    "APEDiscriminator", "APEGenerator", "CIFAR10_MEAN", "CIFAR10_STD", "CifarResNet", "DUNET", "DefendedClassifier",
    "Normalize", "VGG", "VGGDiscriminator", "WideResNet", "ape_gan_discriminator", "ape_gan_generator", "create_model",
    "dunet", "is_architecture", "list_architectures", "purify", "register_model", "resnet20", "resnet50",
    "resnet50_cafd_official", "vgg19", "vgg_discriminator", "wrn28_10", "wrn28_20",
]
