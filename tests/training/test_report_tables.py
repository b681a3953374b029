"""Tables 2 and 3 from small hand-written results files: exact Markdown, "—" for what no file holds."""
from __future__ import annotations

import json

import pytest

from training.__main__ import main as training_main
from training.paper.tables_2_3 import describe, load_cells, table2, table3

PGD10 = {"norm": "Linf", "eps": 8 / 255, "steps": 10, "step_size": 2 / 255, "random_start": True}
PGD20 = dict(PGD10, steps=20)
DDN = {"norm": "L2", "budget": "none (minimum norm)", "steps": 100, "gamma": 0.05}
SURROGATE = {"source": "runs/cafd_prime", "sha256": "ab" * 32}


def cell(release, attack, threat, shard, errors, clean_errors, *, n=10, params=PGD20, commit="0123456789abcdef"):
    return {"time": 0, "release": release, "attack": attack, "params": params, "threat_model": threat, "shard": shard,
            "first_index": shard * n, "n": n, "errors": errors, "clean_errors": clean_errors, "error_rate": errors / n,
            "clean_error": clean_errors / n, "seed": 0, "precision": "fp32", "seconds": 1.0, "code_commit": commit}


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_table2_rows_are_each_target_model_without_and_with_its_defense(tmp_path, capsys):
    vgg = write(tmp_path / "vgg.jsonl", [
        cell("cafd_vgg19_cifar10", "pgd_n", "bare", 0, 10, 1), cell("cafd_vgg19_cifar10", "pgd_n", "bare", 1, 9, 0),
        cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 0, 2, 1),
        cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 1, 1, 2),
        cell("cafd_vgg19_cifar10", "ddn", "oblivious", 0, 3, 1, params=DDN),  # its bare cell was never run
        {"release": "cafd_vgg19_cifar10", "attack": "pgd_n", "threat_model": "bare", "eps": 0.1, "steps": 20, "n": 5,
         "errors": 5, "error_rate": 1.0},  # a sweep point in the same file: not a table cell
    ])
    resnet = write(tmp_path / "resnet.jsonl", [
        cell("cafd_resnet50_cifar10", "pgd_n", "bare", 0, 40, 4, n=50, commit="fedcba9876543210-dirty"),
        cell("cafd_resnet50_cifar10", "pgd_n", "oblivious", 0, 20, 6, n=50, commit="fedcba9876543210-dirty"),
    ])
    out = tmp_path / "t2.md"
    assert training_main(["report", "--table", "2", str(vgg), str(resnet), str(vgg), "--out", str(out)]) == 0
    expected = (
        "Table 2: error rate (%) of each target model without and with the defense, under attacks crafted on the "
        "target model (oblivious to the defense)\n\n"
        "| target model | clean | pgd_n | ddn |\n|---|---:|---:|---:|\n"
        "| VGG-19 | 5.00 | 95.00 | — |\n"
        "| VGG-19 + CAFD | 15.00 | 15.00 | 30.00 |\n"
        "| ResNet-50 | 8.00 | 80.00 | — |\n"
        "| ResNet-50 + CAFD | 12.00 | 40.00 | — |\n\n"
        "n (the first n test images): 20 (2 cells), 10 (1 cell), 50 (2 cells)  \n"
        "eps (L-inf budget): 8/255 (4 cells), none (minimum-norm L2) (1 cell)  \n"
        "code commit: 0123456 (3 cells), fedcba9-dirty (2 cells)\n")
    assert out.read_text() == expected  # the vgg file given twice counts once
    assert capsys.readouterr().out == expected


def test_table2_shares_a_target_row_only_between_equal_measurements(tmp_path):
    results = write(tmp_path / "r.jsonl", [
        cell("cafd_vgg19_cifar10", "pgd_n", "bare", 0, 9, 1), cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 0, 2, 2),
        cell("jpeg75_vgg19_cifar10", "pgd_n", "bare", 0, 9, 1),
        cell("jpeg75_vgg19_cifar10", "pgd_n", "oblivious", 0, 5, 2),
        cell("tvm_vgg19_cifar10", "pgd_n", "bare", 0, 8, 1), cell("tvm_vgg19_cifar10", "pgd_n", "oblivious", 0, 6, 3),
        cell("at_vgg19_cifar10", "pgd_n", "bare", 0, 5, 2),  # an adversarially trained classifier, no defense in front
    ])
    assert table2([results]).split("\n\n")[1] == (
        "| target model | clean | pgd_n |\n|---|---:|---:|\n"
        "| VGG-19 | 10.00 | 90.00 |\n| VGG-19 + CAFD | 20.00 | 20.00 |\n| VGG-19 + JPEG | 20.00 | 50.00 |\n"
        "| VGG-19 (tvm_vgg19_cifar10) | 10.00 | 80.00 |\n| VGG-19 (tvm_vgg19_cifar10) + TVM | 30.00 | 60.00 |\n"
        "| VGG-19 (AT) | 20.00 | 50.00 |")


def test_table3_rows_are_threat_models_and_an_attack_run_twice_gets_two_columns(tmp_path, capsys):
    results = write(tmp_path / "r.jsonl", [
        cell("cafd_vgg19_cifar10", "pgd_n", "bpda", 0, 5, 1, params=PGD10),
        cell("cafd_vgg19_cifar10", "pgd_n", "bpda", 0, 6, 1),
        cell("cafd_vgg19_cifar10", "pgd_n", "whitebox", 0, 10, 1),
        cell("cafd_vgg19_cifar10", "ddn", "whitebox", 0, 9, 1, params=DDN),
        cell("cafd_vgg19_cifar10", "pgd_n", "graybox", 0, 4, 1, params=dict(PGD20, surrogate=SURROGATE, eot=1)),
        cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 0, 2, 1),
        cell("cafd_vgg19_cifar10", "pgd_n", "bare", 0, 10, 1),  # the bare classifier: not a row of Table 3
        cell("hgd_vgg19_cifar10", "pgd_n", "whitebox", 0, 10, 2),
    ])
    assert training_main(["report", "--table", "3", str(results), "--threat", "bpda,whitebox,graybox",
                          "--label", "hgd_vgg19_cifar10=VGG-19:HGD′ (PGD-20)"]) == 0
    assert capsys.readouterr().out == (
        "Table 3: error rate (%) of each defended model under adaptive attacks\n\n"
        "| defended model | threat model | pgd_n, 10 steps | pgd_n, 20 steps | ddn |\n|---|---|---:|---:|---:|\n"
        "| CAFD + VGG-19 | BPDA | 50.00 | 60.00 | — |\n"
        "| CAFD + VGG-19 | full white-box | — | 100.00 | 90.00 |\n"
        "| CAFD + VGG-19 | gray-box (surrogate) | — | 40.00 | — |\n"
        "| HGD′ (PGD-20) + VGG-19 | BPDA | — | — | — |\n"
        "| HGD′ (PGD-20) + VGG-19 | full white-box | — | 100.00 | — |\n"
        "| HGD′ (PGD-20) + VGG-19 | gray-box (surrogate) | — | — | — |\n\n"
        "n (the first n test images): 10 (every cell)  \n"
        "eps (L-inf budget): 8/255 (5 cells), none (minimum-norm L2) (1 cell)  \n"
        "code commit: 0123456 (every cell)  \n"
        f"gray-box surrogate: runs/cafd_prime (sha256 {'ab' * 6}) (1 cell)\n")
    # by default: every threat model found but bare, in the order bare, oblivious, bpda, whitebox, graybox
    assert training_main(["report", "--table", "3", str(results), "--attacks", "ddn"]) == 0
    assert "| CAFD + VGG-19 | oblivious | — |\n| CAFD + VGG-19 | BPDA | — |\n" in capsys.readouterr().out


def test_cells_that_do_not_add_up_are_refused(tmp_path, capsys):
    a = write(tmp_path / "a.jsonl", [cell("m", "pgd_n", "whitebox", 0, 5, 1)])
    b = write(tmp_path / "b.jsonl", [cell("m", "pgd_n", "whitebox", 0, 6, 1)])
    with pytest.raises(ValueError, match="other numbers"):
        load_cells([a, b])
    two_surrogates = write(tmp_path / "c.jsonl", [
        cell("m", "pgd_n", "graybox", 0, 5, 1, params=dict(PGD20, surrogate=SURROGATE)),
        cell("m", "pgd_n", "graybox", 1, 5, 1, params=dict(PGD20, surrogate=dict(SURROGATE, sha256="cd" * 32)))])
    with pytest.raises(ValueError, match="different surrogate"):
        table2([two_surrogates])
    assert "cafa" in table2([two_surrogates, a], attacks=["cafa"])  # cells not shown cannot make a table fail
    with pytest.raises(ValueError, match="different surrogate"):
        table3([two_surrogates], attacks=["pgd_n"])
    assert training_main(["report", str(a), str(b)]) == 1  # Table 1 reads one file
    assert "--table 2 or 3 takes several" in capsys.readouterr().err
    assert training_main(["report", "--table", "2", str(a), "--label", "m=VGG-19"]) == 1
    assert "RELEASE=TARGET:DEFENSE" in capsys.readouterr().err


def test_release_names_give_target_model_defense_and_data_set():
    assert describe("cafd_vgg19_cifar10") == ("VGG-19", "CAFD", "CIFAR-10")
    assert describe("jpeg75_resnet50_svhn") == ("ResNet-50", "JPEG", "SVHN")
    assert describe("vgg19_cifar10_short+cafd_prime_denoiser_vgg19_cifar10") == ("VGG-19", "CAFD′", "CIFAR-10")
    assert describe("wrn28_20_cifar10+jpeg_diff:75") == ("WRN-28-20", "JPEG (differentiable)", "CIFAR-10")
    assert describe("mystery", {"mystery": ("Net", "Shield")}) == ("Net", "Shield", "")


def test_provenance_names_each_cells_budget_whatever_bounds_it():
    from cafd_zoo.attacks import build_attack
    from training.paper.tables_2_3 import _budget

    assert _budget(build_attack("pgd_n").params) == _budget(build_attack("cafa").params) == "8/255"
    assert _budget(build_attack("ddn").params) == "none (minimum-norm L2)"
    assert _budget(build_attack("sta").params) == "none (flow smoothness penalty)"
    assert _budget(build_attack("fwa").params) == "Wasserstein (local transport), eps 0.005"


def test_paper_rows_follow_the_rows_the_paper_published(tmp_path):
    results = write(tmp_path / "r.jsonl", [
        cell("cafd_vgg19_cifar10", "pgd_n", "bare", 0, 10, 1),
        cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 0, 2, 1),
        cell("cafd_vgg19_cifar10", "pgd_n", "bpda", 0, 5, 1, params=PGD10),
        cell("cafd_vgg19_cifar10", "pgd_n", "bpda", 0, 6, 1),
        cell("cafd_vgg19_cifar10", "ddn", "whitebox", 0, 9, 1, params=DDN),
    ])
    t2 = table2([results], paper=True).splitlines()
    assert t2[4:8] == ["| VGG-19 | 10.00 | 100.00 |", "| VGG-19 + CAFD | 10.00 | 20.00 |",
                       "| paper: VGG-19 + CAFD (CIFAR-10) | — | 12.79 |", ""]  # the paper has no bare VGG-19 row
    t3 = table3([results], paper=True).splitlines()
    assert "| paper: CAFD + VGG-19 | BPDA | 47.74 | 51.25 | — |" in t3  # columns: pgd_n 10, pgd_n 20, ddn
    assert "| paper: CAFD + VGG-19 | full white-box | — | 95.18 | 93.23 |" in t3
    assert not any(line.startswith("| paper") for line in table3([results]).splitlines())  # only on request


def test_table1_with_paper_rows_and_the_clean_error_of_the_largest_n(tmp_path):
    from training.paper.table1 import table1
    results = write(tmp_path / "r.jsonl", [
        cell("cafd_vgg19_cifar10", "none", "oblivious", 0, 9, 9, n=100, params={"eot": 1}),
        cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 0, 2, 1),
    ])
    lines = table1(results, paper=True).splitlines()
    assert lines[2] == "| defense | clean | pgd_n |"  # "none" is the clean column, not an attack column
    assert lines[0].endswith("n test images in brackets")  # 100 and 10 images: each cell says its n
    assert lines[4:] == ["| cafd_vgg19_cifar10 | 9.00 (100) | 20.00 (10) |",
                         "| paper: CAFD (CIFAR-10) | 8.90 | 12.79 |"]


def test_the_robust_table_puts_each_rows_worst_case_first_and_leaves_bare_rows_to_the_bare_classifier(tmp_path):
    at, cafd = "wrn16_4at_cifar10", "cafd_wrn16_4at_cifar10"
    aa, square, none = {"version": "standard", "eps": 8 / 255}, {"queries": 5000, "eps": 8 / 255}, {"eot": 1}
    results = write(tmp_path / "robust.jsonl", [
        cell(at, "none", "bare", 0, 2, 2, params=none), cell(at, "autoattack", "bare", 0, 6, 2, params=aa),
        cell(at, "pgd_n", "bare", 0, 5, 2, params=dict(PGD20, steps=50)),
        cell(cafd, "none", "whitebox", 0, 3, 3, params=none), cell(cafd, "autoattack", "whitebox", 0, 7, 3, params=aa),
        cell(cafd, "square", "whitebox", 0, 5, 3, params=square), cell(cafd, "pgd_n", "oblivious", 0, 4, 3),
        cell(cafd, "pgd_n", "bare", 0, 10, 2),  # the classifier without the denoiser: not the defended row's worst
    ])
    out = tmp_path / "robust.md"
    assert training_main(["report", "--table", "robust", str(results), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    # the columns no row measured (BPDA) are left out; the bare classifier's oblivious attack is its own
    assert lines[2] == ("| model | clean | worst case | AutoAttack, white-box | PGD-50, white-box | "
                        "Square, white-box | AutoAttack, oblivious | PGD-20, oblivious |")
    assert lines[4:] == [
        f"| {at} | 20.00 (10) | 60.00 (10) | 60.00 (10) | 50.00 (10) | - | 60.00 (10) | - |",
        f"| {cafd} | 30.00 (10) | 70.00 (10) | 70.00 (10) | - | 50.00 (10) | - | 40.00 (10) |",
    ]


def test_the_robust_tables_oblivious_column_of_the_bare_classifier_is_its_own_attack(tmp_path):
    """The same examples judged with and without the denoiser: what the denoiser changes for an oblivious attacker."""
    at, cafd = "wrn16_4at_cifar10", "cafd_wrn16_4at_cifar10"
    results = write(tmp_path / "robust.jsonl", [
        cell(at, "none", "bare", 0, 2, 2, params={"eot": 1}), cell(at, "pgd_n", "bare", 0, 6, 2),
        cell(cafd, "none", "whitebox", 0, 3, 3, params={"eot": 1}), cell(cafd, "pgd_n", "oblivious", 0, 4, 3),
    ])
    out = tmp_path / "robust.md"
    assert training_main(["report", "--table", "robust", str(results), "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert lines[2] == "| model | clean | worst case | PGD-20, oblivious |"
    assert lines[4:] == [f"| {at} | 20.00 (10) | 60.00 (10) | 60.00 (10) |",
                         f"| {cafd} | 30.00 (10) | 40.00 (10) | 40.00 (10) |"]


def test_table1_takes_the_at_row_from_its_transfer_cells_beside_the_paper(tmp_path):
    """Table 1's rows are unseen attacks crafted on the standard VGG-19: for a purifier, oblivious; for the
    adversarially trained VGG-19, a transfer to it. "oblivious,transfer" takes each release's first one measured."""
    from training.paper.table1 import table1
    source = dict(PGD20, source={"source": "vgg19_cifar10", "sha256": "ab" * 32})
    results = write(tmp_path / "r.jsonl", [
        cell("cafd_vgg19_cifar10", "pgd_n", "oblivious", 0, 2, 1),
        cell("at_vgg19_cifar10", "pgd_n", "bare", 0, 5, 2),
        cell("at_vgg19_cifar10", "pgd_n", "transfer", 0, 3, 2, params=source),
    ])
    lines = table1(results, threat="oblivious,transfer", paper=True).splitlines()
    assert lines[0].startswith("Error rate (%) under the oblivious / transfer threat model")
    assert lines[4:] == ["| at_vgg19_cifar10 (transfer) | 20.00 | 30.00 |", "| paper: AT (CIFAR-10) | 10.34 | 31.77 |",
                         "| cafd_vgg19_cifar10 | 10.00 | 20.00 |", "| paper: CAFD (CIFAR-10) | 8.90 | 12.79 |"]
    assert "at_vgg19_cifar10" not in table1(results)  # oblivious alone: the AT release has no such row
