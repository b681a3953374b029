"""Figures 3, 5 and 6: a PNG is written, and the JSON beside it holds exactly what the test's rows say."""
from __future__ import annotations

import json

from PIL import Image

from training.__main__ import main as training_main

from .test_report_tables import DDN, cell, write


def sweep_row(release, threat, eps, steps, errors, n=100):
    return {"release": release, "attack": "pgd_n", "threat_model": threat, "eps": eps / 255, "steps": steps, "n": n,
            "params": {}, "errors": errors, "error_rate": errors / n, "seconds": 1.0}


def drawn(png):
    """The JSON written beside ``png``, after checking that the PNG is a real, non-empty picture."""
    with Image.open(png) as image:
        assert image.format == "PNG" and image.width > 300 and image.height > 200
        low, high = image.convert("L").getextrema()
        assert high - low > 100  # lines and text on the canvas, not a blank picture
    return json.loads(png.with_suffix(".json").read_text())


def test_figure6_draws_error_against_eps_per_defense_and_threat(tmp_path, capsys):
    a = write(tmp_path / "a.jsonl", [
        sweep_row("cafd_vgg19_cifar10", "whitebox", 2, 20, 50),  # below 6/255: left out
        sweep_row("cafd_vgg19_cifar10", "whitebox", 6, 20, 70), sweep_row("cafd_vgg19_cifar10", "whitebox", 8, 20, 80),
        sweep_row("cafd_vgg19_cifar10", "whitebox", 8, 20, 850, n=1000),  # measured again on more images: this counts
        sweep_row("cafd_vgg19_cifar10", "whitebox", 16, 20, 99),
        sweep_row("cafd_vgg19_cifar10", "whitebox", 255, 20, 100),  # above 16/255: left out
        sweep_row("cafd_vgg19_cifar10", "whitebox", 8, 5, 60),  # the steps series: one point in range, no line
    ])
    b = write(tmp_path / "b.jsonl", [sweep_row("jpeg75_vgg19_cifar10", "bpda", 6, 20, 40),
                                     sweep_row("jpeg75_vgg19_cifar10", "bpda", 10, 20, 55)])
    png = tmp_path / "fig6.png"
    assert training_main(["figure", "6", str(a), str(b), "--out", str(png)]) == 0
    assert "Figure 6, 2 series" in capsys.readouterr().out
    lines = [
        {"label": "CAFD + VGG-19, full white-box, pgd_n (20 steps)", "release": "cafd_vgg19_cifar10",
         "threat_model": "whitebox", "attack": "pgd_n", "steps": 20, "n": [100, 1000, 100], "eps_255": [6.0, 8.0, 16.0],
         "error_rate_pct": [70.0, 85.0, 99.0]},
        {"label": "JPEG + VGG-19, BPDA, pgd_n (20 steps)", "release": "jpeg75_vgg19_cifar10", "threat_model": "bpda",
         "attack": "pgd_n", "steps": 20, "n": [100, 100], "eps_255": [6.0, 10.0], "error_rate_pct": [40.0, 55.0]}]
    assert drawn(png) == {"figure": 6, "x": "eps (L-inf, in 1/255)", "y": "error rate (%)", "lines": lines}
    assert training_main(["figure", "6", str(b), "--out", str(png), "--eps-min", "7"]) == 1  # one budget left: no line
    assert "no sweep series" in capsys.readouterr().err


def test_figure5_draws_a_bar_per_denoiser_variant_and_none_for_a_missing_cell(tmp_path):
    full, msed, no_adv = ("vgg19_cifar10+cafd_denoiser_vgg19_cifar10", "vgg19_cifar10+ablation_msed_vgg19_cifar10",
                          "vgg19_cifar10+ablation_no_adv_vgg19_cifar10")
    results = write(tmp_path / "r.jsonl", [
        cell(full, "pgd_n", "oblivious", 0, 2, 1), cell(full, "pgd_n", "oblivious", 1, 3, 1),
        cell(full, "ddn", "oblivious", 0, 4, 1, params=DDN), cell(full, "pgd_n", "whitebox", 0, 10, 1),
        cell(msed, "pgd_n", "oblivious", 0, 6, 2),  # its ddn cell was never run
        cell(no_adv, "pgd_n", "oblivious", 0, 5, 3, n=20), cell(no_adv, "ddn", "oblivious", 0, 8, 3, n=20, params=DDN),
    ])
    png = tmp_path / "fig5.png"
    assert training_main(["figure", "5", str(results), "--out", str(png)]) == 0
    variants = [
        {"label": "CAFD + VGG-19", "release": full, "error_rate_pct": [10.0, 25.0, 40.0], "n": [20, 20, 10]},
        {"label": "MSED (pixel MSE)", "release": msed, "error_rate_pct": [20.0, 60.0, None], "n": [10, 10, None]},
        {"label": "CAFD without L_adv", "release": no_adv, "error_rate_pct": [15.0, 25.0, 40.0], "n": [20, 20, 20]}]
    assert drawn(png) == {"figure": 5, "threat_model": "oblivious", "y": "error rate (%)",
                          "groups": ["clean", "pgd_n", "ddn"], "variants": variants}


def test_figure3_draws_caf_distance_against_fooling_rate_per_attack(tmp_path):
    def caf(attack, budget, fooling, distance, n=8):
        return {"release": "tiny", "attack": attack, "params": {}, "n": n, "budget": budget, "fooling_rate": fooling,
                "caf_distance": distance, "caf_l2": 10 * distance}
    results = write(tmp_path / "caf.jsonl", [caf("pgd_n", 8 / 255, 0.75, 0.02), caf("pgd_n", 0, 0.0, 0.0),
                                             caf("pgd_n", 8 / 255, 0.5, 0.03, n=4),  # fewer images: not drawn
                                             caf("cw_l2", 1.0, 1.0, 0.01), caf("cw_l2", 0.1, None, 0.0),
                                             caf("bim", 0.1, None, 0.0)])
    png = tmp_path / "fig3.png"
    assert training_main(["figure", "3", str(results), "--out", str(png), "--distance", "caf_l2"]) == 0
    lines = [{"label": "PGD", "release": "tiny", "attack": "pgd_n", "budgets": [0, 8 / 255], "n": [8, 8],
              "fooling_rate_pct": [0.0, 75.0], "distance": [0.0, 0.2]},
             {"label": "CW-L2", "release": "tiny", "attack": "cw_l2", "budgets": [1.0], "n": [8],  # c = 0.1: no point
              "fooling_rate_pct": [100.0], "distance": [0.1]}]  # (a fooling rate of None: no image was correct)
    assert drawn(png) == {"figure": 3, "x": "fooling rate (%)", "y": "CAF distance (L2 of Phi)", "distance": "caf_l2",
                          "lines": lines}


def test_training_curve_draws_each_per_epoch_accuracy_and_the_last_row_of_a_repeated_epoch(tmp_path, capsys):
    metrics = tmp_path / "run" / "metrics.jsonl"
    metrics.parent.mkdir()
    rows = [{"step": 10, "epoch": 1, "loss": 2.0},
            {"step": 20, "epoch": 1, "probe_purified": 0.5, "probe_natural": 0.9},
            {"step": 40, "epoch": 2, "probe_purified": 0.6, "probe_natural": 0.9},
            {"step": 40, "epoch": 2, "probe_purified": 0.7, "probe_natural": 0.9}]  # epoch 2 again, after a resume
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert training_main(["figure", "curve", str(metrics), "--out", str(tmp_path / "curve.png")]) == 0
    data = json.loads((tmp_path / "curve.json").read_text())
    assert data["series"]["probe_purified"] == [{"epoch": 1, "accuracy": 0.5}, {"epoch": 2, "accuracy": 0.7}]
    assert set(data["series"]) == {"probe_purified", "probe_natural"} and (tmp_path / "curve.png").stat().st_size > 1000
    metrics.write_text(json.dumps({"step": 1, "epoch": 1, "loss": 1.0}) + "\n")
    assert training_main(["figure", "curve", str(metrics), "--out", str(tmp_path / "x.png")]) == 1
    assert "no per-epoch accuracy" in capsys.readouterr().err


def test_training_curve_says_whether_the_denoiser_stopping_rule_is_met(tmp_path, capsys):
    metrics = tmp_path / "run" / "metrics.jsonl"
    metrics.parent.mkdir()
    clean = [0.90, 0.92, 0.93, 0.934]
    pgd = [0.70, 0.80, 0.85, 0.853]  # +5.3 points over epochs 2-4 for PGD: the rule is not met yet
    rows = [{"epoch": e + 1, "probe_purified_natural": c, "probe_pgd_purified": p}
            for e, (c, p) in enumerate(zip(clean, pgd))]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert training_main(["figure", "curve", str(metrics), "--out", str(tmp_path / "curve.png")]) == 0
    rule = json.loads((tmp_path / "curve.json").read_text())["plateau"]
    assert rule["met"] is False and rule["metrics"]["probe_pgd_purified"]["last_gain_points"] == 5.3
    assert rule["metrics"]["probe_purified_natural"] == {"last_gain_points": 1.4, "first_epoch_below": None}
    assert "NOT met" in capsys.readouterr().out
    rows += [{"epoch": 5, "probe_purified_natural": 0.935, "probe_pgd_purified": 0.855},
             {"epoch": 6, "probe_purified_natural": 0.936, "probe_pgd_purified": 0.856}]
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    training_main(["figure", "curve", str(metrics), "--out", str(tmp_path / "curve.png")])
    rule = json.loads((tmp_path / "curve.json").read_text())["plateau"]
    assert (rule["met"] is True and rule["met_at"] == 6
            and rule["metrics"]["probe_pgd_purified"]["first_epoch_below"] == 6)
    assert "every metric at once): met at the last epoch; first met at epoch 6" in capsys.readouterr().out
    rows += [{"epoch": 7, "probe_purified_natural": 0.95, "probe_pgd_purified": 0.857}]  # a noisy later gain
    metrics.write_text("".join(json.dumps(r) + "\n" for r in rows))
    training_main(["figure", "curve", str(metrics), "--out", str(tmp_path / "curve.png")])
    rule = json.loads((tmp_path / "curve.json").read_text())["plateau"]
    assert rule["met_at"] == 6 and rule["met"] is False  # the last epoch gained 1.5 clean points over two
    assert rule["metrics"]["probe_purified_natural"]["last_gain_points"] == 1.5


def test_figure6_names_no_steps_for_an_attack_without_them(tmp_path):
    rows = [sweep_row("cafd_vgg19_cifar10", "oblivious", eps, None, errors) | {"attack": "autoattack"}
            for eps, errors in ((6, 10), (16, 40))]
    png = tmp_path / "fig6.png"
    assert training_main(["figure", "6", str(write(tmp_path / "aa.jsonl", rows)), "--out", str(png)]) == 0
    assert [line["label"] for line in drawn(png)["lines"]] == ["CAFD + VGG-19, oblivious, autoattack"]
