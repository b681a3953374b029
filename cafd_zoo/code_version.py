"""The commit of the code and the machine that made a result, for provenance (the commit is None outside a git
checkout of this project, e.g. for a pip-installed package, which may sit inside some other repository's venv)."""
from __future__ import annotations

import platform
import subprocess
from pathlib import Path

import torch


def code_commit() -> str | None:
    """``git rev-parse HEAD`` of this checkout, with ``-dirty`` when tracked files have changes."""
    root = Path(__file__).resolve().parents[1]
    if not (root / "setup.cfg").is_file() or not (root / "cafd_zoo").is_dir():
        return None  # an installed package: site-packages is no checkout of ours
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root, capture_output=True,
                               text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("-dirty" if dirty else "")


def machine(device: torch.device | str = "cpu") -> str:
    """What a timing or a bf16 result was measured on: the processor (or accelerator), the threads torch used, the
    CPU kernels it picked and the torch version; rows that carry it stay comparable across machines."""
    device = torch.device(device)
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    kernels = torch.backends.cpu.get_cpu_capability()
    return f"{name}, {torch.get_num_threads()} threads, {kernels}, torch {torch.__version__}"
