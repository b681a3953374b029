"""Evaluation of models built from run folders; the driver itself is ``cafd_zoo.evaluation``."""
