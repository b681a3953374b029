"""A resumed results file is one measurement only if every shard was made the same way: same weights, same
precision; a summary keeps apart what was not (two seeds, bf16 and fp32), and a name given twice is measured once."""
from __future__ import annotations

import copy
import json

import pytest
import torch

import cafd_zoo
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.evaluation import run_evaluation
from cafd_zoo.evaluation.sanity_checks import sanity_checks
from cafd_zoo.evaluation.summary import summarize
from cafd_zoo.metrics_log import read_metrics

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def model():
    return cafd_zoo.load("cafd_resnet20_cifar10")


def _run(model, results, n=4, **kwargs):
    options = {"attacks": ["none"], "threats": ["oblivious"], "shard_size": 4, "batch_size": 4, "precision": "fp32",
               "resume": True} | kwargs
    return run_evaluation(model, "m", embedded_cifar10_sample(), results, n=n, **options)


def test_every_row_records_the_fingerprint_of_the_weights_it_measured(model, tmp_path):
    _run(model, tmp_path / "r.jsonl")
    fingerprints = {r["weights_fingerprint"] for r in read_metrics(tmp_path / "r.jsonl")}
    assert len(fingerprints) == 1 and len(fingerprints.pop()) == 64


def test_a_resume_on_other_weights_is_refused_and_adds_nothing(model, tmp_path):
    results = tmp_path / "r.jsonl"
    _run(model, results)
    retrained = copy.deepcopy(model)
    with torch.no_grad():
        next(retrained.denoiser.parameters()).add_(1e-3)
    with pytest.raises(ValueError, match="rows of m measured on other weights .*use another --out"):
        _run(retrained, results, n=8)
    assert len(read_metrics(results)) == 1


def test_rows_written_before_fingerprints_were_recorded_still_resume(model, tmp_path):
    results = tmp_path / "r.jsonl"
    _run(model, results)
    old = [{k: v for k, v in r.items() if k != "weights_fingerprint"} for r in read_metrics(results)]
    results.write_text("".join(json.dumps(r) + "\n" for r in old))
    assert _run(model, results, n=8)[0]["n"] == 8


def test_a_resume_in_another_precision_is_refused(model, tmp_path):
    results = tmp_path / "r.jsonl"
    _run(model, results)
    with pytest.raises(ValueError, match="shards run in fp32, this run is bf16: resume with --precision fp32"):
        _run(model, results, n=8, precision="bf16")
    assert len(read_metrics(results)) == 1


def test_the_summary_keeps_two_seeds_and_two_precisions_apart(model, tmp_path):
    results = tmp_path / "r.jsonl"
    _run(model, results, seed=0)
    _run(model, results, seed=1)
    rows = summarize(results, "m")
    assert sorted((r["seed"], r["n"]) for r in rows) == [(0, 4), (1, 4)]  # not one row of n = 8
    first = read_metrics(results)[0]
    with results.open("a") as f:  # the same cell in bf16, as another machine's --precision auto would run it
        f.write(json.dumps(first | {"precision": "bf16"}) + "\n")
    assert sorted((r["seed"], r["precision"], r["n"]) for r in summarize(results, "m")) == [
        (0, "bf16", 4), (0, "fp32", 4), (1, "fp32", 4)]


def test_a_threat_model_or_attack_named_twice_is_measured_once(model, tmp_path):
    rows = _run(model, tmp_path / "r.jsonl", attacks=["none", "none"], threats=["oblivious", "oblivious"])
    assert [(r["attack"], r["n"]) for r in rows] == [("none", 4)]
    assert len(read_metrics(tmp_path / "r.jsonl")) == 1


def _row(attack, threat, error_rate, eps=8 / 255, images="test"):
    return {"attack": attack, "threat_model": threat, "params": {"eps": eps, "steps": 20, "eot": 1},
            "images": images, "n": 100, "error_rate": error_rate, "clean_error": 0.1}


def test_pgd_is_checked_against_autoattack_at_the_same_eps_on_the_same_images():
    rows = [_row("pgd_n", "bare", 0.50), _row("autoattack", "bare", 0.55),
            _row("autoattack", "bare", 0.99, eps=16 / 255), _row("autoattack", "bare", 0.95, images="embedded")]
    masking = [c for c in sanity_checks(rows) if c["check"].startswith("bare: PGD within")]
    assert [(c["passed"], c["detail"]) for c in masking] == [(True, "PGD 50.00%, AutoAttack 55.00%")]


def test_bpda_far_above_white_box_is_flagged():
    rows = [_row("pgd_n", "whitebox", 0.30), _row("pgd_n", "bpda", 0.60)]
    bpda = [c for c in sanity_checks(rows) if "BPDA at most" in c["check"]]
    assert [(c["passed"], c["detail"]) for c in bpda] == [(False, "bpda 60.00%, white-box 30.00%")]


def test_a_run_summarises_the_images_it_covered_not_the_whole_file(model, tmp_path):
    results = tmp_path / "r.jsonl"
    _run(model, results, n=8)
    assert [r["n"] for r in _run(model, results, n=4)] == [4]  # the file holds 8: this run asked for 4
    assert [r["n"] for r in summarize(results, "m")] == [8]


def test_a_transfer_row_is_not_held_to_the_checks_of_an_attack_on_the_judged_model():
    """Crafted on another classifier, a perturbation may fix as many mistakes as it makes, and PGD may transfer
    worse than AutoAttack: neither says anything of the judged model's gradients."""
    rows = [dict(_row("pgd_n", "transfer", 0.05), clean_error=0.1), _row("autoattack", "transfer", 0.50),
            dict(_row("pgd_n", "bare", 0.05), clean_error=0.1)]
    checks = sanity_checks(rows)
    assert [c["check"] for c in checks] == ["pgd_n/bare: attack error >= clean error"]
