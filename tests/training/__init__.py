"""Tests of the training tree (python -m training and its subpackages); they need a checkout."""
