"""``python -m training evaluate`` and ``sweep``: ``cafd evaluate`` / ``cafd sweep`` on models built from run
folders (a trained classifier, a trained denoiser or a baseline purifier, a surrogate's weights file).

The evaluation itself is :mod:`cafd_zoo.evaluation`'s; this module only builds what it attacks.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from cafd_zoo.data import ImageSet
from cafd_zoo.evaluation import Surrogate, release_surrogate, surrogate_for
from cafd_zoo.evaluation.commands import defend, evaluation_data, evaluation_device, release_model
from cafd_zoo.integrity import sha256_of
from cafd_zoo.models import DefendedClassifier

from ..classifier.trained import classifier_weights
from ..denoiser.initial_weights import load_initial_denoiser

DENOISER_WEIGHTS = "denoiser.safetensors"  # what a finished train-denoiser run folder holds


def load_surrogate(source: str, defended: DefendedClassifier) -> Surrogate:
    """DefendedClassifier(denoiser of ``source``, ``defended``'s classifier). ``source``: a train-denoiser ``--out``
    folder, its ``denoiser.safetensors``, or a zoo release with a denoiser (downloaded and sha256-checked)."""
    path = Path(source)
    if path.is_dir():
        path = path / DENOISER_WEIGHTS
        if not path.is_file():
            raise FileNotFoundError(f"{path} does not exist: --surrogate-denoiser takes a finished train-denoiser "
                                    f"--out folder (it ends with {DENOISER_WEIGHTS}), such a file, or a zoo denoiser "
                                    "release")
    if not path.is_file():
        return release_surrogate(source, defended)
    denoiser = load_initial_denoiser(str(path)).build()
    return surrogate_for(denoiser, defended, {"source": str(source), "sha256": sha256_of(path)})


def defended_from_runs(args: argparse.Namespace,
                       threats: list[str]) -> tuple[DefendedClassifier, str, ImageSet, str]:
    """What evaluate and sweep attack (``--model``, or ``--classifier-run`` with ``--denoiser`` or ``--purifier``),
    its release name, the test data and the data set's name."""
    from cafd_zoo.purifiers import build_purifier

    from ..classifier.config import load_config
    from ..classifier.trained import load_trained_classifier

    if args.model:
        model, release, dataset = release_model(args, threats)
        return model, release, evaluation_data(args, dataset), dataset
    if not (args.classifier_run and args.classifier_config):
        raise ValueError("give --model NAME, or --classifier-run and --classifier-config (plus --denoiser FILE)")
    config = load_config(args.classifier_config)
    classifier = load_trained_classifier(classifier_weights(args.classifier_run), config, evaluation_device(args))
    if args.denoiser and args.purifier:
        raise ValueError("give --denoiser or --purifier, not both")
    if args.denoiser:
        denoiser = load_initial_denoiser(args.denoiser).build()  # DUNET (CAFD, HGD) or APE-G's generator
    else:
        denoiser = build_purifier(args.purifier, seed=args.seed) if args.purifier else None
    model = defend(classifier, denoiser, threats)
    defense = Path(args.denoiser).parent.name if args.denoiser else args.purifier
    release = args.release or Path(args.classifier_run).name + (f"+{defense}" if defense else "")
    data = evaluation_data(args, config.dataset, check_md5=config.check_md5)  # as craft-cafa reads it
    return model, release, data, config.dataset
