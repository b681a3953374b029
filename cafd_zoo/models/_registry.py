"""Architecture registry: a name -> builder map, filled by ``@register_model`` in each model file.

Kept apart from the weights manifest on purpose (as timm keeps ``_registry`` apart from
``_hub``): an architecture can be built without any weights existing for it.
"""
from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Callable

from torch import nn

_builders: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """Register ``fn`` under its own name; it must build a fresh, randomly initialised module."""
    name = fn.__name__
    if name in _builders:
        raise RuntimeError(f"architecture {name!r} registered twice")
    _builders[name] = fn
    return fn


def list_architectures(pattern: str = "*") -> list[str]:
    """Registered architecture names matching a shell-style ``pattern``, sorted."""
    return sorted(n for n in _builders if fnmatch.fnmatchcase(n, pattern))


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build architecture ``name`` with random weights; ``kwargs`` go to its builder.

    ``"timm:<name>"`` builds any timm classifier behind the zoo's conventions (see timm_classifier.py).
    """
    if name.startswith("timm:"):
        from .timm_classifier import TimmClassifier

        return TimmClassifier(name[len("timm:"):], **kwargs)
    return get_builder(name)(**kwargs)


def is_architecture(name: str) -> bool:
    """A registered name, or ``timm:<a timm model>``."""
    if name.startswith("timm:"):
        import timm

        return timm.is_model(name[len("timm:"):])
    return name in _builders


def get_builder(name: str) -> Callable[..., nn.Module]:
    """The registered builder of ``name``; an unknown name gets close matches in the error."""
    try:
        return _builders[name]
    except KeyError:
        close = difflib.get_close_matches(name, _builders, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise KeyError(
            f"unknown architecture {name!r}.{hint} Known: {', '.join(list_architectures())}"
        ) from None
