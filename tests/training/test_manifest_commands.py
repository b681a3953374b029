"""Every command the manifest prints for a release (how it was trained, how each metric was measured) is what a
user copies into a shell: a misspelt flag or a renamed option must fail here, not in their terminal."""
from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from cafd_zoo.cli import build_parser as cafd_parser
from training.__main__ import build_parser as training_parser

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = json.loads((ROOT / "weights_manifest.json").read_text())
PROGRAMS = {("cafd",): cafd_parser, ("python", "-m", "cafd_zoo"): cafd_parser,
            ("python", "-m", "training"): training_parser}


def manifest_commands() -> list[tuple[str, str]]:
    found = []
    for name, release in MANIFEST["releases"].items():
        found += [(name, command) for command in (release.get("training") or {}).get("commands", [])]
        found += [(name, metric["command"]) for metric in release.get("metrics", []) if metric.get("command")]
    return found


COMMANDS = manifest_commands()


def test_the_manifest_has_commands():
    assert len(COMMANDS) > 40  # every release's training commands and every measured metric's


def check_recipe(argv: list[str]) -> None:
    """``VAR=value ... bash training/recipes/NAME.sh [step ...]``: the recipe exists and defines each step."""
    while argv and "=" in argv[0]:
        argv = argv[1:]
    assert argv[:1] == ["bash"] and len(argv) >= 2, argv
    script = ROOT / argv[1]
    assert script.is_file() and script.parent == ROOT / "training" / "recipes", f"no recipe {argv[1]}"
    defined = {line.split("(")[0] for line in script.read_text().splitlines() if line.split("(")[0].isidentifier()
               and line.split("(", 1)[-1].startswith(")")}
    missing = [step for step in argv[2:] if step not in defined]
    assert not missing, f"{argv[1]} has no step(s) {missing}"


@pytest.mark.parametrize("release, command", COMMANDS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(COMMANDS)])
def test_every_manifest_command_parses(release, command):
    argv = shlex.split(command)
    if "bash" in argv:
        check_recipe(argv)
        return
    for program, parser in PROGRAMS.items():
        if tuple(argv[:len(program)]) == program:
            parser().parse_args(argv[len(program):])  # argparse's SystemExit fails the test with its message
            return
    pytest.fail(f"{release}: a command that is neither cafd nor python -m training: {command}")


def test_a_recipe_command_names_a_recipe_and_its_steps():
    check_recipe(shlex.split("DATA=DIR RUNS=RUNS bash training/recipes/baselines_vgg19_cifar10.sh cw hgd"))
    with pytest.raises(AssertionError, match="has no step"):
        check_recipe(shlex.split("DATA=DIR bash training/recipes/baselines_vgg19_cifar10.sh cw hdg"))
    with pytest.raises(AssertionError, match="no recipe"):
        check_recipe(shlex.split("bash training/recipes/nothing.sh"))
