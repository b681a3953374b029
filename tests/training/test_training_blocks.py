"""The blocks that let a long training job be killed at any moment and resume with nothing lost and
nothing done twice: sample order, checkpoints, stop signals, metrics log, progress bar."""
from __future__ import annotations

import json
import os
import random
import runpy
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DistributedSampler

from training.engine.checkpoint import (
    CheckpointError, capture_rng_state, load_checkpoint, previous_path, restore_rng_state, restore_training_state,
    save_checkpoint, training_state,
)
from cafd_zoo.metrics_log import MetricsLog, read_metrics
from cafd_zoo.progress import progress
from training.engine.resumable_order import ResumableSampler, batches, epoch_order, shard_size
from training.engine.stop_signal import StopOnSignal

REPO = Path(__file__).resolve().parents[2]


# --- sample order ---------------------------------------------------------------------------------

def test_order_is_a_pure_function_of_its_inputs():
    a = epoch_order(100, seed=3, epoch=2, world_size=2, rank=1)
    assert a == epoch_order(100, seed=3, epoch=2, world_size=2, rank=1)
    assert a != epoch_order(100, seed=3, epoch=3, world_size=2, rank=1)
    assert a != epoch_order(100, seed=4, epoch=2, world_size=2, rank=1)
    assert sorted(epoch_order(100, seed=3, epoch=2)) == list(range(100))
    assert epoch_order(10, seed=3, epoch=2, shuffle=False) == list(range(10))


@pytest.mark.parametrize("world_size", [1, 2, 4, 8])
def test_ranks_cover_every_index_once_when_divisible(world_size):
    shards = [epoch_order(64, 7, 1, world_size=world_size, rank=r) for r in range(world_size)]
    assert {len(s) for s in shards} == {64 // world_size}
    assert sorted(i for s in shards for i in s) == list(range(64))


@pytest.mark.parametrize("length, world_size", [(10, 3), (10, 4), (2, 5), (61, 8)])
def test_uneven_split_pads_by_wrapping_or_drops_the_tail(length, world_size):
    full = epoch_order(length, 7, 1)
    padded = [epoch_order(length, 7, 1, world_size=world_size, rank=r) for r in range(world_size)]
    per_rank = -(-length // world_size)
    assert all(len(s) == per_rank for s in padded)
    counts = Counter(i for s in padded for i in s)
    assert set(counts) == set(range(length))
    wrapped = (full * world_size)[:per_rank * world_size]  # the first ones again, in permutation order
    assert counts == Counter(wrapped)
    dropped = [epoch_order(length, 7, 1, world_size=world_size, rank=r, drop_last=True) for r in range(world_size)]
    assert all(len(s) == length // world_size for s in dropped)
    flat = [i for s in dropped for i in s]
    assert len(set(flat)) == len(flat) and Counter(flat) == Counter(full[:len(flat)])


@pytest.mark.parametrize("length, world_size, drop_last",
                         [(10, 3, False), (10, 3, True), (2, 5, False), (64, 4, False)])
def test_sharding_matches_distributed_sampler(length, world_size, drop_last):
    for rank in range(world_size):
        theirs = DistributedSampler(range(length), num_replicas=world_size, rank=rank, shuffle=False,
                                    drop_last=drop_last)
        ours = ResumableSampler(length, 0, shuffle=False, world_size=world_size, rank=rank, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == shard_size(length, world_size, drop_last=drop_last)


def test_skip_yields_exactly_the_rest_of_the_epoch():
    sampler = ResumableSampler(30, seed=1, world_size=2, rank=1)
    sampler.set_epoch(4)
    whole = list(sampler)
    for n in (0, 1, 8, 14, 15):
        sampler.skip(n)
        assert list(sampler) == whole[n:] and len(sampler) == 15 - n
    sampler.set_epoch(4)  # a new epoch starts from its beginning
    assert list(sampler) == whole
    with pytest.raises(ValueError):
        sampler.skip(16)


def test_batches():
    assert list(batches(range(10), 4)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert list(batches(range(10), 4, drop_last=True)) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert list(batches([], 4)) == []


# --- a tiny training loop, killed and resumed -----------------------------------------------------

N, BATCH, EPOCHS = 64, 8, 3  # 8 steps an epoch, 24 in all


class Killed(Exception):
    """Stands for SIGKILL, a power cut or an exception at the worst moment."""


def train(ckpt: Path, *, kill_at: tuple[str, int] | None = None, committed: list | None = None):
    """Checkpoints after every step and every epoch end; raises Killed at ``kill_at``."""
    g = torch.Generator().manual_seed(0)
    inputs, labels = torch.randn(N, 4, generator=g), torch.randint(0, 3, (N,), generator=g)
    torch.manual_seed(1)
    random.seed(1)
    model = nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)  # stepped at each epoch end
    parts = {"model": model, "optimizer": opt, "scheduler": sched}
    sampler = ResumableSampler(N, seed=5)
    epoch = step = consumed = 0
    state = load_checkpoint(ckpt)
    if state is not None:
        restore_training_state(state, parts)
        epoch, step, consumed = state["epoch"], state["step"], state["samples_in_epoch"]

    def save():
        save_checkpoint(ckpt, training_state(parts, epoch=epoch, step=step, samples_in_epoch=consumed))

    def maybe_kill(where, n):
        if kill_at == (where, n):
            raise Killed(f"{where} {n}")

    while epoch < EPOCHS:
        sampler.set_epoch(epoch)
        sampler.skip(consumed)
        for idx in batches(list(sampler), BATCH):
            x = inputs[idx] + 0.1 * torch.randn(len(idx), 4)  # draws from torch's global RNG
            loss = random.uniform(0.5, 1.5) * F.cross_entropy(model(x), labels[idx])  # and from Python's
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            consumed += len(idx)
            maybe_kill("before_save", step)  # this step is lost and must be taken again
            save()
            if committed is not None:
                committed.append((epoch, idx))
            maybe_kill("after_save", step)
        sched.step()
        epoch += 1
        consumed = 0
        maybe_kill("epoch_end", epoch)
        save()
    return load_checkpoint(ckpt)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    committed: list = []
    return train(tmp_path_factory.mktemp("reference") / "ckpt.pt", committed=committed), committed


# Resumed right at an epoch's end, the scheduler steps before this process's optimizer ever did:
# PyTorch warns about the order, wrongly here (the optimizer's steps are in the checkpoint).
@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler.step\\(\\)` before `optimizer.step\\(\\)`")
@pytest.mark.parametrize("kills", [
    [("after_save", 1)],
    [("before_save", 5)],  # mid-epoch, the step taken but not saved
    [("after_save", 8)],  # last step of an epoch, its end not reached
    [("before_save", 8)],
    [("epoch_end", 1)],  # scheduler stepped, epoch end not saved
    [("before_save", 13), ("after_save", 13)],  # killed twice at the same step
    [("after_save", 3), ("epoch_end", 2), ("before_save", 20)],
    [("after_save", 24)],  # the very last step
])
def test_killed_run_resumes_bit_identical(tmp_path, uninterrupted, kills):
    reference, reference_committed = uninterrupted
    ckpt, committed = tmp_path / "ckpt.pt", []
    for kill in kills:
        with pytest.raises(Killed):
            train(ckpt, kill_at=kill, committed=committed)
    final = train(ckpt, committed=committed)

    assert final["step"] == reference["step"] == EPOCHS * N // BATCH
    assert final["epoch"] == EPOCHS
    for name in ("model", "optimizer", "scheduler"):
        assert_same(final["components"][name], reference["components"][name])
    assert torch.equal(final["rng"]["torch"], reference["rng"]["torch"])
    assert committed == reference_committed  # the same batches, in the same order
    for epoch in range(EPOCHS):
        seen = [i for e, idx in committed if e == epoch for i in idx]
        assert sorted(seen) == list(range(N)), f"epoch {epoch}: each sample exactly once"


def assert_same(a, b):
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b) and a.dtype == b.dtype
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    else:
        assert a == b


# --- checkpoints ----------------------------------------------------------------------------------

def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    generator = torch.Generator().manual_seed(9)
    state = capture_rng_state({"augment": generator})
    draws = (torch.rand(3), random.random(), np.random.rand(), torch.rand(2, generator=generator))
    save_checkpoint(tmp_path / "rng.pt", {"rng": state})
    restore_rng_state(load_checkpoint(tmp_path / "rng.pt")["rng"], {"augment": generator})
    again = (torch.rand(3), random.random(), np.random.rand(), torch.rand(2, generator=generator))
    assert torch.equal(draws[0], again[0]) and draws[1] == again[1] and draws[2] == again[2]
    assert torch.equal(draws[3], again[3])


@pytest.mark.parametrize("make_scheduler", [
    lambda opt: torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10),
    lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10),
    lambda opt: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.9 ** s),
])
def test_adam_scheduler_and_grad_scaler_survive_weights_only_loading(tmp_path, make_scheduler):
    def build():
        torch.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        return {"model": model, "optimizer": opt, "scheduler": make_scheduler(opt),
                "scaler": torch.amp.GradScaler("cpu", init_scale=256.0)}
    parts = build()
    for _ in range(3):
        parts["scaler"].scale(parts["model"](torch.randn(4, 3)).sum()).backward()
        parts["scaler"].step(parts["optimizer"])
        parts["scaler"].update()
        parts["scheduler"].step()
    assert parts["optimizer"].state_dict()["state"], "the optimizer has state to restore"
    state = training_state(parts, epoch=1, step=3, samples_in_epoch=12, extras={"best": 0.5})
    save_checkpoint(tmp_path / "c.pt", state)
    state = load_checkpoint(tmp_path / "c.pt")
    fresh = build()
    restore_training_state(state, fresh)
    for name in parts:
        assert_same(fresh[name].state_dict(), parts[name].state_dict())
    assert (state["epoch"], state["step"], state["samples_in_epoch"], state["extras"]) == (1, 3, 12, {"best": 0.5})


def test_save_refuses_what_weights_only_loading_would_refuse(tmp_path):
    with pytest.raises(TypeError, match=r"\['lr'\].*numpy"):
        save_checkpoint(tmp_path / "c.pt", {"components": {"lr": np.float64(0.1)}})
    with pytest.raises(TypeError, match="function"):
        save_checkpoint(tmp_path / "c.pt", {"hook": lambda: None})
    with pytest.raises(TypeError, match="JSON"):
        training_state({}, epoch=0, step=0, samples_in_epoch=0, extras={"when": object()})
    assert not (tmp_path / "c.pt").exists()


def test_a_crash_during_save_leaves_the_old_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"step": 1, "w": torch.arange(1000)})
    real_save = torch.save

    def dies_half_way(obj, f, *args, **kwargs):
        real_save(obj, f)
        f.seek(0)
        f.truncate(f.tell() // 2 or 10)
        raise OSError("No space left on device")

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, {"step": 2, "w": torch.arange(1000) * 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["step"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pt"]  # no partial file left behind


def test_a_save_killed_hard_leaves_only_a_stale_partial_that_is_ignored(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, {"step": 1})
    (tmp_path / ".ckpt.pt.partial").write_bytes(b"PK\x03\x04 half a zip")  # what SIGKILL mid-write leaves
    assert load_checkpoint(path)["step"] == 1
    save_checkpoint(path, {"step": 2})
    assert load_checkpoint(path)["step"] == 2 and load_checkpoint(previous_path(path))["step"] == 1
    assert not (tmp_path / ".ckpt.pt.partial").exists()


def test_missing_checkpoint_is_none_and_damaged_one_is_a_clear_error(tmp_path):
    path = tmp_path / "ckpt.pt"
    assert load_checkpoint(path) is None
    save_checkpoint(path, {"step": 1, "w": torch.zeros(100)})
    with pytest.raises(CheckpointError, match="delete") as excinfo:
        (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
        load_checkpoint(tmp_path / "junk.pt")
    assert str(tmp_path / "junk.pt") in str(excinfo.value)
    save_checkpoint(path, {"step": 2, "w": torch.ones(100)})
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])  # cut short
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(path)
    message = str(excinfo.value)
    assert str(path) in message and f"mv {previous_path(path)} {path}" in message
    os.replace(previous_path(path), path)  # the remedy the message gives works
    assert load_checkpoint(path)["step"] == 1


# --- stop signals ---------------------------------------------------------------------------------

def wait_for(condition, seconds=2.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.001)
    return condition()


def test_sigterm_sets_the_flag_and_old_handlers_come_back():
    before = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    with StopOnSignal() as stop:
        assert not stop.requested
        os.kill(os.getpid(), signal.SIGTERM)
        assert wait_for(lambda: stop.requested)
        assert stop.received == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # a repeated SIGTERM changes nothing
        time.sleep(0.01)
    assert {s: signal.getsignal(s) for s in before} == before


def test_second_ctrl_c_forces_quit_and_handlers_are_still_restored():
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    try:
        with pytest.raises(KeyboardInterrupt):
            with StopOnSignal() as stop:
                os.kill(os.getpid(), signal.SIGINT)
                assert wait_for(lambda: stop.requested)
                os.kill(os.getpid(), signal.SIGINT)
                wait_for(lambda: False, 2.0)
        os.kill(os.getpid(), signal.SIGTERM)  # back to the handler installed before
        assert wait_for(lambda: calls == [signal.SIGTERM])
    finally:
        signal.signal(signal.SIGTERM, previous)


# --- metrics log ----------------------------------------------------------------------------------

def test_metrics_log_survives_a_kill_mid_line_and_keeps_appending(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        log.log(step=1, loss=torch.tensor(0.5))
        log.log(step=2, loss=0.25)
    with open(path, "ab") as f:
        f.write(b'{"time": 1.0, "step": 3, "lo')  # the kill
    records = read_metrics(path)
    assert [r["step"] for r in records] == [1, 2] and records[0]["loss"] == 0.5
    assert all(isinstance(r["time"], float) and abs(r["time"] - time.time()) < 60 for r in records)
    with MetricsLog(path) as log:
        log.log(step=3, loss=0.125)
    assert [r["step"] for r in read_metrics(path)] == [1, 2, 3]
    assert all(json.loads(line) for line in path.read_text().splitlines())  # the fragment is gone


def test_metrics_log_drops_steps_beyond_the_checkpoint_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    with MetricsLog(path) as log:
        for step in range(1, 8):
            log.log(step=step)
        log.log(event="eval", accuracy=0.9)  # records without a step are kept
    with MetricsLog(path, resume_step=5) as log:
        log.log(step=6)
    assert [r.get("step") for r in read_metrics(path)] == [1, 2, 3, 4, 5, None, 6]


def test_a_damaged_line_before_the_last_is_an_error(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"step": 1}\n{"step": \n{"step": 3}\n')
    with pytest.raises(ValueError, match=":2 "):
        read_metrics(path)


# --- progress -------------------------------------------------------------------------------------

def test_progress_is_silent_off_a_terminal_unless_forced(monkeypatch, capsys):
    monkeypatch.delenv("CAFD_PROGRESS", raising=False)
    with progress(100, "train") as bar:
        bar.update(50)
        bar.set_postfix(loss=1.0)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("CAFD_PROGRESS", "1")
    with progress(100, "train", initial=20) as bar:
        bar.update(80)
    assert "train" in capsys.readouterr().err


# --- a real process, stopped by SIGTERM and run again ---------------------------------------------

TINY_TRAIN = r'''
import random, sys, time
from pathlib import Path
import torch
import torch.nn.functional as F
from torch import nn
from training.engine.checkpoint import load_checkpoint, restore_training_state, save_checkpoint, training_state
from cafd_zoo.metrics_log import MetricsLog
from training.engine.resumable_order import ResumableSampler, batches
from training.engine.stop_signal import StopOnSignal

out, delay = Path(sys.argv[1]), float(sys.argv[2])
g = torch.Generator().manual_seed(0)
inputs, labels = torch.randn(64, 4, generator=g), torch.randint(0, 3, (64,), generator=g)
torch.manual_seed(1)
random.seed(1)
model = nn.Linear(4, 3)
opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
parts = {"model": model, "optimizer": opt}
sampler = ResumableSampler(64, seed=5)
epoch = step = consumed = 0
state = load_checkpoint(out / "ckpt.pt")
if state is not None:
    restore_training_state(state, parts)
    epoch, step, consumed = state["epoch"], state["step"], state["samples_in_epoch"]
log = MetricsLog(out / "metrics.jsonl", resume_step=step)

def save():
    save_checkpoint(out / "ckpt.pt", training_state(parts, epoch=epoch, step=step, samples_in_epoch=consumed))

with StopOnSignal() as stop:
    while epoch < 3:
        sampler.set_epoch(epoch)
        sampler.skip(consumed)
        for idx in batches(list(sampler), 8):
            x = inputs[idx] + 0.1 * torch.randn(len(idx), 4)
            loss = random.uniform(0.5, 1.5) * F.cross_entropy(model(x), labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            consumed += len(idx)
            log.log(step=step, epoch=epoch, loss=loss, indices=idx)
            if step % 5 == 0:
                save()
            print(f"step {step}", flush=True)
            time.sleep(delay)
            if stop.requested:
                save()
                print("stopped", flush=True)
                sys.exit(0)
        epoch += 1
        consumed = 0
save()
torch.save(model.state_dict(), out / "final.pt")
print("done", flush=True)
'''


def test_a_process_stopped_by_sigterm_resumes_to_the_same_parameters(tmp_path, monkeypatch):
    script = tmp_path / "tiny_train.py"
    script.write_text(TINY_TRAIN)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    reference_dir, run_dir = tmp_path / "reference", tmp_path / "run"
    reference_dir.mkdir()
    run_dir.mkdir()

    run = subprocess.Popen([sys.executable, str(script), str(run_dir), "0.05"], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        # the uninterrupted reference runs here, in this process, while the other one starts up
        monkeypatch.setattr(sys, "argv", [str(script), str(reference_dir), "0"])
        runpy.run_path(str(script), run_name="__main__")
        for line in run.stdout:
            if line.startswith("step ") and int(line.split()[1]) >= 4:
                run.send_signal(signal.SIGTERM)
                break
        out, err = run.communicate(timeout=60)
        assert run.returncode == 0 and "stopped" in out, err
        assert "SIGTERM received" in err
        stopped_at = load_checkpoint(run_dir / "ckpt.pt")["step"]
        assert 4 <= stopped_at < 24 and not (run_dir / "final.pt").exists()

        resumed = subprocess.run([sys.executable, str(script), str(run_dir), "0"], env=env, text=True,
                                 capture_output=True, timeout=60)
        assert resumed.returncode == 0 and "done" in resumed.stdout, resumed.stderr
        assert resumed.stdout.split()[:2] == ["step", str(stopped_at + 1)]
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()

    ours = torch.load(run_dir / "final.pt", weights_only=True)
    theirs = torch.load(reference_dir / "final.pt", weights_only=True)
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    logged = read_metrics(run_dir / "metrics.jsonl")
    assert [r["step"] for r in logged] == list(range(1, 25))  # each step logged once
    assert [r["loss"] for r in logged] == [r["loss"] for r in read_metrics(reference_dir / "metrics.jsonl")]
