"""Architecture registry: a name -> builder map, filled by ``@register_model`` in each model file.

Kept apart from the weights manifest on purpose (as timm keeps ``_registry`` apart from
``_hub``): an architecture can be built without any weights existing for it.
"""
from __future__ import annotations

import difflib
import fnmatch
from typing import Any, Callable

from torch import nn

Builder = Callable[..., nn.Module]
TASKS = ("classifier", "denoiser", "discriminator")
_builders: dict[str, Builder] = {}
_tasks: dict[str, str] = {}


def register_model(fn: Builder | None = None, *, task: str = "classifier") -> Any:
    """Register ``fn`` under its own name; it must build a fresh, randomly initialised module.

    Use bare (``@register_model``, a classifier) or with the model's task (``@register_model(task="denoiser")``),
    so that a classifier config naming a denoiser fails at once, with the classifiers listed.
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}: one of {', '.join(TASKS)}")

    def register(builder: Builder) -> Builder:
        name = builder.__name__
        if name in _builders:
            raise RuntimeError(f"architecture {name!r} registered twice")
        _builders[name] = builder
        _tasks[name] = task
        return builder

    return register if fn is None else register(fn)


def list_architectures(pattern: str = "*", task: str | None = None) -> list[str]:
    """Registered architecture names matching a shell-style ``pattern`` (and ``task``, if given), sorted."""
    return sorted(n for n in _builders if fnmatch.fnmatchcase(n, pattern) and task in (None, _tasks[n]))


def architecture_task(name: str) -> str:
    """What ``name`` builds: "classifier" (every ``timm:`` model), "denoiser" or "discriminator"."""
    return "classifier" if name.startswith("timm:") else _tasks[get_builder(name).__name__]


def create_model(name: str, **kwargs: Any) -> nn.Module:
    """Build architecture ``name`` with random weights; ``kwargs`` go to its builder.

    ``"timm:<name>"`` builds any timm classifier behind the zoo's conventions (see timm_classifier.py).
    """
    if name.startswith("timm:"):
        from .timm_classifier import TimmClassifier

        return TimmClassifier(name[len("timm:"):], **kwargs)
    return get_builder(name)(**kwargs)


def is_architecture(name: str, task: str | None = None) -> bool:
    """A registered name, or ``timm:<a timm model>`` (a classifier); of ``task``, if given."""
    if name.startswith("timm:"):
        import timm

        return task in (None, "classifier") and timm.is_model(name[len("timm:"):])
    return name in _builders and task in (None, _tasks[name])


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
