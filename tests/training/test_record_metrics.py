"""record-metrics: a stored release takes new measurements as its metrics and model card with no training run,
its weight bytes untouched and its store still consistent with the manifest."""
from __future__ import annotations

import json

import pytest

from cafd_zoo.integrity import sha256_of
from cafd_zoo.manifest import load_manifest
from training.__main__ import main as training_main
from training.release.publish import mirror_commit, publish

from .test_export_publish import export_tiny


def evaluate_rows(release: str, errors: int, n: int = 500) -> str:
    """Two shards of `cafd evaluate`'s JSON lines (clean and PGD-20 on the bare classifier)."""
    rows = []
    for attack, params, wrong in (("none", {"eot": 1}, 10), ("pgd_n", {"eps": 8 / 255, "steps": 20, "eot": 1}, errors)):
        rows.append({"release": release, "attack": attack, "params": params, "threat_model": "bare", "shard": 0,
                     "first_index": 0, "n": n, "errors": wrong, "clean_errors": 10, "error_rate": wrong / n,
                     "clean_error": 10 / n, "seed": 0, "seconds": 1.0, "precision": "fp32", "images": "test",
                     "code_commit": "abc"})
    return "".join(json.dumps(r) + "\n" for r in rows)


@pytest.fixture
def stored(tmp_path):
    """tiny_classifier exported, then stored in a release store as `publish --mirror-root` writes it."""
    export_tiny(tmp_path)
    publish("tiny_classifier", tmp_path / "export", tmp_path / "manifest.json", mirror_root=tmp_path / "hub")
    (tmp_path / "eval.jsonl").write_text(evaluate_rows("tiny_classifier", errors=480))
    argv = ["record-metrics", "--release", "tiny_classifier", "--results", str(tmp_path / "eval.jsonl"),
            "--manifest", str(tmp_path / "manifest.json"), "--store", str(tmp_path / "hub"), "--machine", "test box"]
    return tmp_path, argv


def repository(tmp_path):
    return tmp_path / "hub" / "org" / "tiny-r20"


def test_metrics_and_card_change_and_the_weights_do_not(stored, capsys):
    tmp_path, argv = stored
    before = load_manifest(tmp_path / "manifest.json").weights["tiny_r20"]
    weights = (repository(tmp_path) / before["revision"] / "model.safetensors").read_bytes()
    assert training_main(argv) == 0
    assert "tiny_classifier: 2 metrics recorded" in capsys.readouterr().out
    manifest = load_manifest(tmp_path / "manifest.json")
    entry, release = manifest.weights["tiny_r20"], manifest.releases["tiny_classifier"]
    assert [(m["attack"], m["error_rate"], m["machine"]) for m in release["metrics"]] == [
        ("none", 0.02, "test box"), ("pgd_n", 0.96, "test box")]
    assert "--attacks pgd_n --threat bare --seed 0 --eps 8 --steps 20" in release["metrics"][1]["command"]
    folder = repository(tmp_path) / entry["revision"]
    assert entry["revision"] != before["revision"] and entry["revision"] == mirror_commit(folder)
    assert (repository(tmp_path) / "refs" / "main").read_text() == entry["revision"]
    # moved, not copied
    assert sorted(p.name for p in repository(tmp_path).iterdir()) == sorted([entry["revision"], "refs"])
    assert (folder / "model.safetensors").read_bytes() == weights and entry["sha256"] == before["sha256"]
    assert "| 96.00% |" in (folder / "README.md").read_text()


def test_recording_again_changes_nothing(stored):
    tmp_path, argv = stored
    assert training_main(argv) == 0
    first = (tmp_path / "manifest.json").read_bytes()
    assert training_main(argv) == 0
    assert (tmp_path / "manifest.json").read_bytes() == first


def test_a_damaged_store_or_foreign_results_change_nothing(stored, capsys):
    tmp_path, argv = stored
    manifest_before = (tmp_path / "manifest.json").read_bytes()
    revision = load_manifest(tmp_path / "manifest.json").weights["tiny_r20"]["revision"]
    card = repository(tmp_path) / revision / "README.md"
    card_before = card.read_bytes()
    (tmp_path / "eval.jsonl").write_text(evaluate_rows("another_release", errors=480))
    assert training_main(argv) == 1
    assert "holds no results for 'tiny_classifier'" in capsys.readouterr().err
    assert training_main([a if a != str(tmp_path / "eval.jsonl") else str(tmp_path / "typo.jsonl") for a in argv]) == 1
    assert "no results file " + str(tmp_path / "typo.jsonl") in capsys.readouterr().err
    weights = repository(tmp_path) / revision / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"\0")
    (tmp_path / "eval.jsonl").write_text(evaluate_rows("tiny_classifier", errors=480))
    assert training_main(argv) == 1
    assert "the store is damaged" in capsys.readouterr().err
    assert (tmp_path / "manifest.json").read_bytes() == manifest_before and card.read_bytes() == card_before
    assert sha256_of(weights) != load_manifest(tmp_path / "manifest.json").weights["tiny_r20"]["sha256"]


def test_the_machine_evaluate_recorded_wins_over_the_one_described(stored):
    tmp_path, argv = stored
    rows = [json.loads(line) | {"machine": "box A"} for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert training_main(argv) == 0
    metrics = load_manifest(tmp_path / "manifest.json").releases["tiny_classifier"]["metrics"]
    assert {m["machine"] for m in metrics} == {"box A"}  # not --machine's "test box"


def test_several_results_files_give_one_clean_error_per_image_source(stored, capsys):
    """Table 1's file (10,000 clean images), Table 3's (1,000) and the embedded sample's (200): one clean metric
    from the largest test-set evaluation, one from the embedded sample, and every attack of each file."""
    tmp_path, argv = stored
    (tmp_path / "small.jsonl").write_text(evaluate_rows("tiny_classifier", errors=90, n=100))
    embedded = evaluate_rows("tiny_classifier", errors=45, n=50).replace('"images": "test"', '"images": "embedded"')
    (tmp_path / "embedded.jsonl").write_text(embedded)
    argv += ["--results", str(tmp_path / "small.jsonl"), "--results", str(tmp_path / "embedded.jsonl")]
    assert training_main(argv) == 0
    metrics = load_manifest(tmp_path / "manifest.json").releases["tiny_classifier"]["metrics"]
    clean = [(m["n"], "--embedded" in m["command"]) for m in metrics if m["threat_model"] == "clean"]
    assert sorted(clean) == [(50, True), (500, False)]  # not the 100-image one
    assert sorted(m["n"] for m in metrics if m["attack"] == "pgd_n") == [50, 100, 500]


def test_a_classifier_attacked_by_transfer_keeps_its_metrics_on_the_classifier():
    """The AT row of Table 1: crafted on the standard VGG-19, judged on the robust classifier itself (no defense in
    front), so its transfer metrics, like its bare ones, describe the classifier, and its clean error is one."""
    from cafd_zoo.metrics_table import headline, metrics_table
    from training.release.result_metrics import metrics_from_results

    import tempfile
    from pathlib import Path

    rows = [json.loads(line) for line in evaluate_rows("at", errors=300).splitlines()]
    source = {"source": "vgg19_cifar10", "sha256": "ab" * 32}
    rows += [dict(r, threat_model="transfer", params=dict(r["params"], source=source),
                  errors=r["errors"] // 2, error_rate=r["error_rate"] / 2) for r in rows]
    with tempfile.TemporaryDirectory() as scratch:
        results = Path(scratch) / "r.jsonl"
        results.write_text("".join(json.dumps(r) + "\n" for r in rows))
        metrics = metrics_from_results(results, "at", data_flag="--data DIR", machine=None)
    assert {m["target"] for m in metrics} == {"classifier"}
    transfer = next(m for m in metrics if m["threat_model"] == "transfer" and m["attack"] == "pgd_n")
    assert transfer["error_rate"] == 0.3 and "--source-classifier vgg19_cifar10" in transfer["command"]
    assert sum(m["threat_model"] == "clean" for m in metrics) == 1
    header = next(line for line in metrics_table(metrics) if line.startswith("attack"))
    assert "transfer" in header and "classifier alone" in header  # their own columns
    assert headline(metrics)["pgd20_whitebox"] == 0.6  # the worst case stays the direct attack
