"""The epoch loop every resumable trainer shares: sample order, progress, logging cadence, checkpoints,
and a clean stop on SIGINT/SIGTERM. A trainer supplies what one batch does and what an epoch's
end does; this file owns when things happen, so every trainer resumes the same way."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from cafd_zoo.metrics_log import MetricsLog
from cafd_zoo.progress import progress

from .checkpoint import load_checkpoint, restore_training_state
from .distributed import World
from .resumable_order import ResumableSampler, batches
from .stop_signal import StopOnSignal


@dataclass
class Counters:
    """Where a run is: what a checkpoint records besides the states (``done_in_epoch`` counts this rank's samples)."""

    epoch: int = 0
    step: int = 0
    done_in_epoch: int = 0


def start_or_resume(
    checkpoint_path: Path, resume: bool, identity: dict[str, Any], components: Mapping[str, Any]
) -> tuple[Counters, float]:
    """Where a run starts: fresh (refusing to overwrite a checkpoint) or, with ``resume``, from the
    checkpoint, after checking it was written by a run with the same ``identity`` (config, inputs).
    Returns the counters and the wall seconds already spent."""
    if not resume:
        if checkpoint_path.exists():
            raise FileExistsError(f"{checkpoint_path} exists: pass --resume to continue that run, "
                                  "or choose another --out")
        return Counters(), 0.0
    state = load_checkpoint(checkpoint_path)
    if state is None:
        raise FileNotFoundError(f"--resume: no checkpoint at {checkpoint_path}; start without --resume")
    saved = {key: state["extras"].get(key) for key in identity}
    if saved != identity and not _more_epochs_of_the_same_run(saved, identity, checkpoint_path):
        changed = sorted(k for k in identity if saved[k] != identity[k])
        raise ValueError(f"--resume: {checkpoint_path} was written with another {' / '.join(changed)}; "
                         "use a new --out folder")
    restore_training_state(state, components)
    return Counters(state["epoch"], state["step"], state["samples_in_epoch"]), state["extras"].get("wall_seconds", 0.0)


def _more_epochs_of_the_same_run(saved: dict[str, Any], identity: dict[str, Any], checkpoint_path: Path) -> bool:
    """A run resumed with only ``epochs`` raised, under a schedule that is a function of the epoch alone (multistep):
    the longer run is the same run continued (the rate and sample order of every step so far are unchanged), so a
    finished run can be trained on. A schedule shaped by the run's length (onecycle, cosine) would have had other
    rates: that is refused, as any other change."""
    old, new = saved.get("config"), identity.get("config")
    if not (isinstance(old, dict) and isinstance(new, dict)) or {**old, "epochs": None} != {**new, "epochs": None}:
        return False
    if any(saved[k] != identity[k] for k in identity if k != "config") or new["epochs"] <= old["epochs"]:
        return False
    if new.get("schedule", {}).get("kind", "multistep") != "multistep":
        raise ValueError(f"--resume: {checkpoint_path} ran {old['epochs']} epochs of a {new['schedule']['kind']} "
                         "schedule, whose rates depend on the run's length: more epochs would not continue it; "
                         "use a new --out")
    print(f"extending the run in {checkpoint_path.parent} from {old['epochs']} to {new['epochs']} epochs")
    return True


def run_epochs(
    world: World,
    sampler: ResumableSampler,
    counters: Counters,
    *,
    epochs: int,
    batch_size: int,
    train_batch: Callable[[list[int], int], Callable[[], dict[str, float]]],
    checkpoint: Callable[[], None],
    log: MetricsLog | None,
    log_every: int,
    checkpoint_every: int,
    begin_epoch: Callable[[], None] = lambda: None,
    end_epoch: Callable[[], None] = lambda: None,
    stop_after_steps: int | None = None,
) -> bool:
    """Train from ``counters`` to the end of ``epochs``; returns False when stopped early.

    ``train_batch(indices, step)`` takes one optimizer step and returns a function that gives the
    values to log (called only on logging steps, so other steps never wait for the device).
    ``checkpoint()`` runs every ``checkpoint_every`` steps, after every ``end_epoch()``, on a signal
    and at ``stop_after_steps`` (which stops as a kill would, for tests).
    """
    with StopOnSignal() as stop:
        while counters.epoch < epochs:
            sampler.set_epoch(counters.epoch)
            sampler.skip(counters.done_in_epoch)
            begin_epoch()
            bar = progress(sampler.samples_per_epoch, f"epoch {counters.epoch + 1}/{epochs}",
                           initial=counters.done_in_epoch) if world.is_main else None
            tick, seen = time.perf_counter(), 0
            for indices in batches(list(sampler), batch_size):
                summary = train_batch(indices, counters.step)
                counters.step += 1
                counters.done_in_epoch += len(indices)
                seen += len(indices)
                if bar is not None:
                    bar.update(len(indices))
                if log is not None and counters.step % log_every == 0:
                    values = summary()
                    rate = seen * world.size / (time.perf_counter() - tick)
                    log.log(step=counters.step, epoch=counters.epoch, **values, images_per_s=round(rate, 1))
                    if bar is not None:
                        bar.set_postfix({k: f"{values[k]:.4g}" for k in ("loss", "lr") if k in values})
                stopping = stop.requested or counters.step == stop_after_steps
                if counters.step % checkpoint_every == 0 or stopping:
                    checkpoint()
                if stopping:
                    if bar is not None:
                        bar.close()
                    return False
            if bar is not None:
                bar.close()
            counters.epoch, counters.done_in_epoch = counters.epoch + 1, 0
            end_epoch()
            checkpoint()
    return True
