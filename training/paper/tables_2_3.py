"""Markdown tables laid out like the paper's Table 2 (target models without and with the defense, under
attacks crafted on the target model) and Table 3 (the defense under adaptive attacks), from one or more
``evaluate`` results files.

A cell sums its shards. A cell no file holds is printed as "—", never filled in from elsewhere. Under each
table: the n, eps and code commits its cells come from, so a reader sees whether the cells are comparable.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any, Collection, Sequence

from cafd_zoo.metrics_log import read_metrics

from .published import same_steps, table2_row, table3_cell

MISSING = "—"
THREAT_LABELS = {"bare": "none (bare classifier)", "oblivious": "oblivious", "bpda": "BPDA",
                 "whitebox": "full white-box", "graybox": "gray-box (surrogate)",
                 "transfer": "transfer (crafted on another classifier)"}
ARCHITECTURES = {"vgg19": "VGG-19", "resnet50": "ResNet-50", "resnet20": "ResNet-20", "wrn28_20": "WRN-28-20",
                 "wrn28_10": "WRN-28-10"}
DEFENSES = {"cafd_prime": "CAFD′", "cafd": "CAFD", "hgd_prime": "HGD′", "hgd": "HGD", "apeg_prime": "APE-G′",
            "apeg": "APE-G", "jpeg_diff": "JPEG (differentiable)", "jpeg": "JPEG", "tvm": "TVM"}
DATASETS = {"cifar10": "CIFAR-10", "svhn": "SVHN"}
TRAINED = {"at": "AT", "doa": "DOA"}  # classifiers trained to be robust: other target models than the plain ones
Key = tuple[str, str, str, tuple]  # (release, attack, threat model, variant: (steps, eps))


def _variant(params: dict[str, Any]) -> tuple:
    return params.get("steps", params.get("max_iterations")), params.get("eps")


def load_cells(paths: Sequence[str | Path], attacks: Collection[str] | None = None) -> dict[Key, dict[str, Any]]:
    """Every (release, attack, threat, variant) cell of evaluate's rows in ``paths``, its shards summed.
    A shard found twice with equal numbers counts once (a file given twice); with other numbers it is an error, and
    so are shards of one cell run with other parameters (another surrogate, step size, ...): they do not add up.
    With ``attacks``, only the cells of those attacks (the ones a table shows) are checked."""
    shards: dict[tuple, dict[str, Any]] = {}
    shown = (lambda attack: True) if attacks is None else (lambda attack: attack in attacks)  # noqa: E731
    for path in paths:
        for r in read_metrics(path):
            if "shard" not in r or "clean_errors" not in r:
                continue  # not an evaluate cell (a sweep point, a log line)
            key = (r["release"], r["attack"], r["threat_model"], json.dumps(r["params"], sort_keys=True), r["shard"])
            if (shown(r["attack"]) and key in shards
                    and (shards[key]["n"], shards[key]["errors"]) != (r["n"], r["errors"])):
                raise ValueError(f"{path} holds shard {r['shard']} of {r['release']} / {r['attack']} / "
                                 f"{r['threat_model']} with other numbers than an earlier file: give each cell once")
            shards[key] = r
    cells: dict[Key, dict[str, Any]] = {}
    for r in shards.values():
        key = (r["release"], r["attack"], r["threat_model"], _variant(r["params"]))
        cell = cells.setdefault(key, {"n": 0, "errors": 0, "clean_errors": 0, "params": r["params"], "commits": set()})
        known, new = _plain(cell["params"]), _plain(r["params"])
        differ = sorted(k for k in {*known, *new} if known.get(k) != new.get(k))
        if differ and shown(r["attack"]):
            raise ValueError(f"the shards of {' / '.join(map(str, key[:3]))} were run with different "
                             f"{', '.join(differ)}: render each run from its own results file")
        cell["n"] += r["n"]
        cell["errors"] += r["errors"]
        cell["clean_errors"] += r["clean_errors"]
        cell["commits"].add(r.get("code_commit"))
    return cells


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    """``params`` without ``eot`` where it is 1 (rows written before evaluate recorded it ran one draw too)."""
    return {k: v for k, v in params.items() if not (k == "eot" and v == 1)}


def describe(release: str, labels: dict[str, tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """(target model, defense, data set) of a release name: ``labels`` first, else the known tokens of the name.
    ``target+defense`` names (what evaluate derives from run folders) split at the "+"."""
    target_part, _, defense_part = release.partition("+")
    if not defense_part:
        target_part = defense_part = release
    dataset = next((label for token, label in DATASETS.items() if name_has(release, token)), "")
    if labels and release in labels:
        return (*labels[release], dataset)
    target = next((label for token, label in ARCHITECTURES.items() if name_has(target_part, token)), target_part)
    target += "".join(f" ({label})" for token, label in TRAINED.items() if name_has(target_part, token))
    defense = next((label for token, label in DEFENSES.items() if name_has(defense_part, token)), defense_part)
    return target, defense, dataset


def _names(cells: dict[Key, dict[str, Any]], labels: dict[str, tuple[str, str]] | None) -> dict[str, tuple[str, str]]:
    """release -> (target model, defense), in order of appearance; the data set joins the target model's name
    where the releases span several."""
    names = {r: describe(r, labels) for r in dict.fromkeys(k[0] for k in cells)}
    several = len({d for _, _, d in names.values()}) > 1
    return {r: (f"{t} ({d})" if several and d else t, defense) for r, (t, defense, d) in names.items()}


def parse_labels(specs: list[str] | None) -> dict[str, tuple[str, str]]:
    """``["cafd_vgg19_cifar10=VGG-19:CAFD", ...]`` -> {release: (target model, defense)}."""
    labels = {}
    for spec in specs or []:
        release, _, names = spec.partition("=")
        target, _, defense = names.partition(":")
        if not (release and target and defense):
            raise ValueError(f"--label takes RELEASE=TARGET:DEFENSE (e.g. cafd_vgg19_cifar10=VGG-19:CAFD), "
                             f"got {spec!r}")
        labels[release] = (target, defense)
    return labels


def name_has(name: str, token: str) -> bool:
    return re.search(rf"(^|[_+]){token}(\d*)($|[_+:])", name) is not None


def table2(paths: Sequence[str | Path], *, attacks: list[str] | None = None,
           labels: dict[str, tuple[str, str]] | None = None, paper: bool = False) -> str:
    """Rows: each target model alone (threat ``bare``), then with each defense (``oblivious``: the same attack,
    crafted on the target model, judged through the defense); columns: clean, then the attacks. With ``paper``,
    each row the paper's Table 2 has is followed by the paper's values."""
    cells = load_cells(paths, attacks)
    columns = attack_columns(cells, ("bare", "oblivious"), attacks)
    rows: dict[str, list[dict[str, Any] | None]] = {}
    published: dict[str, str] = {}  # row name -> the paper's row, rendered
    for release, (target, defense) in _names(cells, labels).items():
        _, _, dataset = describe(release, labels)
        if paper:
            for name, row in ((target, table2_row(dataset, target, None)),
                              (f"{target} + {defense}", table2_row(dataset, target, defense))):
                if row:
                    published[name] = f"| paper: {name} ({dataset}) | {MISSING} | " + _published(row, columns)
        bare = [cells.get((release, a, "bare", v)) for a, v in columns]
        known = rows.get(target, [None] * len(columns))
        if any(k and b and (k["n"], k["errors"]) != (b["n"], b["errors"]) for k, b in zip(known, bare)):
            target = f"{target} ({release})"  # another classifier, or another measurement: a row of its own
            known = [None] * len(columns)
        rows[target] = [k or b for k, b in zip(known, bare)]  # releases sharing a target model share its row
        if any(k[0] == release and k[2] != "bare" for k in cells):  # a defended release, not a bare classifier's
            rows[f"{target} + {defense}"] = [cells.get((release, a, "oblivious", v)) for a, v in columns]
    lines = ["Table 2: error rate (%) of each target model without and with the defense, under attacks crafted on "
             "the target model (oblivious to the defense)", "",
             "| target model | clean | " + " | ".join(column_labels(columns)) + " |",
             "|---|---:|" + "---:|" * len(columns)]
    for name, row in rows.items():
        clean = max((c for c in row if c), key=lambda c: c["n"], default=None)
        lines.append(f"| {name} | {_rate(clean, 'clean_errors')} | " + _joined(row))
        if name in published:
            lines.append(published[name])
    return "\n".join(lines) + "\n\n" + provenance([c for row in rows.values() for c in row if c])


def table3(paths: Sequence[str | Path], *, attacks: list[str] | None = None, threats: list[str] | None = None,
           labels: dict[str, tuple[str, str]] | None = None, paper: bool = False) -> str:
    """Rows: (defense, threat model) for every threat model but ``bare`` (or ``threats``); columns: the attacks
    (an attack run with several step counts or budgets gets a column for each). With ``paper``, each row the
    paper's Table 3 has (VGG-19 on CIFAR-10) is followed by the paper's values."""
    cells = load_cells(paths, attacks)
    threats = threats or [t for t in THREAT_LABELS if t != "bare" and any(k[2] == t for k in cells)]
    unknown = [t for t in threats if t not in THREAT_LABELS]
    if unknown:
        raise ValueError(f"unknown threat model(s) {unknown}; choose from {list(THREAT_LABELS)}")
    columns = attack_columns(cells, tuple(threats), attacks)
    lines = ["Table 3: error rate (%) of each defended model under adaptive attacks", "",
             "| defended model | threat model | " + " | ".join(column_labels(columns)) + " |",
             "|---|---|" + "---:|" * len(columns)]
    shown = []
    for release, (target, defense) in _names(cells, labels).items():
        if not any(k[0] == release and k[2] != "bare" for k in cells):
            continue  # a bare classifier's results: no defense to attack
        for threat in threats:
            row = [cells.get((release, a, threat, v)) for a, v in columns]
            shown += [c for c in row if c]
            lines.append(f"| {defense} + {target} | {THREAT_LABELS[threat]} | " + _joined(row))
            if paper and (target, describe(release, labels)[2]) == ("VGG-19", "CIFAR-10"):
                values = [table3_cell(defense, threat, a, v[0]) for a, v in columns]
                if any(v is not None for v in values):
                    lines.append(f"| paper: {defense} + {target} | {THREAT_LABELS[threat]} | "
                                 + " | ".join(MISSING if v is None else f"{v:.2f}" for v in values) + " |")
    return "\n".join(lines) + "\n\n" + provenance(shown)


def attack_columns(cells: dict[Key, dict[str, Any]], threats: tuple[str, ...],
                   attacks: list[str] | None) -> list[tuple[str, tuple]]:
    """(attack, variant) columns: ``attacks`` in order (each with all its variants), else every attack found."""
    found = list(dict.fromkeys((a, v) for (_, a, t, v) in cells if t in threats))
    order = attacks or list(dict.fromkeys(a for a, _ in found))
    return [(a, v) for a in order for v in sorted({v for b, v in found if b == a}, key=str) or [(None, None)]]


def column_labels(columns: list[tuple[str, tuple]]) -> list[str]:
    """The attack name, plus the steps and/or eps where that attack has several of them in the table."""
    labels = []
    for attack, (steps, eps) in columns:
        mine = [v for a, v in columns if a == attack]
        label = attack
        if len({s for s, _ in mine}) > 1:
            label += f", {steps} steps"
        if len({e for _, e in mine}) > 1:
            label += f", eps {_eps(eps)}"
        labels.append(label)
    return labels


def _published(row: dict[str, float], columns: list[tuple[str, tuple]]) -> str:
    """The paper's values under our columns; a column run with other PGD steps than the paper's gets none."""
    def value(attack: str, steps: int | None) -> str:
        return f"{row[attack]:.2f}" if same_steps(attack, steps) and attack in row else MISSING
    return " | ".join(value(a, v[0]) for a, v in columns) + " |"


def _joined(row: list[dict[str, Any] | None]) -> str:
    return " | ".join(_rate(c, "errors") for c in row) + " |"


def _rate(cell: dict[str, Any] | None, field: str) -> str:
    return MISSING if cell is None else f"{100 * cell[field] / cell['n']:.2f}"


def _eps(eps: float | None) -> str:
    return "none" if eps is None else f"{round(eps * 255, 2):g}/255"


def _budget(params: dict[str, Any]) -> str:
    """A cell's L-inf eps, or what bounds the attack instead (minimum-norm L2, a flow penalty, a transport budget)."""
    norm = params.get("norm", "Linf")  # CAFA records eps without a norm: it is L-inf
    if norm == "Linf" and "eps" in params:
        return _eps(params["eps"])
    if norm == "Linf":  # the clean row (attack "none") has no budget
        return "none (clean)"
    if norm == "L2":
        return "none (minimum-norm L2)"
    return norm + (f", eps {params['eps']:g}" if "eps" in params else "")  # e.g. FWA's transport budget


def provenance(cells: list[dict[str, Any]]) -> str:
    """Where the cells come from: their n, their L-inf budgets and the code commits, each with its count of cells."""
    if not cells:
        return "no results for this table\n"
    ns = Counter(c["n"] for c in cells)
    budgets = Counter(_budget(c["params"]) for c in cells)
    commits = Counter(_commit(commit) for c in cells for commit in c["commits"])
    total = len(cells)
    lines = [f"n (the first n test images): {_counted(ns, total, lambda n: f'{n:,}')}",
             f"eps (L-inf budget): {_counted(budgets, total)}", f"code commit: {_counted(commits, total)}"]
    surrogates = Counter(f"{s['source']} (sha256 {s['sha256'][:12]})" for c in cells
                         if isinstance(s := c["params"].get("surrogate"), dict))
    if surrogates:
        lines.append(f"gray-box surrogate: {_counted(surrogates, total)}")
    draws = Counter(c["params"]["eot"] for c in cells if c["params"].get("eot", 1) > 1)
    if draws:
        lines.append(f"EOT draws per attack gradient, where above 1: {_counted(draws, total)}")
    return "  \n".join(lines) + "\n"


def _counted(counts: Counter, total: int, fmt=str) -> str:
    if len(counts) == 1 and next(iter(counts.values())) == total:
        return f"{fmt(next(iter(counts)))} (every cell)"
    # in order of appearance
    return ", ".join(f"{fmt(value)} ({count} cell{'s' if count > 1 else ''})" for value, count in counts.items())


def _commit(commit: str | None) -> str:
    if not commit:
        return "unknown"
    return commit[:7] + ("-dirty" if commit.endswith("-dirty") else "")
