"""How a defense is attacked: the threat models of the paper and the ones a careful reviewer adds."""
from .bpda import BPDADefendedClassifier
from .eot import EOTClassifier, random_generators, with_eot
from .threat_models import THREAT_MODELS, attack_target, judged_model

__all__ = ["BPDADefendedClassifier", "EOTClassifier", "THREAT_MODELS", "attack_target", "judged_model",
           "random_generators", "with_eot"]
