"""evaluate: error rates of a defended model under attacks x threat models, as JSON lines, resumable.

The evaluation subset is fixed and recorded: the first ``n`` test images. Work is split in shards
of ``shard_size`` images; each finished (attack, threat model, shard) cell is one line of the
results file, so ``--resume`` skips what is done and a killed evaluation loses at most one shard.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterable

import torch

from cafd_zoo.data import ImageSet
from cafd_zoo.evaluation import attack_target, judged_model
from cafd_zoo.models import DefendedClassifier
from cafd_zoo.precision import autocast, resolve_precision

from .code_version import code_commit
from .eval_attacks import Attack, build_attack
from .metrics_log import MetricsLog, read_metrics
from .progress import progress


def done_cells(results: Path, release: str) -> set[tuple[str, str, int]]:
    if not results.exists():
        return set()
    return {(r["attack"], r["threat_model"], r["shard"]) for r in read_metrics(results) if r.get("release") == release}


def threats_by_target(threats: Iterable[str], model: DefendedClassifier) -> list[tuple[torch.nn.Module, list[str]]]:
    """Threat models grouped by the model the attack runs on, in the order given: ``bare`` and
    ``oblivious`` both attack the bare classifier, so their adversarial examples are crafted once and
    judged twice (the seeds are the same, so the examples would be identical anyway)."""
    groups: list[tuple[torch.nn.Module, list[str]]] = []
    for threat in threats:
        target = attack_target(threat, model)
        for known, group in groups:
            if known is target:
                group.append(threat)
                break
        else:
            groups.append((target, [threat]))
    return groups


def count_errors(
    attack: Attack,
    target: torch.nn.Module,
    judges: dict[str, torch.nn.Module],
    sample: ImageSet,
    start: int,
    end: int,
    *,
    batch_size: int,
    seed_base: int,
    device: torch.device,
    precision: str,
    clean: bool = True,
    on_batch: Callable[[int], object] | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Craft ``attack`` on ``target`` for images ``start:end`` of ``sample`` (batch b seeded ``seed_base + b``)
    and count, per judge, the adversarial and (with ``clean``) the clean images it gets wrong."""
    wrong, clean_wrong = dict.fromkeys(judges, 0), dict.fromkeys(judges, 0)
    for b, first in enumerate(range(start, end, batch_size)):
        x, y = sample.batch(slice(first, min(first + batch_size, end)))
        x, y = x.to(device), y.to(device)
        generator = torch.Generator(device=device).manual_seed(seed_base + b)
        with autocast(precision, device):  # type: ignore[arg-type]
            x_adv = attack.run(target, x, y, generator)
            with torch.no_grad():
                for name, judge in judges.items():
                    wrong[name] += int((judge(x_adv).argmax(1) != y).sum())
                    if clean:
                        clean_wrong[name] += int((judge(x).argmax(1) != y).sum())
        if on_batch is not None:
            on_batch(len(y))
    return wrong, clean_wrong


def evaluate(
    model: DefendedClassifier,
    release: str,
    data: ImageSet,
    results: str | Path,
    *,
    attacks: Iterable[str],
    threats: Iterable[str],
    n: int,
    shard_size: int = 500,
    batch_size: int = 250,
    eps: float = 8 / 255,
    steps: int | None = None,
    seed: int = 0,
    precision: str = "auto",
    resume: bool = False,
) -> list[dict[str, Any]]:
    """Run every (attack, threat) on the first ``n`` images of ``data``; append cells to ``results``; return a summary."""
    results = Path(results)
    if results.exists() and not resume and done_cells(results, release):
        raise FileExistsError(f"{results} already holds results for {release}: pass --resume to continue, or another --out")
    model.eval()
    device = next(model.parameters()).device
    prec = resolve_precision(precision, device)  # type: ignore[arg-type]
    sample = data.subset(n)
    finished = done_cells(results, release) if resume else set()
    commit = code_commit()
    with MetricsLog(results) as log:
        for attack_name in attacks:
            attack = build_attack(attack_name, eps=eps, steps=steps, seed=seed)
            for target, group in threats_by_target(threats, model):
                judges = {threat: judged_model(threat, model) for threat in group}
                bar = progress(n, f"{attack_name} / {'+'.join(group)}")
                for shard, start in enumerate(range(0, n, shard_size)):
                    size = min(shard_size, n - start)
                    todo = [threat for threat in group if (attack_name, threat, shard) not in finished]
                    if not todo:
                        bar.update(size)
                        continue
                    tick = time.perf_counter()
                    wrong, clean_wrong = count_errors(attack, target, {t: judges[t] for t in todo}, sample, start, start + size,
                                                      batch_size=batch_size, seed_base=seed * 1_000_003 + shard * 1009,
                                                      device=device, precision=prec, on_batch=bar.update)
                    seconds = round(time.perf_counter() - tick, 2)
                    for threat in todo:
                        log.log(release=release, attack=attack_name, params=attack.params, threat_model=threat, shard=shard,
                                first_index=start, n=size, errors=wrong[threat], clean_errors=clean_wrong[threat],
                                error_rate=wrong[threat] / size, clean_error=clean_wrong[threat] / size, seed=seed,
                                precision=prec, seconds=seconds, crafted_for=todo, code_commit=commit)
                bar.close()
    return summarize(results, release)


def summarize(results: str | Path, release: str) -> list[dict[str, Any]]:
    """One row per (attack, threat): errors over all shards of ``release`` in ``results``."""
    cells: dict[tuple[str, str], dict[str, Any]] = {}
    for r in read_metrics(results):
        if r.get("release") != release:
            continue
        row = cells.setdefault((r["attack"], r["threat_model"]), {"attack": r["attack"], "threat_model": r["threat_model"],
                                                                    "params": r["params"], "n": 0, "errors": 0, "clean_errors": 0, "seconds": 0.0})
        row["n"] += r["n"]
        row["errors"] += r["errors"]
        row["clean_errors"] += r["clean_errors"]
        row["seconds"] += r["seconds"]
    for row in cells.values():
        row["error_rate"] = row["errors"] / row["n"]
        row["clean_error"] = row["clean_errors"] / row["n"]
    return list(cells.values())


def format_summary(rows: list[dict[str, Any]], release: str) -> str:
    """The summary table, then the sanity checks."""
    from .eval_sanity import format_checks, sanity_checks

    return _table(rows, release) + "\n\nsanity checks:\n" + format_checks(sanity_checks(rows))


def _table(rows: list[dict[str, Any]], release: str) -> str:
    lines = [f"{release}: error rates (L-inf, first n test images)", "",
             f"{'attack':<12}{'threat model':<14}{'n':>7}{'clean error':>13}{'attack error':>14}{'seconds':>10}"]
    for r in rows:
        lines.append(f"{r['attack']:<12}{r['threat_model']:<14}{r['n']:>7}{100 * r['clean_error']:>12.2f}%"
                     f"{100 * r['error_rate']:>13.2f}%{r['seconds']:>10.1f}")
    return "\n".join(lines)
