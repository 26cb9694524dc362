"""local/fetch_archive.sh, the recipes' resumable download, against a real HTTP server on
this machine: the file arrives and is marked complete (the caller's message logged first), a
marked file is not fetched again (nor logged), a failed download returns non-zero without the
mark, and a partial file is resumed."""

import functools
import http.server
import shutil
import subprocess
import re
import threading
from pathlib import Path

import pytest

from conftest import REPO

FETCH = REPO / "local" / "fetch_archive.sh"


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Files of its directory, with "Range: bytes=N-" answered by 206 and the tail, as
    the corpus mirrors do (resuming needs it)."""

    def do_GET(self):
        start = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
        path = Path(self.translate_path(self.path))
        if start is None or not path.is_file():
            return super().do_GET()
        data = path.read_bytes()
        offset = int(start.group(1))
        self.ranges.append(offset)  # before the answer: the client may return at once
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {offset}-{len(data) - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(data) - offset))
        self.end_headers()
        self.wfile.write(data[offset:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serves tmp_path/www over HTTP; yields (www dir, base url, resumed offsets)."""
    www = tmp_path / "www"
    www.mkdir()
    ranges = []
    handler = functools.partial(type("H", (RangeHandler,), {"ranges": ranges}), directory=str(www))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}", ranges
    httpd.shutdown()
    httpd.server_close()


def fetch(url, dest, tool_dir=None):
    env = None
    if tool_dir is not None:  # only curl on PATH: the wget-less branch
        env = {"PATH": str(tool_dir)}
    script = f'log() {{ echo "LOG $*"; }}; . "{FETCH}" && fetch_archive "$0" "$1" "fetching $0"'
    return subprocess.run([shutil.which("bash"), "-c", script, url, str(dest)],
                          capture_output=True, text=True, env=env)  # fmt: skip


@pytest.mark.parametrize("tool", ["wget", "curl"])
def test_fetches_once_marks_complete_and_resumes(server, tmp_path, tool):
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")
    tool_dir = tmp_path / "bin"
    tool_dir.mkdir()
    for name in (tool, "touch"):
        (tool_dir / name).symlink_to(shutil.which(name))
    www, base, ranges = server
    payload = bytes(range(256)) * 400
    (www / "corpus.tar.gz").write_bytes(payload)
    dest = tmp_path / "corpus.tar.gz"

    done = fetch(f"{base}/corpus.tar.gz", dest, tool_dir)
    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == payload and (tmp_path / "corpus.tar.gz.complete").exists()
    assert done.stdout == f"LOG fetching {base}/corpus.tar.gz\n"  # the caller's message, logged

    (www / "corpus.tar.gz").write_bytes(b"changed")  # marked: not fetched again
    again = fetch(f"{base}/corpus.tar.gz", dest, tool_dir)
    assert again.returncode == 0 and again.stdout == ""  # nothing to download, nothing logged
    assert dest.read_bytes() == payload

    missing = fetch(f"{base}/none.tar.gz", tmp_path / "none.tar.gz", tool_dir)
    assert missing.returncode != 0 and not (tmp_path / "none.tar.gz.complete").exists()

    (www / "big.tar.gz").write_bytes(payload)
    partial = tmp_path / "big.tar.gz"
    partial.write_bytes(payload[:1000])  # an interrupted download: the rest is appended
    done = fetch(f"{base}/big.tar.gz", partial, tool_dir)
    assert done.returncode == 0, done.stderr
    assert partial.read_bytes() == payload and ranges == [1000]
