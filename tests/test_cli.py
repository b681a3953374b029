import subprocess
import sys

import pytest

from cafd_zoo.cli import build_parser, main


def test_architectures_prints_measured_counts(capsys):
    assert main(["architectures", "resnet2*"]) == 0
    out = capsys.readouterr().out
    assert "resnet20" in out and "272,474" in out and "64x8x8" in out


def test_architectures_handles_denoisers_and_class_counts(capsys):
    assert main(["architectures", "dunet"]) == 0
    assert "11,038,851" in capsys.readouterr().out
    assert main(["architectures", "resnet20", "--num-classes", "100"]) == 0
    assert "278,324" in capsys.readouterr().out  # 272,474 + 90 * (64 + 1)


def test_unknown_pattern_is_an_error_that_lists_names(capsys):
    assert main(["architectures", "alexnet*"]) == 2
    assert "known: dunet" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["architectures", "--help"]])
def test_every_help_works(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 0
    assert "usage: cafd" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "cafd_zoo", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "architectures" in done.stdout
