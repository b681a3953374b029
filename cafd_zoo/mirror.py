"""A read-only Hugging Face Hub mirror for air-gapped clusters, and the zoo's download test fixture.

It speaks just the part of the Hub protocol that ``huggingface_hub.hf_hub_download`` uses, so
``HF_ENDPOINT=<url>`` (or ``endpoint=<url>``) makes unchanged code download from a plain folder::

    DIR/<org>/<name>/<40-hex commit>/<filename>     the files of one commit
    DIR/<org>/<name>/refs/<branch>                  text file holding a commit hash (e.g. refs/main)

``HEAD``/``GET /<org>/<name>/resolve/<revision>/<filename>`` answer with the headers the client reads
(``X-Repo-Commit``, a quoted sha256 ``ETag``, ``Content-Length``) and honour ``Range: bytes=N-`` for
resumed downloads. Misses get a 404 with the ``X-Error-Code`` the client maps to
``RepositoryNotFoundError`` / ``RevisionNotFoundError`` / ``RemoteEntryNotFoundError``.

Abuse it is built to take: files and refs reached through a symlink that leads out of the folder
are refused (403); a connection that sends nothing, half a request, or stops reading is dropped
after ``timeout`` seconds (one stalled client holds one thread, not forever); path segments over
255 bytes get a 400 and absurd ``Range`` numbers a 416 or the whole file, never a traceback; a file
is hashed once per (path, mtime, size), however many first requests arrive together.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

from .integrity import sha256_of

__all__ = ["FAULTS", "MirrorServer", "serve"]

FAULTS = ("500", "truncate", "flip")
_CHUNK = 1 << 20
_COMMIT = re.compile(r"[0-9a-f]{40}")
_RANGE = re.compile(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", re.IGNORECASE)
_MAX_SEGMENT = 255  # bytes: the longest file name POSIX file systems take
_HUGE = 1 << 62  # any Range number longer than 18 digits is past the end of every file
DEFAULT_TIMEOUT = 60.0  # seconds a connection may sit idle or half-sent


class _Refused(Exception):
    """An error answer: HTTP status, plus the ``X-Error-Code`` that picks the client's exception class."""

    def __init__(
        self, status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def _segments(text: str, what: str) -> list[str]:
    """Split a decoded URL part on '/', refusing anything that could leave the repository folder."""
    parts = text.split("/")
    if any(p in ("", ".", "..") or "\\" in p or "\0" in p for p in parts):
        raise _Refused(400, f"invalid {what}: {text!r}")
    if any(len(p.encode("utf-8", "surrogateescape")) > _MAX_SEGMENT for p in parts):
        raise _Refused(400, f"invalid {what}: a path segment is over {_MAX_SEGMENT} bytes")
    return parts


def _number(digits: str) -> int:
    """A Range number; thousands of digits (which int() refuses) mean 'beyond any file'."""
    return int(digits) if len(digits) <= 18 else _HUGE


def _byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single ``bytes=`` range; None means 'send it all' (absent or unparsable,
    as RFC 9110 allows); raises _Refused(416) when the range starts past the end."""
    m = _RANGE.fullmatch(header) if header else None
    if m is None or not (m[1] or m[2]):
        return None
    if m[1]:
        first = _number(m[1])
        last = min(_number(m[2]), size - 1) if m[2] else size - 1
        if m[2] and _number(m[2]) < first:
            return None
    else:  # suffix range: the last N bytes ("bytes=-0" asks for nothing)
        n = _number(m[2])
        first, last = (max(size - n, 0) if n else size), size - 1
    if first >= size:
        unsatisfiable = {"Content-Range": f"bytes */{size}"}
        raise _Refused(416, f"range {header!r} not satisfiable for {size} bytes", headers=unsatisfiable)
    return first, last


class MirrorServer:
    """Serve ``root`` in a daemon thread: ``with MirrorServer(d) as s: hf_hub_download(..., endpoint=s.url)``.

    ``faults`` maps a repo-relative filename to an injected failure of the GET that carries its body
    (HEAD stays healthy, so the client commits to the download, as with a flaky link):
    ``"500"`` answers HTTP 500; ``"truncate"`` sends the real headers but the body stops at the file's
    midpoint (a resumed ``Range`` request past it gets no bytes either), then closes; ``"flip"`` inverts
    the byte at the midpoint while headers (``ETag``, length) still describe the real file.
    """

    def __init__(
        self,
        root: str | Path,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        faults: dict[str, str] | None = None,
        verbose: bool = False,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"mirror root {self.root} is not a directory")
        self.faults = dict(faults or {})
        bad = {k: v for k, v in self.faults.items() if v not in FAULTS}
        if bad:
            raise ValueError(f"unknown faults {bad}; known: {FAULTS}")
        self.verbose = verbose
        if not timeout > 0:
            raise ValueError(f"timeout must be positive seconds, got {timeout}")
        self.timeout = timeout
        self._etags: dict[tuple[str, int, int], str] = {}
        self._hashing: dict[tuple[str, int, int], threading.Lock] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._httpd = ThreadingHTTPServer((host, port), _Handler)  # binds now, so `url` is known before start()
        self._httpd.daemon_threads = True
        self._httpd.mirror = self  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MirrorServer:
        """Serve in a daemon thread (a forgotten server never blocks interpreter exit)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, args=(0.05,), name=f"mirror {self.url}", daemon=True
            )  # a short poll interval makes stop() quick
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port; every response closes its connection, so nothing lingers."""
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join()
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MirrorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def resolve(self, org: str, name: str, revision: str, filename: str) -> tuple[str, Path]:
        """(commit, file path) for a request; raises _Refused(404, code) the way the Hub does for misses."""
        parts = _segments(filename, "filename")
        if len(_segments(f"{org}/{name}", "repo id")) != 2:
            raise _Refused(400, f"invalid repo id: {org}/{name}")
        repo = self.root / org / name
        if not self._inside(repo) or not repo.is_dir():
            raise _Refused(404, f"repository {org}/{name} not found", "RepoNotFound")
        commit: str | None = revision
        if not _COMMIT.fullmatch(revision):
            ref = repo.joinpath("refs", *_segments(revision, "revision"))
            if ref.is_file() and not self._inside(ref):
                raise _Refused(403, f"ref {revision} of {org}/{name} links outside the mirror folder")
            commit = ref.read_text().strip() if ref.is_file() else None
        if commit is None or not _COMMIT.fullmatch(commit) or not (repo / commit).is_dir():
            raise _Refused(404, f"revision {revision} not found in {org}/{name}", "RevisionNotFound")
        path = repo.joinpath(commit, *parts)
        if not path.is_file():
            raise _Refused(404, f"{filename} not found in {org}/{name}@{commit}", "EntryNotFound",
                           headers={"X-Repo-Commit": commit})
        if not self._inside(path):
            raise _Refused(403, f"{filename} in {org}/{name}@{commit} links outside the mirror folder")
        return commit, path

    def _inside(self, path: Path) -> bool:
        """Whether ``path``, all symlinks followed, stays in the mirror folder (links within it are fine)."""
        return path.resolve().is_relative_to(self.root)

    def sha256(self, path: Path, st: os.stat_result) -> str:
        """The file's sha256 (the ETag the Hub gives LFS files), hashed once per (path, mtime, size):
        concurrent first requests wait for the one hash under way instead of each reading the file."""
        key = (str(path), st.st_mtime_ns, st.st_size)
        with self._lock:
            cached = self._etags.get(key)
            if cached is not None:
                return cached
            hashing = self._hashing.setdefault(key, threading.Lock())
        with hashing:
            with self._lock:
                cached = self._etags.get(key)
            if cached is None:
                try:
                    cached = sha256_of(path)
                    with self._lock:  # older versions of the file will not be asked for again
                        for old in [k for k in self._etags if k[0] == key[0]]:
                            del self._etags[old]
                        self._etags[key] = cached
                finally:
                    with self._lock:
                        self._hashing.pop(key, None)
        return cached


class _Handler(BaseHTTPRequestHandler):
    """One request: parse ``/<org>/<name>/resolve/<revision>/<filename>``, answer headers, stream the body."""

    protocol_version = "HTTP/1.1"  # needed for 206; every answer still says Connection: close
    server_version = "cafd-mirror"

    @property
    def mirror(self) -> MirrorServer:
        return self.server.mirror  # type: ignore[attr-defined]

    def setup(self) -> None:
        self.timeout = self.mirror.timeout  # the socket timeout: a stalled client is dropped, not waited for
        super().setup()

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def log_message(self, format: str, *args: object) -> None:
        if self.mirror.verbose:
            super().log_message(format, *args)

    def _answer(self, send_body: bool) -> None:
        self._body_started = False
        try:
            raw = urlsplit(self.path).path.split("/")
            if len(raw) < 6 or raw[0] != "" or raw[3] != "resolve":
                raise _Refused(404, f"not a /<org>/<name>/resolve/<revision>/<filename> url: {self.path}")
            org, name, revision = unquote(raw[1]), unquote(raw[2]), unquote(raw[4])
            filename = "/".join(unquote(p) for p in raw[5:])
            commit, path = self.mirror.resolve(org, name, revision, filename)
            fault = self.mirror.faults.get(filename) if send_body else None
            if fault == "500":
                raise _Refused(500, f"injected fault for {filename}")
            self._send_file(commit, path, send_body, fault)
        except _Refused as e:
            self._send_error(e, send_body)
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True  # the client went away or stopped reading mid-body; nothing to answer
        except OSError as e:  # a name the file system refuses (ENAMETOOLONG, EILSEQ, ...): the request's fault
            if self._body_started:
                self.close_connection = True
            else:
                self._send_error(_Refused(400, f"invalid path: {e.strerror or e}"), send_body)

    def _send_error(self, e: _Refused, send_body: bool) -> None:
        body = json.dumps({"error": e.message}).encode()
        self.send_response(e.status)
        if e.code:
            self.send_header("X-Error-Code", e.code)
        # escaped: the message quotes the decoded URL, which must not smuggle CR/LF or non-latin-1 into a header
        self.send_header("X-Error-Message", e.message.encode("unicode_escape").decode("ascii"))
        for key, value in e.headers.items():  # X-Repo-Commit on a missing file lets the client cache the miss
            self.send_header(key, value)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if send_body:
            self.wfile.write(body)

    def _send_file(self, commit: str, path: Path, send_body: bool, fault: str | None) -> None:
        st = path.stat()
        size = st.st_size
        etag = self.mirror.sha256(path, st)
        span = _byte_range(self.headers.get("Range"), size) if send_body else None
        first, last = span if span else (0, size - 1)
        self.send_response(206 if span else 200)
        self.send_header("X-Repo-Commit", commit)
        self.send_header("ETag", f'"{etag}"')
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(last - first + 1))
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        self._body_started = True
        if not send_body:
            return
        stop = min(last + 1, size // 2) if fault == "truncate" else last + 1
        flip_at = size // 2 if fault == "flip" else -1
        with path.open("rb") as f:
            f.seek(first)
            pos = first
            while pos < stop and (chunk := f.read(min(_CHUNK, stop - pos))):
                if pos <= flip_at < pos + len(chunk):
                    chunk = bytearray(chunk)
                    chunk[flip_at - pos] ^= 0xFF
                self.wfile.write(chunk)
                pos += len(chunk)


def serve(root: str | Path, host: str = "127.0.0.1", port: int = 8080, *, verbose: bool = False,
          timeout: float = DEFAULT_TIMEOUT) -> None:
    """Serve ``root`` in the foreground until Ctrl-C (``cafd mirror serve DIR``)."""
    server = MirrorServer(root, host, port, verbose=verbose, timeout=timeout)
    print(f"Serving Hugging Face mirror of {server.root} at {server.url}")
    print(f"export HF_ENDPOINT={server.url}", flush=True)
    try:
        server._httpd.serve_forever()
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.stop()
