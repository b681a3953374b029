"""Reading a denoiser YAML: a CAFD config, or (with a ``method`` key) a baseline's, which subclasses it.

Apart from both config classes so that neither imports the other.
"""
from __future__ import annotations

from pathlib import Path

import yaml

from ..classifier.config import load_config
from .baseline_config import BaselineDenoiserConfig
from .config import DenoiserConfig


def load_denoiser_config(path: str | Path) -> DenoiserConfig:
    """Read a denoiser YAML; unknown keys and bad values are errors that name the file. A YAML with a
    ``method`` key (hgd, ape_g) is a baseline's and reads into BaselineDenoiserConfig."""
    try:
        return load_config(path, _config_class(path))
    except ValueError as exc:
        if str(path) in str(exc):
            raise
        raise ValueError(f"{path}: {exc}") from exc


def _config_class(path: str | Path) -> type[DenoiserConfig]:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError):
        return DenoiserConfig  # load_config reports the error
    if isinstance(raw, dict) and "method" in raw:
        return BaselineDenoiserConfig
    return DenoiserConfig
