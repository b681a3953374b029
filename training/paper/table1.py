"""Markdown tables from evaluation results, laid out like the paper's Table 1 (defenses x attacks)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from cafd_zoo.evaluation import summarize
from cafd_zoo.evaluation.params import attacks_with_several_steps, recorded_steps
from cafd_zoo.metrics_log import read_metrics

from .published import table1_row
from .tables_2_3 import TRAINED, describe, name_has


# Table 1's threat models: its rows are unseen attacks crafted on the standard target model, which for the AT row is
# a transfer to the adversarially trained one
PAPER_SETTINGS = ("oblivious", "transfer")
# Table 1's columns, left to right
PAPER_ORDER = ["ddn", "ti_dim", "pgd_n", "pgd_t", "autoattack", "sta", "sta_t", "fwa"]


def table1(results: str | Path, *, threat: str = "oblivious", attacks: list[str] | None = None,
           paper: bool = False) -> str:
    """Rows: the releases in ``results``; columns: attacks; cells: error rate (%) under ``threat`` (n in the header).
    ``threat`` may list several, comma-separated: each release's row is its first one measured, so Table 1's
    "oblivious,transfer" puts the AT row (crafted on the standard VGG-19, judged on the robust one) beside the
    purifiers' oblivious rows, named with its threat model.
    The clean column is the clean error measured on the most images; attacks default to the paper's column order,
    then any others; an attack measured with several step counts gets a column per count. With ``paper``, each
    release whose defense and data set the paper's Table 1 has is followed by the paper's row (Table 1 is
    oblivious)."""
    releases = sorted({r["release"] for r in read_metrics(results)})
    wanted = threat.split(",")
    measured, used = {}, {}
    for release in releases:
        rows = summarize(results, release)
        used[release] = next((t for t in wanted if any(r["threat_model"] == t for r in rows)), wanted[0])
        measured[release] = [r for r in rows if r["threat_model"] == used[release]]
    several = attacks_with_several_steps(r for found in measured.values() for r in found)
    rows = {release: one_per_cell(found, lambda r: _variant(r, several), f"{results}, {release} / {used[release]}")
            for release, found in measured.items()}
    variants = sorted({(r["attack"], recorded_steps(r["params"]) or 0, key) for cells in rows.values()
                       for key, r in cells.items() if r["attack"] != "none"})
    names = list(dict.fromkeys(attack for attack, _, _ in variants))
    order = attacks or [a for a in PAPER_ORDER if a in names] + sorted(set(names) - set(PAPER_ORDER))
    # each attack's variants, PGD-10 before PGD-20; an attack asked for and not measured is a column of "-"
    attacks = [key for name in order for key in [k for attack, _, k in variants if attack == name] or [name]]
    ns = sorted({cell["n"] for cells in rows.values() for cell in cells.values()})
    budget = linf_budgets([cell for cells in rows.values() for cell in cells.values()])
    budget = "" if budget == "none" else f", L-inf eps {budget}"
    mixed = len(ns) > 1  # then each cell says its n: a 10,000-image cell and a 1,000-image one are not equally sure
    where = "n test images in brackets" if mixed else f"first n = {ns[0] if ns else 0} test images"
    lines = [f"Error rate (%) under the {' / '.join(wanted)} threat model{budget}, {where}",
             "", "| defense | clean | " + " | ".join(attacks) + " |", "|---|---:|" + "---:|" * len(attacks)]

    def rate(value: float, n: int) -> str:  # two decimals, as the paper prints: 10,000 images resolve 0.01 point
        return cell_with_n(value, n) if mixed else f"{100 * value:.2f}"

    for release, cells in rows.items():
        if not cells:
            continue
        largest = max(cells.values(), key=lambda cell: cell["n"])
        values = [rate(cells[a]["error_rate"], cells[a]["n"]) if a in cells else "-" for a in attacks]
        name = release if used[release] == wanted[0] else f"{release} ({used[release]})"
        lines.append(f"| {name} | {rate(largest['clean_error'], largest['n'])} | " + " | ".join(values) + " |")
        _, defense, dataset = describe(release)
        if defense == release:  # no purifier in the name: a robust classifier is its own defense (Table 1's AT, DOA)
            defense = next((label for token, label in TRAINED.items() if name_has(release, token)), defense)
        published = table1_row(dataset, defense) if paper and used[release] in PAPER_SETTINGS else None
        if published:  # the paper's attacks have one budget each: every variant's column gets its value
            values = [f"{published[base]:.2f}" if (base := a.split(",")[0]) in published else "-" for a in attacks]
            lines.append(f"| paper: {defense} ({dataset}) | {published['none']:.2f} | " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


THREAT_COLUMNS = {"bare": "bare classifier", "oblivious": "CAFD, oblivious", "bpda": "CAFD, BPDA",
                  "whitebox": "CAFD, full white-box", "graybox": "CAFD, gray-box",
                  "transfer": "crafted on another classifier"}


def threat_table(results: str | Path, release: str) -> str:
    """One release, attacks x threat models: how much of each attack the defense removes, and what an
    attacker who knows the defense gets back. Cells: error rate (%) on n images."""
    rows = summarize(results, release)
    if not rows:
        raise ValueError(f"{results} holds no results for {release!r}")
    threats = [t for t in THREAT_COLUMNS if any(r["threat_model"] == t for r in rows)]
    several = attacks_with_several_steps(rows)
    cells = one_per_cell(rows, lambda r: (_variant(r, several), r["threat_model"]), f"{results}, {release}")
    first = list(dict.fromkeys(r["attack"] for r in rows if r["attack"] != "none"))  # "none": the clean row
    ordered = sorted((r for r in rows if r["attack"] != "none"),
                     key=lambda r: (first.index(r["attack"]), recorded_steps(r["params"]) or 0))
    attacks = list(dict.fromkeys(_variant(r, several) for r in ordered))  # PGD-10 before PGD-20
    clean = {t: next(r for r in rows if r["threat_model"] == t) for t in threats}
    lines = [f"{release}: error rate (%) by attack (L-inf eps {linf_budgets(rows)}) and threat model; "
             "n test images in brackets", "",
             "| attack | " + " | ".join(THREAT_COLUMNS[t] for t in threats) + " |", "|---|" + "---:|" * len(threats),
             "| none (clean) | " + " | ".join(cell_with_n(clean[t]["clean_error"], clean[t]["n"])
                                              for t in threats) + " |"]
    for attack in attacks:
        lines.append(f"| {attack} | " + " | ".join(
            cell_with_n(cells[(attack, t)]["error_rate"], cells[(attack, t)]["n"]) if (attack, t) in cells else "-"
            for t in threats) + " |")
    return "\n".join(lines) + "\n"


def one_per_cell(rows: list[dict], key: Callable[[dict], Any], where: str) -> dict[Any, dict]:
    """``rows`` by their table cell; two measurements of one cell (two seeds, bf16 and fp32) would leave the table
    showing whichever came last: refuse them."""
    cells: dict[Any, dict] = {}
    for r in rows:
        k = key(r)
        if k in cells:
            first = cells[k]
            raise ValueError(f"{where}: {r['attack']} / {r['threat_model']} is measured more than once (seed "
                             f"{first.get('seed')} in {first.get('precision')}, seed {r.get('seed')} in "
                             f"{r.get('precision')}); a table shows one measurement per cell: keep one in the results "
                             "file, or render each from its own file")
        cells[k] = r
    return cells


def _variant(row: dict, several: set[str]) -> str:
    """The attack's name, with its steps where the results hold it with several (``several``)."""
    return f"{row['attack']}, {recorded_steps(row['params'])} steps" if row["attack"] in several else row["attack"]


def cell_with_n(rate: float, n: int) -> str:
    """An error rate (%) with the number of images it was measured on, for rows whose cells differ in n."""
    return f"{100 * rate:.2f} ({n:,})"


def linf_budgets(rows: list[dict]) -> str:
    """The L-inf eps of ``rows``' attacks, as the tables' headers print them ("8/255"; "none" if no row has one)."""
    budgets = sorted({round(r["params"]["eps"] * 255, 2) for r in rows  # FWA's eps is a transport budget, not L-inf
                      if "eps" in r["params"] and r["params"].get("norm", "Linf") == "Linf"})
    return ", ".join(f"{b:g}/255" for b in budgets) or "none"
