"""The code base passes flake8 (its settings are setup.cfg's [flake8]: max-line-length = 120), and stays so."""
from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHECKED = ["cafd_zoo", "training", "tests", "hubconf.py", "benchmarks"]


def test_flake8_reports_nothing():
    if importlib.util.find_spec("flake8") is None:
        pytest.fail('flake8 is not installed: pip install -e ".[dev]"', pytrace=False)
    done = subprocess.run([sys.executable, "-m", "flake8", *CHECKED], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    findings = (done.stdout + done.stderr).strip()
    assert done.returncode == 0 and not findings, f"flake8 (run from {REPO}) reports:\n{findings}"
