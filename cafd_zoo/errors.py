"""The zoo's exceptions: each names what went wrong and what to do about it.

All derive from :class:`ZooError`, so ``except cafd_zoo.ZooError`` catches every loading problem.
"""
from __future__ import annotations


class ZooError(Exception):
    """Base class of the zoo's loading errors."""


class UnknownModelError(ZooError, KeyError):
    """A release name that the manifest does not list."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0])


class UnpublishedReleaseError(ZooError):
    """The release is listed but has no trained weights yet."""


class ManifestError(ZooError):
    """The weights manifest is unreadable, fails its schema, or is inconsistent."""


class ManifestVersionError(ManifestError):
    """The manifest was written for a newer cafd-zoo."""


class IntegrityError(ZooError):
    """A weight file whose size or sha256 differs from the manifest's."""


class WeightsUnavailableError(ZooError):
    """A weight file that cannot be obtained: Hub unreachable, HTTP error, offline with an empty cache."""


class IncompatibleWeightsError(ZooError):
    """A weight file whose tensors do not fit the architecture (strict loading failed)."""


class DatasetError(ZooError):
    """A data set folder that is missing, incomplete or damaged."""
