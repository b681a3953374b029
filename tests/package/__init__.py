"""Tests of the installable package: they import cafd_zoo (and tests/ helpers) only, so they run against a wheel."""
