"""The evaluation driver: error rates of a defended model under attacks x threat models, as JSON lines, resumable.

The evaluation subset is fixed and recorded: the first ``n`` test images. Work is split in shards
of ``shard_size`` images; each finished cell (an attack with its exact parameters, a threat model, a seed, an image
source and a shard's range of images) is one line of the results file, so ``--resume`` skips what is done, a killed
evaluation loses at most one shard, and one file can hold variants of an attack (PGD-10 and PGD-20) side by side.
Gray-box rows name their surrogate in ``params``, transfer rows their source classifier; every row records
``eot``, the number of random draws of the defense each attack gradient averaged (1 for a deterministic target).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

import torch

from ..attacks import Attack, build_attack
from ..code_version import code_commit, machine
from ..data import ImageSet
from ..metrics_log import MetricsLog, read_metrics
from ..models import DefendedClassifier
from ..precision import attack_layout, autocast, resolve_precision, to_attack_layout
from ..progress import progress
from .adversarial_cache import AdversarialCache, weights_fingerprint
from .eot import random_generators, with_eot
from .summary import summarize
from .threat_models import attack_target, judged_model

if TYPE_CHECKING:
    from .surrogate import Surrogate
    from .transfer_source import TransferSource

ATTACKS = ("none", "pgd_n", "pgd_t", "cafa", "ti_dim", "ddn", "cw_l2", "autoattack", "square", "roa", "sta", "sta_t",
           "fwa")
"""The attacks of the paper's tables and of a careful review, in the order they are listed (any registered
attack runs; these are the ones the evaluation is documented and tested with)."""


Cell = tuple[str, str, str, int, str, int, int]


def cell_key(row: dict[str, Any]) -> Cell:
    """What makes two result rows the same measurement: attack, threat model, parameters, seed, images, range."""
    return (row["attack"], row["threat_model"], json.dumps(row["params"], sort_keys=True), row["seed"],
            row.get("images", "test"), row["first_index"], row["n"])


def release_rows(results: Path, release: str) -> list[dict[str, Any]]:
    """The rows of ``release`` already in ``results``."""
    if not results.exists():
        return []
    return [r for r in read_metrics(results) if r.get("release") == release]


def check_same_weights(finished: list[dict[str, Any]], fingerprint: str, release: str) -> None:
    """A resumed row of ``release`` measured on other weights (a retrained run in the same folder) would be summed
    with this run's as one measurement: refuse it. Rows written before fingerprints were recorded pass."""
    other = next((r["weights_fingerprint"] for r in finished
                  if r.get("weights_fingerprint", fingerprint) != fingerprint), None)
    if other is not None:
        raise ValueError(f"the results file holds rows of {release} measured on other weights (fingerprint "
                         f"{other[:12]}, this model's is {fingerprint[:12]}): the model changed since (retrained or "
                         "another file); use another --out, or another --release name")


def check_same_precision(finished: list[dict[str, Any]], planned: set[Cell], precision: str) -> None:
    """Shards of one measurement crafted in bf16 and in fp32 would be summed as one: refuse a resume in another
    precision (``--precision auto`` picks by machine, so a resume on another machine can differ)."""
    variants = {cell[:5] for cell in planned}
    for r in finished:
        if cell_key(r)[:5] in variants and r.get("precision", precision) != precision:
            raise ValueError(f"the results file holds {r['attack']} / {r['threat_model']} shards run in "
                             f"{r['precision']}, this run is {precision}: resume with --precision {r['precision']}, "
                             "or use another --out")


def check_same_shards(finished: set[Cell], planned: set[Cell]) -> None:
    """A resumed results file cut in other shards would count some images twice: refuse it."""
    variants = {cell[:5] for cell in planned}
    ranges = {cell[5:] for cell in planned}
    end = max(start + size for start, size in ranges)
    for cell in finished:
        start, size = cell[5:]
        if cell[:5] in variants and (start, size) not in ranges and start < end:
            raise ValueError(f"the results file already holds {cell[0]} / {cell[1]} on images "
                             f"{start}-{start + size - 1}, a shard this run does not have: resume with the "
                             "--shard-size of that run, or use another --out")


def check_paired(threats: list[str], threat: str, given: object, flag: str, what_it_needs: str) -> None:
    """A threat model that crafts on a model of its own (graybox, transfer) and the flag that supplies it: one without
    the other is refused, with what to pass."""
    if threat in threats and given is None:
        raise ValueError(f"--threat {threat} {what_it_needs}")
    if given is not None and threat not in threats:
        raise ValueError(f"{flag} is used only by --threat {threat}: add {threat} to --threat, or drop it")


def threats_by_target(threats: Iterable[str], model: DefendedClassifier, surrogate: DefendedClassifier | None = None,
                      source: torch.nn.Module | None = None) -> list[tuple[torch.nn.Module, list[str]]]:
    """Threat models grouped by the model the attack runs on, in the order given: ``bare`` and
    ``oblivious`` both attack the bare classifier, so their adversarial examples are crafted once and
    judged twice (the seeds are the same, so the examples would be identical anyway)."""
    groups: list[tuple[torch.nn.Module, list[str]]] = []
    for threat in threats:
        target = attack_target(threat, model, surrogate, source)
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
    cache: AdversarialCache | None = None,
) -> tuple[dict[str, int], dict[str, int]]:
    """Craft ``attack`` on ``target`` for images ``start:end`` of ``sample`` (batch b seeded ``seed_base + b``)
    and count, per judge, the adversarial and (with ``clean``) the clean images it gets wrong. With ``cache`` (for a
    bare classifier as ``target``), a batch crafted before is read instead of crafted again."""
    wrong, clean_wrong = dict.fromkeys(judges, 0), dict.fromkeys(judges, 0)
    layout = attack_layout(precision, device)  # type: ignore[arg-type]
    for b, first in enumerate(range(start, end, batch_size)):
        x, y = sample.batch(slice(first, min(first + batch_size, end)))
        x, y = x.to(device).contiguous(memory_format=layout), y.to(device)
        generator = torch.Generator(device=device).manual_seed(seed_base + b)
        with autocast(precision, device):  # type: ignore[arg-type]
            hit = cache.get(x, y, seed_base + b) if cache is not None else None
            if hit is not None:
                x_adv, measured = hit
                if attack.meter is not None:
                    attack.meter.add_saved(measured)
            else:
                x_adv = attack.run(target, x, y, generator)
                if cache is not None:
                    cache.put(x, y, seed_base + b, x_adv,
                              attack.meter.last_batch() if attack.meter is not None else None)
            with torch.no_grad():
                for name, judge in judges.items():
                    wrong[name] += int((judge(x_adv).argmax(1) != y).sum())
                    if clean:
                        clean_wrong[name] += int((judge(x).argmax(1) != y).sum())
        if on_batch is not None:
            on_batch(len(y))
    return wrong, clean_wrong


def run_evaluation(
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
    surrogate: Surrogate | None = None,
    eot: int = 1,
    images: str = "test",
    cache_dir: str | Path | None = None,
    source: TransferSource | None = None,
) -> list[dict[str, Any]]:
    """Run every (attack, threat) on the first ``n`` images of ``data``; append cells to ``results``; return a summary.
    ``graybox`` crafts on ``surrogate`` (:mod:`cafd_zoo.evaluation.surrogate`), ``transfer`` on ``source``
    (:mod:`cafd_zoo.evaluation.transfer_source`); with ``eot`` > 1 every attack on a
    randomised target follows the mean over ``eot`` draws (:class:`cafd_zoo.evaluation.EOTClassifier`), while the
    clean and final judgements stay one draw, as deployed. ``images`` names the image source in each row
    ("test": a data set's test split; "embedded": the package's sample), so a recorded command can name it too.
    ``cache_dir`` keeps what is crafted on a bare classifier (bare, oblivious, transfer's source) for every later
    evaluation of a defense in front of the same classifier (:mod:`cafd_zoo.evaluation.adversarial_cache`); the rows
    are the same."""
    attacks, threats = list(dict.fromkeys(attacks)), list(dict.fromkeys(threats))  # a name twice: one measurement
    check_paired(threats, "graybox", surrogate, "--surrogate-denoiser",
                 "crafts the attack on a surrogate defense: pass --surrogate-denoiser with a separately trained "
                 "denoiser (a train-denoiser --out folder, its denoiser.safetensors, or a zoo release with a denoiser; "
                 "train one with training/configs/denoiser/*_surrogate.yaml)")
    check_paired(threats, "transfer", source, "--source-classifier",
                 "crafts the attack on another classifier: pass --source-classifier with a zoo classifier release "
                 "(e.g. vgg19_cifar10, the standard model an adversarially trained one replaces)")
    if eot < 1:
        raise ValueError(f"--eot is a number of random draws, at least 1; got {eot}")
    if eot > 1 and not random_generators(model):
        raise ValueError(f"--eot {eot} averages over random draws of the defense, but {release} is deterministic: "
                         "drop --eot (it is for randomised purifiers such as --purifier tvm)")
    results = Path(results)
    earlier = release_rows(results, release)
    if earlier and not resume:
        raise FileExistsError(f"{results} already holds results for {release}: pass --resume to continue, "
                              "or another --out")
    fingerprint = weights_fingerprint(model)
    check_same_weights(earlier, fingerprint, release)
    device = next(model.parameters()).device
    prec = resolve_precision(precision, device)  # type: ignore[arg-type]
    to_attack_layout(model.eval(), prec, device)
    if surrogate is not None:
        to_attack_layout(surrogate.model.eval(), prec, device)
    if source is not None:
        to_attack_layout(source.model.eval(), prec, device)
    sample = data.subset(n)
    finished = {cell_key(r) for r in earlier}
    commit, measured_on = code_commit(), machine(device)
    with MetricsLog(results) as log:
        for attack_name in attacks:
            attack = build_attack(attack_name, eps=eps, steps=steps, seed=seed)
            for target, group in threats_by_target(threats, model, surrogate.model if surrogate else None,
                                                   source.model if source else None):
                judges = {threat: judged_model(threat, model) for threat in group}
                draws = eot if random_generators(target) else 1
                params = {threat: _row_params(attack, draws, threat, surrogate, source) for threat in group}
                cache = None
                bare_target = target is model.classifier or (source is not None and target is source.model)
                if cache_dir is not None and bare_target and draws == 1:
                    cache = AdversarialCache(cache_dir, target, attack_name, attack.params, prec, device,
                                             revision=attack.entry.revision, library=attack.entry.library)
                shards = [(start, min(shard_size, n - start)) for start in range(0, n, shard_size)]
                planned = {_cell(attack_name, t, params[t], seed, images, s, z) for t in group for s, z in shards}
                check_same_shards(finished, planned)
                check_same_precision(earlier, planned, prec)
                bar = progress(n, f"{attack_name} / {'+'.join(group)}")
                for shard, (start, size) in enumerate(shards):
                    todo = [t for t in group
                            if _cell(attack_name, t, params[t], seed, images, start, size) not in finished]
                    if not todo:
                        bar.update(size)
                        continue
                    tick, hits = time.perf_counter(), cache.hits if cache is not None else 0
                    seed_base = seed * 1_000_003 + shard * 1009
                    attacked = with_eot(target, draws, seed=seed_base)  # a shard's draws: not those of earlier shards
                    wrong, clean_wrong = count_errors(attack, attacked, {t: judges[t] for t in todo}, sample, start,
                                                      start + size, batch_size=batch_size, seed_base=seed_base,
                                                      device=device, precision=prec, on_batch=bar.update, cache=cache)
                    seconds = round(time.perf_counter() - tick, 2)
                    found = attack.measured()  # STA: its success rate and flow size; AutoAttack: its stages
                    measured = {"attack_measured": found} if found is not None else {}
                    if cache is not None:  # batches read, not crafted: their seconds are a judgement's only
                        measured["batches_from_cache"] = cache.hits - hits
                    for threat in todo:  # attack_measured describes the attacked model (see summarize)
                        log.log(release=release, attack=attack_name, params=params[threat], threat_model=threat,
                                shard=shard, first_index=start, n=size, errors=wrong[threat],
                                clean_errors=clean_wrong[threat], error_rate=wrong[threat] / size,
                                clean_error=clean_wrong[threat] / size, seed=seed, precision=prec, seconds=seconds,
                                crafted_for=todo, code_commit=commit, machine=measured_on, images=images,
                                weights_fingerprint=fingerprint, **measured)
                bar.close()
    return summarize(results, release, first=n)


def _row_params(attack: Attack, draws: int, threat: str, surrogate: Surrogate | None,
                source: TransferSource | None = None) -> dict[str, Any]:
    params = {**attack.params, "eot": draws}
    if threat == "graybox":
        params["surrogate"] = surrogate.identity  # type: ignore[union-attr]
    if threat == "transfer":
        params["source"] = source.identity  # type: ignore[union-attr]
    return params


def _cell(attack: str, threat: str, params: dict[str, Any], seed: int, images: str, start: int, size: int) -> Cell:
    return cell_key({"attack": attack, "threat_model": threat, "params": params, "seed": seed, "images": images,
                     "first_index": start, "n": size})
