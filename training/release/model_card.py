"""The README.md of a Hub repository: Hub metadata (with a model-index of measured results) and a card."""
from __future__ import annotations

import json
from typing import Any

DATASET_NAMES = {"cifar10": "CIFAR-10", "svhn": "SVHN"}


def _metric_name(m: dict[str, Any]) -> str:
    """Unique per metric: what was attacked, how, under which threat model and on how many images."""
    target = f"{m['target']}, " if m.get("target") else ""
    if m["threat_model"] == "clean":
        return f"clean ({target}first {m['n']:,} test images)"
    budget = ", ".join(f"{k}={v}" for k, v in m["budget"].items() if k != "eot" or v != 1)
    return f"{m['threat_model']} {m['attack']} ({target}{budget}; first {m['n']:,} test images)"


def render_model_card(name: str, release: dict[str, Any], files: dict[str, dict[str, Any]]) -> str:
    """Markdown with YAML front matter; every number comes from ``release['metrics']``."""
    q = json.dumps  # a JSON string is a valid YAML double-quoted scalar
    ds = release["dataset"]
    lines = ["---", f"license: {release['license'].lower()}", "library_name: cafd-zoo",
             "tags:", "- adversarial-robustness", "- adversarial-purification", "- image-classification", "- cafd",
             f"datasets:\n- {ds}"]
    if release["metrics"]:
        lines += ["model-index:", f"- name: {name}", "  results:", "  - task:", "      type: image-classification",
                  "    dataset:", f"      name: {q(DATASET_NAMES[ds])}", f"      type: {ds}", "      split: test",
                  "    metrics:"]
        for m in release["metrics"]:
            lines += ["    - type: robust_accuracy" if m["threat_model"] != "clean" else "    - type: accuracy",
                      f"      name: {q(_metric_name(m))}", f"      value: {round(100 * (1 - m['error_rate']), 2)}"]
    lines += ["---", "", f"# {name}", "", release["summary"], "",
              "```python", "import torch",
              f'model = torch.hub.load("cafd-zoo/cafd", "{name}")  # or cafd_zoo.load("{name}")', "```", "",
              f"Input: shape (N, {', '.join(map(str, release['input']['size']))}), "
              f"{release['input']['normalization']}. Output: logits.", "", "## Files", "",
              "| role | architecture | arguments | parameters | sha256 |", "|---|---|---|---:|---|"]
    for role, f in files.items():
        lines.append(f"| {role} | {f['architecture']} | `{json.dumps(f['arguments'])}` | {f['num_params']:,} "
                     f"| `{f['sha256']}` |")
    lines += ["", "## Measured results", ""]
    if release["metrics"]:
        lines += ["| threat model | attack | budget | n | error | command |", "|---|---|---|---:|---:|---|"]
        for m in release["metrics"]:
            lines.append(f"| {m['threat_model']} | {m['attack']} | {json.dumps(m['budget'])} | {m['n']} | "
                         f"{100 * m['error_rate']:.2f}% | `{m['command']}` |")
    else:
        lines.append("None yet.")
    lines += ["", "## Provenance", "", f"config `{release['training']['config']}`, code commit "
              f"`{release['training']['code_commit']}`, seed {release['training']['seed']}.", "", "## Deviations", ""]
    for key, title in (("from_paper", "From the paper"), ("from_official_code", "From the official code")):
        items = release["deviations"][key]
        lines.append(f"{title}: " + ("none." if not items else ""))
        lines += [f"- {d}" for d in items]
    lines += ["", "## Citation", "", release["paper"], ""]
    return "\n".join(lines)
