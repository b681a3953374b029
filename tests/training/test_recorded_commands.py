"""Every command the manifest records (metrics and training provenance) still parses, with the meaning it had."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from training.__main__ import build_parser

MANIFEST = Path(__file__).resolve().parents[2] / "weights_manifest.json"


def recorded_commands() -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str) and node.startswith("python -m training "):
            found.append(node)

    walk(json.loads(MANIFEST.read_text()))
    return sorted(set(found))


def test_the_manifest_records_commands_of_every_kind():
    kinds = {shlex.split(c)[3] for c in recorded_commands()}
    assert {"train-classifier", "craft-cafa", "train-denoiser", "export-classifier", "export-defended",
            "evaluate"} <= kinds


@pytest.mark.parametrize("command", recorded_commands())
def test_every_recorded_command_parses(command):
    args = build_parser().parse_args(shlex.split(command)[3:])
    assert callable(args.func)


def test_a_recorded_evaluate_command_keeps_its_meaning():
    args = build_parser().parse_args(shlex.split(
        "evaluate --model cafd_resnet20_cifar10 --data DIR --n 10000 --attacks pgd_n --threat oblivious --seed 0 "
        "--eps 8 --steps 20 --precision bf16 --out results.jsonl"))
    assert (args.attacks, args.threat, args.eps, args.steps) == (["pgd_n"], ["oblivious"], [8 / 255], [20])
    assert (args.n, args.seed, args.precision, args.out) == (10000, 0, "bf16", "results.jsonl")
