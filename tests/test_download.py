"""The download path, against a real HTTP server on 127.0.0.1 serving the corpus archive."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nameorigin.data.corpus import load_corpus
from nameorigin.data.download import cache_dir
from nameorigin.errors import DataError


@pytest.fixture(scope="module")
def server(data_zip):
    """Serves /data.zip, a truncated copy, an archive with a path-traversal member, a body cut
    short of its Content-Length, and a 404."""
    good = data_zip.read_bytes()
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("data/names/Chinese.txt", "Qin\n")
        z.writestr("data/names/Russian.txt", "Ivanov\n")
        z.writestr("data/names/../../../evil.txt", "owned\n")
    routes = {"/data.zip": good, "/truncated.zip": good[: len(good) // 2], "/evil.zip": evil.getvalue()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/short.zip":
                self.send_response(200)
                self.send_header("Content-Length", str(len(good)))
                self.end_headers()
                self.wfile.write(good[:1000])
                return
            body = routes.get(self.path)
            if body is None:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _leftovers():
    folder = cache_dir()
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_download_verifies_and_caches(server, names_dir, monkeypatch):
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", f"{server}/data.zip")
    corpus = load_corpus(progress=False)
    assert corpus.fingerprint == load_corpus(names_dir).fingerprint
    assert _leftovers() == ["data.zip"]
    # the second load reads the cache: the server is no longer asked
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", f"{server}/missing.zip")
    assert load_corpus(progress=False).fingerprint == corpus.fingerprint


@pytest.mark.parametrize("path, message", [
    ("/truncated.zip", "not a readable zip"),
    ("/short.zip", "could not download|cut short"),
    ("/evil.zip", "path traversal"),
    ("/missing.zip", "404"),
])
def test_bad_downloads_leave_nothing_behind(server, monkeypatch, path, message):
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", server + path)
    with pytest.raises(DataError, match=message) as caught:
        load_corpus(progress=False)
    assert _leftovers() == []
    assert server + path in str(caught.value) and ".part" not in str(caught.value)  # the URL, not a temp file


def test_cache_problems_are_named_as_such(server, monkeypatch, tmp_path):
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", f"{server}/missing.zip")
    cache_dir().mkdir(parents=True, exist_ok=True)
    (cache_dir() / "data.zip").write_bytes(b"<html>not a zip</html>")
    with pytest.raises(DataError, match="not a readable zip .*download cache: delete the file"):
        load_corpus(progress=False)
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("NAMEORIGIN_CACHE", str(tmp_path / "a-file" / "cache"))
    with pytest.raises(DataError, match="can't write the download cache .*NAMEORIGIN_CACHE"):
        load_corpus(progress=False)


def test_offline_error_says_how_to_work_offline(tmp_path):
    env = {"NAMEORIGIN_CACHE": str(tmp_path), "NAMEORIGIN_DATA_URL": "http://127.0.0.1:9/data.zip",
           "PATH": "", "TQDM_DISABLE": "1"}
    proc = subprocess.run([sys.executable, "-m", "nameorigin.cli", "train", "--out", str(tmp_path / "m")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "NAMEORIGIN_DATA" in proc.stderr and proc.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_a_download_too_large_for_a_corpus_is_refused(server, monkeypatch):
    from nameorigin.data import download

    monkeypatch.setattr(download, "MAX_DOWNLOAD", 10_000)
    monkeypatch.setenv("NAMEORIGIN_DATA_URL", f"{server}/data.zip")
    with pytest.raises(DataError, match=r"is larger than \d+ MB, so it is not the corpus archive"):
        load_corpus(progress=False)
    assert _leftovers() == []
