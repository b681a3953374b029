"""Manifest metrics from ``cafd evaluate``'s JSON lines, each with the command that reproduces it: shared by
export-classifier and export-defended, so a number in the manifest is always one the user can make again."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cafd_zoo.evaluation import summarize
from cafd_zoo.evaluation.params import recorded_steps
from cafd_zoo.metrics_log import read_metrics
from cafd_zoo.metrics_table import largest_clean

THREATS = {  # evaluate's threat model -> (manifest threat model, judged model)
    "bare": ("whitebox", "classifier"),
    "oblivious": ("oblivious", "defended"),
    "bpda": ("bpda", "defended"),
    "whitebox": ("whitebox", "defended"),
    "graybox": ("graybox", "defended"),
    "transfer": ("transfer", "defended"),  # judged on the classifier where nothing stands in front of it
}


def evaluate_command(release: str, data_flag: str, row: dict[str, Any], seed: int, precision: str | None) -> str:
    """The ``cafd evaluate`` line that reproduces one summary row of ``release``."""
    params = row["params"]
    parts = ["cafd evaluate --model", release, data_flag, f"--n {row['n']}", f"--attacks {row['attack']}",
             f"--threat {row['threat_model']}", f"--seed {seed}"]
    if "eps" in params and params.get("norm", "Linf") == "Linf":  # FWA's eps is a transport budget, not --eps
        parts.append(f"--eps {round(params['eps'] * 255)}")
    steps = recorded_steps(params)
    if steps is not None:
        parts.append(f"--steps {steps}")
    if params.get("eot", 1) > 1:
        parts.append(f"--eot {params['eot']}")
    if "surrogate" in params:
        parts.append(f"--surrogate-denoiser {params['surrogate']['source']}")
    if "source" in params:
        parts.append(f"--source-classifier {params['source']['source']}")
    if precision:
        parts.append(f"--precision {precision}")
    return " ".join(parts + ["--out results.jsonl"])


def metrics_from_results(results: str | Path, release: str, *, data_flag: str,
                         machine: str | None) -> list[dict[str, Any]]:
    """Manifest metrics from evaluate's JSON lines for ``release``: one per (attack, threat model), plus
    the clean error of the bare classifier and of the defended model, each measured on the most images (``none``,
    the clean images as an attack, is that and no attack metric). Each carries its command and the machine (the
    one evaluate recorded on every row, else ``machine``); rows evaluate recorded
    as computed on the embedded sample get ``--embedded`` in it, the others ``data_flag``."""
    cells = [r for r in read_metrics(results) if r.get("release") == release]
    if not cells:
        raise ValueError(f"{results} holds no results for {release!r}: run `cafd evaluate --model {release} ...` first")
    seeds, commits = {r["seed"] for r in cells}, {r.get("code_commit") for r in cells}
    if len(seeds) > 1:
        raise ValueError(f"{results} mixes seeds {sorted(seeds)} for {release!r}: one evaluation per results file")
    seed = seeds.pop()
    recorded = {r.get("machine") for r in cells}
    if None not in recorded:  # evaluate records where it ran: that wins over a description given after the fact
        machine = "; ".join(sorted(recorded))
    extra: dict[str, Any] = {"machine": machine} if machine else {}
    if len(commits) == 1 and None not in commits:
        extra["code_commit"] = commits.pop()
    metrics, clean = [], {}
    alone = all(r["threat_model"] in ("bare", "transfer") for r in cells)  # a classifier with no defense in front
    for row in summarize(results, release):
        threat, target = THREATS[row["threat_model"]]
        if threat == "transfer" and alone:
            target = "classifier"
        flag = "--embedded" if row["images"] == "embedded" else data_flag
        command = evaluate_command(release, flag, row, seed, row["precision"])
        if row["attack"] != "none":
            metrics.append({"threat_model": threat, "target": target, "attack": row["attack"], "budget": row["params"],
                            "n": row["n"], "seed": seed, "error_rate": round(row["error_rate"], 6),
                            "command": command} | extra)
        if target not in clean or row["n"] > clean[target][0]:
            clean[target] = (row["n"], row["clean_error"], command)
    clean_metrics = [{"threat_model": "clean", "target": target, "attack": "none", "budget": {}, "n": n, "seed": seed,
                      "error_rate": round(error, 6), "command": command} | extra
                     for target, (n, error, command) in sorted(clean.items())]
    return clean_metrics + metrics


def metrics_from_files(results: list[str | Path], release: str, *, data_flag: str,
                       machine: str | None) -> list[dict[str, Any]]:
    """:func:`metrics_from_results` over several results files (Table 1's, Table 3's, the embedded sample's), with
    one clean error per judged model and image source: the one measured on the most images. Each file carries the
    clean error of the cells it holds, so without this a 1,000-image clean row of Table 3 would stand beside the
    10,000-image one of Table 1 as a second, different "clean error"."""
    metrics = [m for file in results for m in metrics_from_results(file, release, data_flag=data_flag, machine=machine)]
    kept = {id(m) for m in largest_clean(metrics).values()}
    return [m for m in metrics if m["threat_model"] != "clean" or id(m) in kept]
