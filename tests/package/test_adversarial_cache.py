"""The adversarial cache: what is crafted on a bare classifier is read back, not crafted again, for any defense in
front of the same classifier, and gives exactly the rows crafting again would give."""
from __future__ import annotations

import copy

import pytest
import torch

import cafd_zoo
from cafd_zoo.data import embedded_cifar10_sample
from cafd_zoo.evaluation import run_evaluation
from cafd_zoo.evaluation.adversarial_cache import weights_fingerprint
from cafd_zoo.metrics_log import read_metrics
from cafd_zoo.models import DUNET, DefendedClassifier

pytestmark = pytest.mark.usefixtures("one_thread")


def _evaluate(model, release, results, cache=None, threats=("bare", "oblivious", "whitebox")):
    run_evaluation(model, release, embedded_cifar10_sample(), results, attacks=["pgd_n"], threats=threats, n=8,
                   shard_size=4, batch_size=4, steps=2, precision="fp32", cache_dir=cache)
    return {(r["threat_model"], r["shard"]): r for r in read_metrics(results)}


def test_another_defense_on_the_same_classifier_is_judged_on_the_cached_examples(tmp_path):
    released = cafd_zoo.load("cafd_resnet20_cifar10")
    torch.manual_seed(1)
    other = DefendedClassifier(DUNET(width=4).eval(), copy.deepcopy(released.classifier)).eval()  # same weights
    cache = tmp_path / "cache"
    first = _evaluate(released, "released", tmp_path / "a.jsonl", cache)
    assert [first[("oblivious", s)]["batches_from_cache"] for s in (0, 1)] == [0, 0]
    assert "batches_from_cache" not in first[("whitebox", 0)]  # crafted through the defense: never cached
    assert len(list(cache.rglob("*.safetensors"))) == 2  # one per batch: bare and oblivious share them
    cached = _evaluate(other, "other", tmp_path / "b.jsonl", cache)
    crafted = _evaluate(other, "other", tmp_path / "c.jsonl")
    for key, row in cached.items():
        assert row["errors"] == crafted[key]["errors"] and row["clean_errors"] == crafted[key]["clean_errors"]
        assert row.get("batches_from_cache", 0) == (1 if key[0] != "whitebox" else 0)
    assert "batches_from_cache" not in crafted[("oblivious", 0)]


def test_a_damaged_file_is_crafted_again_and_other_weights_never_hit(tmp_path):
    model = cafd_zoo.load("cafd_resnet20_cifar10")
    cache = tmp_path / "cache"
    first = _evaluate(model, "m", tmp_path / "a.jsonl", cache, threats=("oblivious",))
    damaged = sorted(cache.rglob("*.safetensors"))[0]
    damaged.write_bytes(b"not a safetensors file")
    with pytest.warns(UserWarning, match="unreadable"):
        again = _evaluate(model, "m", tmp_path / "b.jsonl", cache, threats=("oblivious",))
    assert sorted(r["batches_from_cache"] for r in again.values()) == [0, 1]
    assert [r["errors"] for r in again.values()] == [r["errors"] for r in first.values()]
    changed = copy.deepcopy(model)
    with torch.no_grad():
        next(changed.classifier.parameters()).add_(1e-3)
    assert weights_fingerprint(changed.classifier) != weights_fingerprint(model.classifier)
    other = _evaluate(changed, "m", tmp_path / "c.jsonl", cache, threats=("oblivious",))
    assert [r["batches_from_cache"] for r in other.values()] == [0, 0]


def test_an_attack_that_measures_itself_keeps_its_measurements_in_the_cache(tmp_path):
    model = cafd_zoo.load("cafd_resnet20_cifar10")

    def sta(results, cache):
        run_evaluation(model, "m", embedded_cifar10_sample(), results, attacks=["sta"], threats=["oblivious"], n=4,
                       shard_size=4, batch_size=4, steps=2, precision="fp32", cache_dir=cache)
        return read_metrics(results)[0]

    crafted = sta(tmp_path / "a.jsonl", tmp_path / "cache")
    cached = sta(tmp_path / "b.jsonl", tmp_path / "cache")
    assert cached["batches_from_cache"] == 1 and crafted["batches_from_cache"] == 0
    assert cached["attack_measured"] == crafted["attack_measured"] and cached["errors"] == crafted["errors"]


def test_a_batch_crafted_by_another_version_of_the_attacks_library_is_crafted_again(tmp_path, monkeypatch):
    """pyautoattack's version is kept with each batch it crafted: an upgrade crafts anew, never mixes."""
    import importlib.metadata

    from cafd_zoo.evaluation.adversarial_cache import AdversarialCache

    classifier = cafd_zoo.load("cafd_resnet20_cifar10").classifier
    x, y = embedded_cifar10_sample().batch(slice(0, 2))
    args = (tmp_path, classifier, "autoattack", {"eps": 8 / 255}, "fp32", torch.device("cpu"))
    AdversarialCache(*args, library="pyautoattack").put(x, y, 0, x)
    assert AdversarialCache(*args, library="pyautoattack").get(x, y, 0) is not None
    real = importlib.metadata.version
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "9.9" if name == "pyautoattack" else real(name))
    with pytest.warns(UserWarning, match="crafted with .*pyautoattack.*crafting that batch again"):
        assert AdversarialCache(*args, library="pyautoattack").get(x, y, 0) is None
    assert AdversarialCache(*args, library="pyautoattack", revision=1).path(x, y, 0) != \
        AdversarialCache(*args, library="pyautoattack").path(x, y, 0)  # a revised attack: another file
    assert AdversarialCache(*args, revision=0).path(x, y, 0) == AdversarialCache(*args).path(x, y, 0)


def test_a_transfer_row_is_judged_on_what_the_oblivious_rows_crafted_on_its_source(tmp_path):
    """Table 1's AT row: crafted on the standard classifier (the source), judged on another model; with the cache,
    the examples every oblivious row crafted on that classifier, not new ones."""
    from cafd_zoo.evaluation import TransferSource
    from cafd_zoo.evaluation.commands import defend

    released = cafd_zoo.load("cafd_resnet20_cifar10")
    cache = tmp_path / "cache"
    first = _evaluate(released, "released", tmp_path / "a.jsonl", cache, threats=("bare", "oblivious"))
    robust = defend(copy.deepcopy(released.classifier), None, ["transfer"])  # "another" model: the same weights
    source = TransferSource(released.classifier, {"source": "resnet20_cifar10", "sha256": "ab" * 32})
    run_evaluation(robust, "robust", embedded_cifar10_sample(), tmp_path / "b.jsonl", attacks=["pgd_n"],
                   threats=["transfer"], n=8, shard_size=4, batch_size=4, steps=2, precision="fp32", cache_dir=cache,
                   source=source)
    rows = {r["shard"]: r for r in read_metrics(tmp_path / "b.jsonl")}
    for shard, row in rows.items():
        assert row["threat_model"] == "transfer" and row["params"]["source"] == source.identity
        assert row["batches_from_cache"] == 1
        # the same weights judge the examples crafted on them: exactly the bare row
        assert (row["errors"], row["clean_errors"]) == (first[("bare", shard)]["errors"],
                                                        first[("bare", shard)]["clean_errors"])
    with pytest.raises(ValueError, match="--source-classifier"):
        run_evaluation(robust, "robust", embedded_cifar10_sample(), tmp_path / "c.jsonl", attacks=["pgd_n"],
                       threats=["transfer"], n=4, steps=2, precision="fp32")
    with pytest.raises(ValueError, match="only by --threat transfer"):
        run_evaluation(released, "r", embedded_cifar10_sample(), tmp_path / "d.jsonl", attacks=["pgd_n"],
                       threats=["oblivious"], n=4, steps=2, precision="fp32", source=source)
