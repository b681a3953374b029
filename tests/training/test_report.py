"""The Table 1 renderer and the sanity checks, on a small hand-written results file."""
from __future__ import annotations

import json

import pytest

from training.__main__ import main as training_main
from cafd_zoo.evaluation import sanity_checks
from cafd_zoo.evaluation import summarize


def cell(release, attack, threat, shard, errors, clean_errors, n=10):
    return {"time": 0, "release": release, "attack": attack, "params": {}, "threat_model": threat, "shard": shard,
            "first_index": shard * n, "n": n, "errors": errors, "clean_errors": clean_errors, "error_rate": errors / n,
            "clean_error": clean_errors / n, "seed": 0, "precision": "fp32", "seconds": 1.0, "code_commit": None}


def write(path, cells):
    path.write_text("".join(json.dumps(c) + "\n" for c in cells))


def test_table1_layout(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    write(results, [cell("cafd_vgg19", "pgd_n", "oblivious", 0, 1, 0),
                    cell("cafd_vgg19", "pgd_n", "oblivious", 1, 2, 1),
                    cell("cafd_vgg19", "cafa", "oblivious", 0, 3, 0), cell("cafd_vgg19", "cafa", "oblivious", 1, 1, 1),
                    cell("jpeg_vgg19", "pgd_n", "oblivious", 0, 5, 1),
                    cell("jpeg_vgg19", "pgd_n", "oblivious", 1, 5, 1),
                    cell("jpeg_vgg19", "pgd_n", "whitebox", 0, 10, 1)])
    assert training_main(["report", str(results), "--attacks", "pgd_n,cafa", "--out", str(tmp_path / "t.md")]) == 0
    expected = ("Error rate (%) under the oblivious threat model, first n = 20 test images\n\n"  # no budget recorded
                "| defense | clean | pgd_n | cafa |\n|---|---:|---:|---:|\n"
                "| cafd_vgg19 | 5.00 | 15.00 | 20.00 |\n| jpeg_vgg19 | 10.00 | 50.00 | - |\n")
    assert (tmp_path / "t.md").read_text() == expected
    assert capsys.readouterr().out == expected


def test_sanity_checks_flag_an_evaluation_that_contradicts_itself(tmp_path):
    results = tmp_path / "r.jsonl"
    write(results, [cell("m", "pgd_n", "oblivious", 0, 6, 1), cell("m", "pgd_n", "whitebox", 0, 4, 1),
                    cell("m", "cafa", "oblivious", 0, 0, 2)])
    checks = {c["check"]: c["passed"] for c in sanity_checks(summarize(results, "m"))}
    assert checks["pgd_n: full white-box error >= oblivious error (else the end-to-end attack is too weak)"] is False
    assert checks["cafa/oblivious: attack error >= clean error"] is False
    assert checks["pgd_n/oblivious: attack error >= clean error"] is True


def test_threat_table_puts_each_threat_model_in_a_column(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    cells = [cell("m", "pgd_n", "bare", 0, 10, 1), cell("m", "pgd_n", "oblivious", 0, 2, 2),
             cell("m", "pgd_n", "whitebox", 0, 9, 2), cell("m", "cafa", "bare", 0, 8, 1),
             cell("m", "cafa", "oblivious", 0, 3, 2),
             cell("other", "pgd_n", "bare", 0, 0, 0)]
    for c in cells:
        c["params"] = {"eps": 8 / 255}
    write(results, cells)
    assert training_main(["report", str(results), "--release", "m"]) == 0
    assert capsys.readouterr().out == (
        "m: error rate (%) by attack (L-inf eps 8/255) and threat model; n test images in brackets\n\n"
        "| attack | bare classifier | CAFD, oblivious | CAFD, full white-box |\n|---|---:|---:|---:|\n"
        "| none (clean) | 10.00 (10) | 20.00 (10) | 20.00 (10) |\n"
        "| pgd_n | 100.00 (10) | 20.00 (10) | 90.00 (10) |\n"
        "| cafa | 80.00 (10) | 30.00 (10) | - |\n")
    assert training_main(["report", str(results), "--release", "absent"]) == 1


def test_a_pgd_far_below_autoattack_is_flagged_as_masked_gradients(tmp_path):
    results = tmp_path / "r.jsonl"
    write(results, [cell("m", "pgd_n", "bare", 0, 7, 1), cell("m", "autoattack", "bare", 0, 10, 1),
                    cell("m", "pgd_n", "oblivious", 0, 5, 1), cell("m", "autoattack", "oblivious", 0, 6, 1)])
    checks = {c["check"]: c["passed"] for c in sanity_checks(summarize(results, "m"))}
    assert checks["bare: PGD within 10 points of AutoAttack (else CE gradients are masked)"] is False
    assert checks["oblivious: PGD within 10 points of AutoAttack (else CE gradients are masked)"] is True


def test_a_gradient_free_square_far_above_the_gradient_attacks_is_flagged(tmp_path):
    results = tmp_path / "r.jsonl"
    write(results, [cell("m", "pgd_n", "whitebox", 0, 3, 1), cell("m", "ti_dim", "whitebox", 0, 4, 1),
                    cell("m", "square", "whitebox", 0, 6, 1), cell("m", "pgd_n", "bpda", 0, 5, 1),
                    cell("m", "square", "bpda", 0, 6, 1), cell("m", "square", "oblivious", 0, 9, 1)])
    checks = {c["check"]: (c["passed"], c["detail"]) for c in sanity_checks(summarize(results, "m"))}
    name = "{}: gradient-free Square within 10 points of the best gradient attack (else the gradients mislead: masking)"
    assert checks[name.format("whitebox")] == (False, "Square 60.00%, ti_dim 40.00%")
    assert checks[name.format("bpda")][0] is True
    assert name.format("oblivious") not in checks  # no gradient attack to compare with


def test_autoattacks_own_square_check_sums_its_stages_over_shards_and_flags_a_square_that_breaks_more(tmp_path):
    def stages(threat, shard, after):
        row = cell("m", "autoattack", threat, shard, 10 - after[-1], 1)
        row["attack_measured"] = {"n": 10,
                                  "robust_after": dict(zip(["clean", "apgd-ce", "apgd-t", "fab-t", "square"], after))}
        return row

    results = tmp_path / "r.jsonl"
    write(results, [stages("whitebox", 0, [9, 6, 5, 5, 5]), stages("whitebox", 1, [9, 5, 5, 5, 5]),
                    stages("bpda", 0, [9, 6, 6, 6, 4]), stages("bpda", 1, [9, 6, 6, 6, 6]),
                    stages("bare", 0, [9, 6, 6, 6, 4]), cell("m", "autoattack", "bare", 1, 4, 1),
                    stages("oblivious", 0, [9, 6, 6, 6, 4]), stages("oblivious", 1, [9, 6, 6, 6, 4])])
    rows = {r["threat_model"]: r for r in summarize(results, "m")}
    assert rows["whitebox"]["robust_after"] == {"clean": 18, "apgd-ce": 11, "apgd-t": 10, "fab-t": 10, "square": 10}
    assert "robust_after" not in rows["bare"]  # one shard recorded none: no sum over fewer images than the row
    assert "robust_after" not in rows["oblivious"]  # counted on the bare classifier it attacked, not on the judged
    checks = {c["check"].split(":")[0]: (c["passed"], c["detail"]) for c in sanity_checks(list(rows.values()))
              if "its Square" in c["check"]}
    assert checks["autoattack/whitebox"] == (
        True, "unbroken after clean 18, apgd-ce 11, apgd-t 10, fab-t 10, square 10 of 20")
    assert checks["autoattack/bpda"][0] is False  # Square broke 2 of 20 after the gradient attacks: 10% > 0.2%
    assert "autoattack/oblivious" not in checks and "autoattack/bare" not in checks


def test_variants_of_one_attack_are_checked_against_their_own_budget(tmp_path):
    results = tmp_path / "r.jsonl"
    rows = [cell("m", "pgd_n", "oblivious", 0, 2, 1), cell("m", "pgd_n", "whitebox", 0, 9, 1),
            cell("m", "pgd_n", "bpda", 0, 4, 1), cell("m", "pgd_n", "bpda", 0, 6, 1),
            cell("m", "pgd_n", "oblivious", 0, 8, 1)]
    for row, steps in zip(rows, (20, 20, 10, 20, 10)):
        row["params"] = {"eps": 8 / 255, "steps": steps, "eot": 1}
    write(results, rows)
    checks = {c["check"]: (c["passed"], c["detail"]) for c in sanity_checks(summarize(results, "m"))}
    assert checks["pgd_n-20: full white-box error >= oblivious error (else the end-to-end attack is too weak)"] == (
        True, "90.00% vs 20.00%")  # PGD-20 against PGD-20, not the PGD-10 row of the same threat model
    bpda = ("pgd_n-20: BPDA at most 10 points above full white-box (else the denoiser's own gradient misleads the "
            "end-to-end attack: masking; the stronger is the number)")
    assert checks[bpda] == (True, "bpda 60.00%, white-box 90.00%")
    assert not [check for check in checks if check.startswith("pgd_n-10: BPDA")]
    assert {"pgd_n-10/bpda: attack error >= clean error", "pgd_n-20/bpda: attack error >= clean error"} <= set(checks)


def test_the_release_table_keeps_pgd_10_and_pgd_20_apart_and_fwa_out_of_the_l_inf_budget(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    rows = [cell("m", "pgd_n", "bpda", 0, 6, 1), cell("m", "pgd_n", "bpda", 0, 4, 1),
            cell("m", "fwa", "oblivious", 0, 3, 1)]
    for row, params in zip(rows, ({"eps": 8 / 255, "steps": 20}, {"eps": 8 / 255, "steps": 10},
                                  {"eps": 0.005, "norm": "Wasserstein", "iterations": 300})):
        row["params"] = params
    write(results, rows)
    assert training_main(["report", str(results), "--release", "m"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("m: error rate (%) by attack (L-inf eps 8/255) and threat model")
    assert "| pgd_n, 10 steps | - | 40.00 (10) |\n| pgd_n, 20 steps | - | 60.00 (10) |\n| fwa | 30.00 (10) | - |" in out


def test_table1_defaults_to_the_papers_column_order(tmp_path, capsys):
    results = tmp_path / "r.jsonl"
    write(results, [cell("m", a, "oblivious", 0, 1, 0) for a in ("cafa", "fwa", "pgd_n", "ddn", "autoattack")])
    assert training_main(["report", str(results)]) == 0
    assert "| defense | clean | ddn | pgd_n | autoattack | fwa | cafa |" in capsys.readouterr().out


def test_report_refuses_a_file_evaluate_did_not_write_with_one_line(tmp_path, capsys):
    sweep = tmp_path / "sweep.jsonl"
    sweep.write_text(json.dumps({"release": "m", "attack": "pgd_n", "threat_model": "whitebox", "n": 4, "errors": 4,
                                 "params": {}, "eps": 8 / 255, "steps": 20}) + "\n")
    assert training_main(["report", str(sweep)]) == 1
    assert f"{sweep} holds no `evaluate` result (line 1 has no clean_errors): report renders evaluate's files; a " \
           "sweep's go to `figure 6`" in capsys.readouterr().err
    with sweep.open("a") as f:  # beside an evaluate cell, a sweep point is skipped
        f.write(json.dumps(cell("m", "pgd_n", "oblivious", 0, 2, 1)) + "\n")
    assert training_main(["report", str(sweep)]) == 0
    (tmp_path / "empty.jsonl").write_text("")
    assert training_main(["report", str(tmp_path / "empty.jsonl")]) == 1
    assert "holds no results" in capsys.readouterr().err


def test_table1_gives_each_step_count_its_column_and_refuses_two_measurements_of_one_cell(tmp_path):
    from training.paper.table1 import table1

    results = tmp_path / "r.jsonl"
    rows = [cell("m", "pgd_n", "oblivious", 0, 2, 1), cell("m", "pgd_n", "oblivious", 0, 5, 1)]
    rows[0]["params"], rows[1]["params"] = {"eps": 8 / 255, "steps": 20}, {"eps": 8 / 255, "steps": 50}
    write(results, rows)
    header = table1(results).splitlines()[2]
    assert header == "| defense | clean | pgd_n, 20 steps | pgd_n, 50 steps |"  # not one column, the last row winning
    write(results, [rows[0], rows[0] | {"seed": 1}])
    with pytest.raises(ValueError, match=r"pgd_n / oblivious is measured more than once \(seed 0 in fp32, seed 1"):
        table1(results)
