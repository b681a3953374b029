"""evaluate: every cell (attack and its parameters, threat, shard) is one JSON line; --resume redoes only what is
missing."""
from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from training.__main__ import main as training_main
from cafd_zoo.attacks import build_attack, official_targets
from cafd_zoo.metrics_log import read_metrics

from ..tiny_zoo import NAME

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny networks: one thread is fastest


def test_cells_are_json_lines_and_resume_redoes_only_the_missing_one(zoo_env, tmp_path, capsys):
    out = tmp_path / "results.jsonl"
    argv = ["evaluate", "--model", NAME, "--embedded", "--n", "8", "--shard-size", "4", "--batch-size", "4",
            "--attacks", "pgd_n,pgd_t,cafa", "--threat", "oblivious,bpda,whitebox", "--steps", "2",
            "--precision", "fp32", "--out", str(out)]
    assert training_main(argv) == 0
    records = read_metrics(out)
    assert len(records) == 3 * 3 * 2
    first = records[0]
    assert first["release"] == NAME and first["n"] == 4 and 0 <= first["error_rate"] <= 1
    assert first["params"]["eps"] == pytest.approx(8 / 255) and first["params"]["steps"] == 2
    assert "pgd_n" in capsys.readouterr().out
    out.write_text("".join(json.dumps(r) + "\n" for r in records[:-1]))  # lose the last cell, as a kill would
    assert training_main(argv + ["--resume"]) == 0
    again = read_metrics(out)
    assert len(again) == len(records)
    assert again[-1]["error_rate"] == records[-1]["error_rate"]  # seeded: the redone cell is the same
    assert training_main(argv) == 1  # without --resume, existing results are not mixed with new ones


def test_resume_tells_attack_variants_apart_and_refuses_other_shards(zoo_env, tmp_path, capsys):
    # The paper's Table 3 has BPDA PGD-10 and PGD-20 in one file: the second must not be skipped as done.
    out = tmp_path / "table3.jsonl"
    argv = ["evaluate", "--model", NAME, "--embedded", "--n", "8", "--shard-size", "4", "--batch-size", "4",
            "--attacks", "pgd_n", "--threat", "bpda", "--precision", "fp32", "--out", str(out), "--resume"]
    assert training_main(argv + ["--steps", "1"]) == 0
    assert training_main(argv + ["--steps", "2"]) == 0
    assert [r["params"]["steps"] for r in read_metrics(out)] == [1, 1, 2, 2]
    summary = capsys.readouterr().out
    assert summary.count("pgd_n") >= 2  # two summary rows, one per variant
    assert training_main(argv + ["--steps", "2"]) == 0 and len(read_metrics(out)) == 4  # both finished: nothing redone
    assert training_main(argv + ["--steps", "2", "--shard-size", "8"]) == 1  # images 0-7 again, cut otherwise
    assert "--shard-size of that run" in capsys.readouterr().err
    assert len(read_metrics(out)) == 4


def test_a_bare_classifier_run_is_evaluated_without_a_denoiser(classifier_run, tmp_path, capsys):
    base = classifier_run
    assert training_main(base + ["--threat", "bare", "--out", str(tmp_path / "bare.jsonl")]) == 0
    assert read_metrics(tmp_path / "bare.jsonl")[0]["threat_model"] == "bare"
    assert training_main(base + ["--threat", "oblivious", "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "use --threat bare" in capsys.readouterr().err


def test_attack_definitions():
    assert official_targets(torch.tensor([0, 3, 5])).tolist() == [3, 1, 3]
    assert build_attack("cafa").params["steps"] == 100 and build_attack("pgd_n").params["steps"] == 20
    with pytest.raises(ValueError, match="unknown attack"):
        build_attack("fgsm")


def test_autoattack_and_square_are_the_authors_package_with_recorded_settings():
    # (running them is tested in test_attack_libraries.py: AutoAttack standard through a DefendedClassifier)
    aa, square = build_attack("autoattack", eps=4 / 255, seed=3), build_attack("square")
    assert aa.params == {"version": "standard", "norm": "Linf", "eps": 4 / 255, "seed": 3, "package": "pyautoattack"}
    assert square.params["queries"] == 5000 and "gradient masking" in square.params["package"]


def test_bare_and_oblivious_share_one_crafting(zoo_env, tmp_path, monkeypatch):
    import cafd_zoo.evaluation.driver as evaluate_module

    calls = []

    def counting(name, **kwargs):
        attack = build_attack(name, **kwargs)
        fn = attack.entry.fn
        return dataclasses.replace(attack, entry=dataclasses.replace(
            attack.entry, fn=lambda m, x, y, **kw: calls.append(type(m).__name__) or fn(m, x, y, **kw)))

    monkeypatch.setattr(evaluate_module, "build_attack", counting)
    out = tmp_path / "results.jsonl"
    assert training_main(["evaluate", "--model", NAME, "--embedded", "--n", "4", "--batch-size", "4",
                          "--attacks", "pgd_n", "--threat", "bare,oblivious,whitebox", "--steps", "1",
                          "--precision", "fp32", "--out", str(out)]) == 0
    assert calls == ["CifarResNet", "DefendedClassifier"]  # bare+oblivious crafted once, whitebox once
    records = {r["threat_model"]: r for r in read_metrics(out)}
    assert records["bare"]["crafted_for"] == records["oblivious"]["crafted_for"] == ["bare", "oblivious"]
    assert records["whitebox"]["crafted_for"] == ["whitebox"]


def test_a_baseline_purifier_goes_in_front_of_a_classifier_run(classifier_run, tmp_path, capsys):
    base = classifier_run
    assert training_main(base + ["--purifier", "jpeg", "--threat", "bare,oblivious",
                                 "--out", str(tmp_path / "j.jsonl")]) == 0
    records = read_metrics(tmp_path / "j.jsonl")
    assert ({r["release"] for r in records} == {"clf+jpeg"}
            and {r["threat_model"] for r in records} == {"bare", "oblivious"})
    assert training_main(base + ["--purifier", "jpeg", "--denoiser", "x.safetensors", "--threat", "bare",
                                 "--out", str(tmp_path / "x.jsonl")]) == 1
    assert "not both" in capsys.readouterr().err


def test_attack_none_records_the_clean_error_as_a_cell_of_its_own(zoo_env, tmp_path):
    out = tmp_path / "clean.jsonl"
    argv = ["evaluate", "--model", NAME, "--embedded", "--n", "8", "--shard-size", "4", "--batch-size", "4",
            "--attacks", "none", "--threat", "bare,oblivious", "--precision", "fp32", "--out", str(out)]
    assert training_main(argv) == 0
    rows = read_metrics(out)
    assert {(r["threat_model"], r["shard"]) for r in rows} == {(t, s) for t in ("bare", "oblivious") for s in (0, 1)}
    assert all(r["attack"] == "none" and r["errors"] == r["clean_errors"] and r["params"] == {"eot": 1} for r in rows)
