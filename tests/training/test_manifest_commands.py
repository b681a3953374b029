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


@pytest.mark.parametrize("release, command", COMMANDS, ids=[f"{r}-{i}" for i, (r, _) in enumerate(COMMANDS)])
def test_every_manifest_command_parses(release, command):
    argv = shlex.split(command)
    for program, parser in PROGRAMS.items():
        if tuple(argv[:len(program)]) == program:
            parser().parse_args(argv[len(program):])  # argparse's SystemExit fails the test with its message
            return
    pytest.fail(f"{release}: a command that is neither cafd nor python -m training: {command}")
