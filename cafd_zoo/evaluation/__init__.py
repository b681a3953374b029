"""How a defense is attacked and measured: the threat models of the paper and the ones a careful reviewer adds
(BPDA, EOT, gray-box), and the evaluation driver behind ``cafd evaluate`` and ``cafd sweep``.

``evaluate(model, images, labels, attacks=[...], threats=[...])`` is the one-call API;
:func:`run_evaluation` and :func:`sweep` write resumable JSON lines, one row per cell or budget point.
"""
from .api import evaluate
from .bpda import BPDADefendedClassifier
from .budget_sweep import format_sweep, pgd_step_size, sweep, sweep_checks, sweep_points
from .driver import ATTACKS, count_errors, run_evaluation
from .eot import EOTClassifier, random_generators, with_eot
from .sanity_checks import format_checks, sanity_checks
from .summary import format_summary, summarize
from .surrogate import Surrogate, release_surrogate, surrogate_for
from .threat_models import THREAT_MODELS, attack_target, judged_model
from .transfer_source import TransferSource, release_source

__all__ = ["ATTACKS", "BPDADefendedClassifier", "EOTClassifier", "Surrogate", "THREAT_MODELS", "TransferSource",
           "attack_target", "count_errors", "evaluate", "format_checks", "format_summary", "format_sweep",
           "judged_model", "pgd_step_size", "random_generators", "release_source", "release_surrogate",
           "run_evaluation", "sanity_checks", "summarize", "surrogate_for", "sweep", "sweep_checks", "sweep_points",
           "with_eot"]
