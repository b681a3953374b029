"""The layout holds: no import cycle, no private cross-import, no file over 350 lines, every flag declared once
with one meaning, and ``python -m training`` keeps its commands."""
from __future__ import annotations

import argparse
import ast
import re
from pathlib import Path

import pytest

from cafd_zoo.cli import build_parser as cafd_parser
from training.__main__ import build_parser as training_parser

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("cafd_zoo", "training")
MAX_LINES = 350


def modules() -> dict[str, Path]:
    """Dotted name -> file, for every module of the library and the training tree."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[tuple[str, str | None]]:
    """(module imported, name taken from it) for every import anywhere in the file, lazy ones included."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[tuple[str, str | None]] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {(alias.name, None) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add((submodule, None) if submodule in known else (base, alias.name))
    return {(module, taken) for module, taken in found if module.split(".")[0] in PACKAGES}


def test_no_import_cycle():
    known = modules()
    graph = {name: {m for m, _ in imports(name, path, known) if m in known and m != name}
             for name, path in known.items()}
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                pytest.fail("import cycle: " + " -> ".join(trail[trail.index(nxt):] + [nxt]))
            if nxt not in state:
                visit(nxt, trail + [nxt])
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])


def test_no_module_takes_another_modules_private_names():
    known = modules()
    for directory in ("benchmarks",):
        for path in (REPO / directory).glob("*.py"):
            known[f"{directory}.{path.stem}"] = path
    private = sorted(f"{name} imports {taken} from {module}" for name, path in known.items()
                     for module, taken in imports(name, path, known) if taken and taken.startswith("_"))
    assert not private


def test_no_file_over_350_lines():
    long = {str(path.relative_to(REPO)): n for path in modules().values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long


def declared_flags() -> list[str]:
    """Every flag declaration in the source: add_argument("--x", ...) calls and option-table entries."""
    flags = []
    for path in modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_argument" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) and str(first.value).startswith("--"):
                    flags.append(first.value)
            if isinstance(node, ast.Dict):
                flags += [k.value for k, v in zip(node.keys, node.values) if isinstance(k, ast.Constant)
                          and str(k.value).startswith("--") and isinstance(v, ast.Call)
                          and getattr(v.func, "id", "") == "Option"]
    return flags


def test_every_flag_is_declared_once():
    flags = declared_flags()
    counts = {flag: flags.count(flag) for flag in set(flags)}
    assert len(flags) > 50 and {flag: n for flag, n in counts.items() if n > 1} == {}


def subcommand_actions(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from subcommand_actions(sub, f"{prefix}{name} ")
        elif action.option_strings and action.dest != "help":
            yield prefix.strip(), action


def test_a_flag_means_the_same_in_every_command_of_both_clis():
    meaning: dict[str, tuple] = {}
    for parser in (cafd_parser(), training_parser()):
        for command, action in subcommand_actions(parser):
            help_text = re.sub(r" \(default: %\(default\)s\)$", "", action.help or "")
            this = (type(action).__name__, action.type, help_text)
            for flag in action.option_strings:
                assert meaning.setdefault(flag, this) == this, f"{flag} in {command} means something else"


def test_python_m_training_lists_the_same_commands_as_before():
    commands = {name for action in training_parser()._actions if isinstance(action, argparse._SubParsersAction)
                for name in action.choices}
    assert commands == {"publish", "train-classifier", "export-classifier", "export-defended", "export-transfer",
                        "record-metrics", "craft-cafa", "craft-adversarial", "train-denoiser", "evaluate", "sweep",
                        "report", "figure", "caf-distance", "finetune-denoiser", "import-classifier"}


def test_package_tests_import_the_package_only():
    """tests/package and the shared helpers in tests/ must run against an installed wheel: no training tree."""
    tests = REPO / "tests"
    for path in [*tests.glob("*.py"), *(tests / "package").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
            assert not [n for n in names if n.split(".")[0] in ("training", "benchmarks")], path.name


def test_no_help_text_shows_a_doubled_percent():
    """argparse %-formats help= strings but prints a description as written: '%%' there reaches the user."""
    from cafd_zoo.cli import build_parser as cafd_parser
    from training.__main__ import build_parser as training_parser_of

    for top in (cafd_parser(), training_parser_of()):
        for action in top._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, parser in action.choices.items():
                    assert "%%" not in parser.format_help(), name
