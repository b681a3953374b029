"""The mirror under abuse, on 127.0.0.1 only: symlinks out of its folder, stalled clients, absurd paths and
ranges, a busy port, and a stampede of first HEADs."""
from __future__ import annotations

import http.client
import socket
import threading
import time
from pathlib import Path

import pytest

import cafd_zoo.mirror
from cafd_zoo.cli import main
from cafd_zoo.mirror import MirrorServer

from .test_mirror import COMMIT, REPO, _get, server, tree  # noqa: F401  (fixtures)


def test_a_symlink_out_of_the_mirror_is_refused(tree: Path, tmp_path: Path) -> None:  # noqa: F811
    snapshot = tree / REPO / COMMIT
    (tmp_path / "passwd").write_text("root:TOP SECRET")
    (snapshot / "passwd").symlink_to(tmp_path / "passwd")
    (snapshot / "inside.bin").symlink_to(snapshot / "model.safetensors")  # a link within the folder is fine
    (tree / REPO / "refs" / "evil").symlink_to(tmp_path / "secret.txt")
    with MirrorServer(tree) as s:
        r = _get(f"{s.url}/{REPO}/resolve/main/passwd")
        assert r.status == 403 and b"TOP SECRET" not in r.read()
        assert _get(f"{s.url}/{REPO}/resolve/main/inside.bin").status == 200
        assert _get(f"{s.url}/{REPO}/resolve/evil/model.safetensors").status in (403, 404)


def _connect(server: MirrorServer) -> socket.socket:  # noqa: F811  (a plain parameter, not the imported fixture)
    host, port = server._httpd.server_address[:2]
    return socket.create_connection((host, port), timeout=5)


@pytest.mark.parametrize("half_sent", [b"", f"GET /{REPO}/resolve/main/model.safetensors HTTP/1.1\r\nHost: x".encode()])
def test_idle_and_half_sent_connections_are_dropped(tree: Path, half_sent: bytes) -> None:  # noqa: F811
    with MirrorServer(tree, timeout=0.3) as s:
        sock = _connect(s)
        sock.sendall(half_sent)
        started = time.monotonic()
        data = b"x"
        while data and time.monotonic() - started < 5:  # the server closes it: recv returns b""
            data = sock.recv(1024)
        assert data == b"" and time.monotonic() - started < 3
        sock.close()
        assert _get(f"{s.url}/{REPO}/resolve/main/model.safetensors").status == 200  # still serving


@pytest.mark.parametrize("path", [
    f"/{REPO}/resolve/main/{'a' * 300}",
    f"/{'o' * 300}/tiny/resolve/main/model.safetensors",
    f"/{REPO}/resolve/{'r' * 300}/model.safetensors",
])
def test_overlong_path_segments_get_a_4xx(server: MirrorServer, path: str) -> None:  # noqa: F811
    r = _get(server.url + path)
    assert 400 <= r.status < 500


@pytest.mark.parametrize("header, status", [
    ("bytes=" + "9" * 5000 + "-", 416),
    ("bytes=0-" + "9" * 5000, 206),
    ("bytes=-" + "9" * 5000, 206),
])
def test_ranges_with_thousands_of_digits_are_answered(server: MirrorServer, header: str,  # noqa: F811
                                                      status: int) -> None:
    r = _get(f"{server.url}/{REPO}/resolve/main/model.safetensors", Range=header)
    assert r.status == status
    if status == 206:
        assert len(r.read()) == 3200


def test_concurrent_first_heads_hash_the_file_once(tree: Path, monkeypatch) -> None:  # noqa: F811
    calls: list[Path] = []
    real = cafd_zoo.mirror.sha256_of

    def slow_sha256_of(path):
        calls.append(path)
        time.sleep(0.2)  # a large file
        return real(path)

    monkeypatch.setattr(cafd_zoo.mirror, "sha256_of", slow_sha256_of)
    statuses: list[int] = []
    with MirrorServer(tree) as s:
        host, port = s._httpd.server_address[:2]

        def head() -> None:
            connection = http.client.HTTPConnection(host, port, timeout=5)
            connection.request("HEAD", f"/{REPO}/resolve/main/model.safetensors")
            statuses.append(connection.getresponse().status)
            connection.close()

        threads = [threading.Thread(target=head) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    assert statuses == [200] * 6 and len(calls) == 1


def test_serve_on_a_busy_port_or_a_missing_folder_is_one_line(tree: Path, tmp_path: Path, capsys) -> None:  # noqa: F811
    with MirrorServer(tree) as s:
        port = s._httpd.server_address[1]
        assert main(["mirror", "serve", str(tree), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"port {port}" in err and "--port" in err
    assert main(["mirror", "serve", str(tmp_path / "nope"), "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope" in err
