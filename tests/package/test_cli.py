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
    assert "denoiser" in (out := capsys.readouterr().out) and "11,038,851" in out
    assert main(["architectures", "resnet20", "--num-classes", "100"]) == 0
    assert "278,324" in capsys.readouterr().out  # 272,474 + 90 * (64 + 1)


def test_unknown_pattern_is_an_error_that_lists_names(capsys):
    assert main(["architectures", "alexnet*"]) == 2
    assert "known: ape_gan_discriminator, ape_gan_generator, dunet" in capsys.readouterr().err


def test_architectures_of_one_task(capsys):
    assert main(["architectures", "*n*", "--task", "denoiser"]) == 0
    rows = [line.split()[:2] for line in capsys.readouterr().out.splitlines()[1:]]
    assert rows == [["ape_gan_generator", "denoiser"], ["dunet", "denoiser"]]
    assert main(["architectures", "dunet", "--task", "classifier"]) == 2
    assert "no classifier matches 'dunet'; known: resnet20, resnet50" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["--help"], ["architectures", "--help"]])
def test_every_help_works(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 0
    assert "usage: cafd" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    done = subprocess.run([sys.executable, "-m", "cafd_zoo", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "architectures" in done.stdout


def test_list_and_info(capsys):
    assert main(["list", "cafd_*_cifar10"]) == 0
    out = capsys.readouterr().out
    assert "cafd_vgg19_cifar10" in out and "unpublished" in out and "vgg19_svhn" not in out
    assert main(["info", "cafd_vgg19_cifar10"]) == 0
    out = capsys.readouterr().out
    assert "11,038,851 parameters" in out and "status stored" in out and "release store" in out and "deviation" in out
    assert main(["info", "vgg19_svhn"]) == 0
    out = capsys.readouterr().out
    assert "metrics: none measured yet" in out and "load: no weights yet (No SVHN source is reachable" in out
    assert main(["info", "vgg19_cifar10", "--json"]) == 0
    assert '"num_params": 20040522' in capsys.readouterr().out


def test_zoo_errors_are_one_line_without_a_traceback(capsys):
    assert main(["info", "cafd_vgg19"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("cafd: error: unknown model 'cafd_vgg19'") and "Traceback" not in err
    assert main(["download", "cafd_wrn28_20_cifar10"]) == 1
    assert "no trained weights yet" in capsys.readouterr().err


def test_download_verifies_into_the_cache(tmp_path, monkeypatch, capsys):
    from cafd_zoo.mirror import MirrorServer

    from ..tiny_zoo import NAME, build_tiny_zoo

    zoo = build_tiny_zoo(tmp_path)
    monkeypatch.setenv("CAFD_MANIFEST", str(zoo.manifest_path))
    with MirrorServer(zoo.mirror_root) as server:
        assert main(["download", NAME, "--endpoint", server.url, "--cache-dir", str(tmp_path / "cache")]) == 0
    out = capsys.readouterr().out
    assert out.count("(size and sha256 verified)") == 2


@pytest.mark.parametrize("argv", [["list", "--help"], ["info", "--help"], ["download", "--help"],
                                  ["demo", "--help"], ["predict", "--help"],
                                  ["mirror", "--help"], ["mirror", "serve", "--help"]])
def test_every_subcommand_help_works(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(argv)
    assert exit_info.value.code == 0
    assert "usage: cafd" in capsys.readouterr().out


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`cafd info NAME | head -1`: the pipe closes under the writer; Unix tools end quietly."""
    import subprocess
    import sys

    done = subprocess.run(f"{sys.executable} -m cafd_zoo info cafd_resnet20_cifar10 | head -c 10",
                          shell=True, capture_output=True, text=True, timeout=120)
    assert done.stdout == "cafd_resne" and "Traceback" not in done.stderr and "Broken pipe" not in done.stderr


def test_info_puts_each_attack_on_one_line_with_a_column_per_threat_model(capsys):
    from cafd_zoo.metrics_table import metrics_table

    def metric(target, threat, attack, rate, n, steps=20, command="cafd evaluate --data DIR"):
        return {"target": target, "threat_model": threat, "attack": attack, "error_rate": rate, "n": n,
                "budget": {"steps": steps} if attack != "none" else {}, "command": command}

    lines = metrics_table([metric("classifier", "clean", "none", 0.07, 1000),
                           metric("classifier", "clean", "none", 0.0729, 10000),
                           metric("defended", "clean", "none", 0.095, 200, command="cafd evaluate --embedded --n 200"),
                           metric("classifier", "whitebox", "pgd_n", 1.0, 10000),
                           metric("defended", "oblivious", "pgd_n", 0.1904, 10000),
                           metric("defended", "bpda", "pgd_n", 0.545, 1000, steps=10)])
    assert lines[:2] == ["clean, classifier alone: 7.29% (n=10,000)",
                         "clean, with the defense, embedded sample: 9.50% (n=200)"]
    header, *rows = lines[3:]
    assert header.split() == ["attack", "classifier", "alone", "oblivious", "BPDA"]
    assert rows[0].split() == ["pgd_n,", "20", "steps", "100.00", "(10,000)", "19.04", "(10,000)", "-"]
    assert rows[1].split() == ["pgd_n,", "10", "steps", "-", "-", "54.50", "(1,000)"]
    assert main(["info", "cafd_vgg19_cifar10", "--commands"]) == 0
    out = capsys.readouterr().out
    assert "error % under attack" in out and "command: cafd evaluate --model cafd_vgg19_cifar10" in out
    assert main(["info", "cafd_vgg19_cifar10"]) == 0
    assert "command: cafd evaluate" not in capsys.readouterr().out  # only on request


def test_list_shows_each_release_clean_oblivious_and_whitebox_pgd20_on_the_most_images(capsys):
    from cafd_zoo.metrics_table import headline

    def metric(target, threat, attack, rate, n, steps=20, command="cafd evaluate --data DIR"):
        return {"target": target, "threat_model": threat, "attack": attack, "error_rate": rate, "n": n,
                "budget": {"steps": steps}, "command": command}

    defended = [metric("defended", "clean", "none", 0.095, 200, command="cafd evaluate --embedded"),
                metric("defended", "clean", "none", 0.1018, 10000), metric("defended", "clean", "none", 0.099, 1000),
                metric("classifier", "clean", "none", 0.0729, 10000),
                metric("defended", "oblivious", "pgd_n", 0.196, 1000),
                metric("defended", "oblivious", "pgd_n", 0.1904, 10000),
                metric("defended", "bpda", "pgd_n", 0.616, 1000),
                metric("defended", "whitebox", "pgd_n", 0.9, 1000, steps=10),
                metric("defended", "whitebox", "pgd_n", 1.0, 1000)]
    assert headline(defended) == {"clean": 0.1018, "pgd20_oblivious": 0.1904, "pgd20_whitebox": 1.0}
    classifier = [metric("classifier", "clean", "none", 0.06, 200, command="cafd evaluate --embedded"),
                  metric("classifier", "whitebox", "pgd_n", 1.0, 1000)]
    assert headline(classifier) == {"clean": 0.06, "pgd20_oblivious": None, "pgd20_whitebox": 1.0}
    assert main(["list", "vgg19_svhn"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:7] == ["vgg19_svhn", "classifier", "svhn", "unpublished", "-", "-", "-"]
