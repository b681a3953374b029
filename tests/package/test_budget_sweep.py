"""sweep: error against eps and steps, and the gradient-masking checks that read it."""
from __future__ import annotations

import pytest

from cafd_zoo.cli import main as cafd_main
from cafd_zoo.evaluation import pgd_step_size, sweep, sweep_checks, sweep_points
from cafd_zoo.metrics_log import read_metrics

from ..tiny_zoo import NAME, build_tiny_zoo


def row(eps, steps, error):
    return {"eps": eps / 255, "steps": steps, "error_rate": error, "n": 100, "seconds": 1.0}


def test_points_and_step_size():
    assert sweep_points([2 / 255, 8 / 255], [5, 20], 8 / 255, 20) == [(2 / 255, 20), (8 / 255, 20), (8 / 255, 5)]
    assert pgd_step_size(8 / 255, 20) == pytest.approx(2 / 255) and pgd_step_size(1.0, 20) == pytest.approx(0.125)


def test_checks_flag_what_gradient_masking_looks_like():
    healthy = [row(2, 20, 0.3), row(8, 20, 0.8), row(255, 20, 1.0), row(8, 5, 0.6), row(8, 50, 0.85)]
    assert all(c["passed"] for c in sweep_checks(healthy, 8 / 255, 20))
    masked = [row(2, 20, 0.3), row(8, 20, 0.25), row(255, 20, 0.6), row(8, 5, 0.6), row(8, 50, 0.4)]
    failed = {c["check"] for c in sweep_checks(masked, 8 / 255, 20) if not c["passed"]}
    assert failed == {"error does not fall as eps grows", "error does not fall as steps grows",
                      "an unbounded budget (eps = 255/255) reaches at least 99% error"}


def test_a_sweep_runs_end_to_end_and_a_rerun_skips_finished_points(tmp_path, monkeypatch, capsys):
    zoo = build_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    out = tmp_path / "sweep.jsonl"
    argv = ["sweep", "--model", NAME, "--embedded", "--n", "4", "--batch-size", "4", "--eps", "2,255", "--steps", "1,3",
            "--base-steps", "3", "--precision", "fp32", "--out", str(out)]
    assert cafd_main(argv) == 0
    printed = capsys.readouterr().out
    assert "gradient-masking checks" in printed and "255/255" in printed
    points = {(round(r["eps"] * 255), r["steps"]) for r in read_metrics(out)}
    assert points == {(2, 3), (255, 3), (8, 1), (8, 3)}  # the eps series at 3 steps, the steps series at 8/255
    assert cafd_main(argv) == 0
    assert len(read_metrics(out)) == 4  # nothing recomputed
    assert {r["images"] for r in read_metrics(out)} == {"embedded"}
    assert cafd_main(argv + ["--seed", "1"]) == 0
    assert len(read_metrics(out)) == 8  # another seed is another measurement, not a finished one


@pytest.mark.parametrize("attack", ["ddn", "sta", "fwa", "roa"])
def test_a_sweep_refuses_attacks_without_an_linf_eps(attack, tmp_path):
    with pytest.raises(ValueError, match="sweep varies an L-inf eps"):
        sweep(None, "r", None, tmp_path / "s.jsonl", attack=attack, threats=["bare"], points=[(8 / 255, 5)], n=1)


def test_bare_and_oblivious_share_one_crafting_per_point(tmp_path, monkeypatch):
    """Both attack the bare classifier with the same seeds: crafting twice would only double the cost."""
    import cafd_zoo.evaluation.budget_sweep as budget_sweep

    zoo = build_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    judged = []
    real = budget_sweep.count_errors
    monkeypatch.setattr(budget_sweep, "count_errors", lambda *a, **k: judged.append(sorted(a[2])) or real(*a, **k))
    out = tmp_path / "sweep.jsonl"
    argv = ["sweep", "--model", NAME, "--embedded", "--n", "4", "--batch-size", "4", "--eps", "2,8", "--steps", "3",
            "--base-steps", "3", "--threat", "bare,oblivious,whitebox", "--precision", "fp32", "--out", str(out)]
    assert cafd_main(argv) == 0
    assert judged == [["bare", "oblivious"], ["whitebox"]] * 2  # one crafting per target model and point
    rows = read_metrics(out)
    assert sorted((r["threat_model"], round(r["eps"] * 255)) for r in rows) == [
        (t, e) for t in ("bare", "oblivious", "whitebox") for e in (2, 8)]
    shared = [r for r in rows if r["threat_model"] != "whitebox"]
    assert all(r["crafted_for"] == ["bare", "oblivious"] for r in shared)
    judged.clear()
    assert cafd_main(argv[:-6] + ["--threat", "oblivious", "--precision", "fp32", "--out", str(out)]) == 0
    assert judged == [] and len(read_metrics(out)) == 6  # a rerun of one of them recomputes nothing


def test_an_attack_without_steps_sweeps_eps_alone(tmp_path, monkeypatch, capsys):
    """AutoAttack's budget is eps: one row per eps, steps None, and no steps series to check. (The attack itself is
    replaced by a count: AutoAttack runs in the attack-suite tests; here only the sweep's bookkeeping is tested.)"""
    import cafd_zoo.evaluation.budget_sweep as budget_sweep

    zoo = build_tiny_zoo(tmp_path / "zoo")
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    monkeypatch.setenv("CAFD_WEIGHTS_DIR", str(zoo.export_dir))
    built = []
    monkeypatch.setattr(budget_sweep, "count_errors",
                        lambda attack, target, judges, *a, **k: (built.append(attack.params)
                                                                 or ({t: 1 for t in judges}, {})))
    out = tmp_path / "sweep.jsonl"
    argv = ["sweep", "--model", NAME, "--embedded", "--n", "2", "--batch-size", "2", "--attack", "autoattack",
            "--eps", "2,8", "--steps", "5,10", "--threat", "bare", "--precision", "fp32", "--out", str(out)]
    assert cafd_main(argv) == 0
    rows = read_metrics(out)
    assert sorted((round(r["eps"] * 255), r["steps"]) for r in rows) == [(2, None), (8, None)]
    assert len(built) == 2 and all("steps" not in params for params in built)
    checks = sweep_checks(rows, 8 / 255, 20)
    assert [c["check"] for c in checks] == ["error does not fall as eps grows"]
    assert "| 8/255 | - | 2 |" in capsys.readouterr().out
