"""Everything that makes and judges weights: export, publish (and, later, training and evaluation)."""
