"""CAFD zoo: pretrained adversarial-noise removers in the class activation feature space (Zhou et al., ICCV 2021)."""
from .cafa import CAFA, PRESETS as CAFA_PRESETS, CAFAConfig, cafa
from .cam import ClassActivation, ClassActivationFeatures, class_activation_map
from .errors import (
    IncompatibleWeightsError, IntegrityError, ManifestError, ManifestVersionError, UnknownModelError,
    UnpublishedReleaseError, WeightsUnavailableError, ZooError,
)
from .evaluation import evaluate
from .hub import download, list_models, load, model_info
from .input_checks import InvalidInputError, check_image_batch
from .models import DUNET, DefendedClassifier, create_model, list_architectures
from .trained_denoiser import load_denoiser

__version__ = "0.1.0"

__all__ = [
    "CAFA", "CAFAConfig", "CAFA_PRESETS", "ClassActivation", "ClassActivationFeatures", "DUNET",
    "DefendedClassifier", "InvalidInputError", "cafa", "check_image_batch", "class_activation_map",
    "create_model", "list_architectures", "download", "evaluate", "list_models", "load", "load_denoiser", "model_info",
    "IncompatibleWeightsError", "IntegrityError", "ManifestError", "ManifestVersionError", "UnknownModelError",
    "UnpublishedReleaseError", "WeightsUnavailableError", "ZooError",
]
