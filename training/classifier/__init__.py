"""Target classifiers (and the AT / DOA baselines): configs, adversarial batches, the trainer, trained weights."""
