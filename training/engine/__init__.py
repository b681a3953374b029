"""The resumable run shared by every trainer: epoch loop, checkpoints, sample order, stop signal, torchrun."""
