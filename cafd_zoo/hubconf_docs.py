"""Completes each hubconf entrypoint's docstring from the manifest, so ``torch.hub.help`` never drifts."""
from __future__ import annotations

from typing import Any, Callable

from .manifest import load_manifest


_STATUS_NOTES = {
    "unpublished": " pretrained=True raises UnpublishedReleaseError until weights exist.",
    "stored": " The weights are in the repository's release store (hub/), not on the Hugging Face Hub: "
              "load from a clone (torch.hub.load(CLONE, NAME, source='local')), or set CAFD_RELEASE_STORE.",
}


def _metric_line(m: dict[str, Any]) -> str:
    budget = ", ".join(f"{k}={v}" for k, v in m["budget"].items())
    target = f" on the {m['target']}" if "target" in m else ""
    return (f"      {m['threat_model']:<10} {m['attack']:<10} error {100 * m['error_rate']:5.1f}%{target} "
            f"({budget}; n={m['n']}, seed={m['seed']})")


def describe(name: str) -> str:
    """The docstring text after the summary: input convention, status, measured metrics, arguments."""
    manifest = load_manifest()
    if name not in manifest.releases:  # a private manifest ($CAFD_MANIFEST) may list fewer releases
        return f"\n    Not listed in the manifest in use ({manifest.path}): loading it raises UnknownModelError."
    info = manifest.info(name)
    lines = [
        "",
        f"    Dataset: {info['dataset']}. Input: float RGB in {info['input']['range']}, shape (N, "
        f"{', '.join(map(str, info['input']['size']))}); {info['input']['normalization']}.",
        f"    Status: {info['status']}." + _STATUS_NOTES.get(info["status"], ""),
        "    Components: " + ", ".join(f"{role} = {f['architecture']} ({f['num_params']:,} parameters)"
                                       for role, f in info["files"].items()) + ".",
    ]
    if info["metrics"]:
        lines.append("    Measured (see the manifest for each command):")
        lines += [_metric_line(m) for m in info["metrics"]]
    else:
        lines.append("    Measured: nothing yet.")
    lines += [
        "",
        "    Args:",
        "        pretrained: load the released, sha256-verified weights (False: random weights, no download).",
        ("        **kwargs: passed to cafd_zoo.load (revision, cache_dir, local_files_only, weights_dir, "
         "release_store, device)."),
    ]
    return "\n".join(lines)


def document(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Append the manifest's description of ``fn``'s release to its docstring (``torch.hub.help``)."""
    fn.__doc__ = (fn.__doc__ or "").rstrip() + "\n" + describe(fn.__name__)
    return fn
