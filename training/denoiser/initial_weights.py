"""Where a fine-tuning run starts: a released denoiser (by zoo name, through the verified loader) or the
``denoiser.safetensors`` of an earlier train-denoiser run; the package's reader, under the trainer's name."""
from __future__ import annotations

from cafd_zoo.trained_denoiser import TrainedDenoiser, read_denoiser as load_initial_denoiser

__all__ = ["TrainedDenoiser", "load_initial_denoiser"]
