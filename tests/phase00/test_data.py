"""phase00.data: lookup order, SHA-256 checks, atomic downloads, clear errors.

Downloads are tested against a throwaway HTTP server on 127.0.0.1; nothing leaves the machine.
"""

import hashlib
import http.server
import threading
from pathlib import Path

import pytest

from phase00 import data

PAYLOAD = b"First Citizen:\nBefore we proceed any further, hear me speak.\n"


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1 at a free port; yields the base URL."""
    www = tmp_path / "www"
    www.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a, **kw):
            super().__init__(*a, directory=str(www), **kw)

        def log_message(self, *a):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield www, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No FROMSCRATCH_DATA, an empty cache under tmp_path, and a fake entry 'toy.txt'."""
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))

    def register(url, payload=PAYLOAD):
        entry = data.DataFile("toy.txt", url, hashlib.sha256(payload).hexdigest())
        monkeypatch.setitem(data.FILES, "toy.txt", entry)
        return entry

    return register


def test_shared_data_is_found_and_verified():
    # conftest points FROMSCRATCH_DATA at ../shared/data
    text = data.read_text()
    assert len(text) == 1_115_394
    assert len(set(text)) == 65
    assert data.path("gpt2/vocab.bpe").stat().st_size > 0


def test_cache_dir_honours_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert data.cache_dir() == tmp_path / "fromscratch"


def test_env_folder_comes_first(isolated, tmp_path, monkeypatch):
    isolated("http://127.0.0.1:9/never-used")
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "toy.txt").write_bytes(PAYLOAD)
    monkeypatch.setenv(data.ENV_VAR, str(folder))
    assert data.path("toy.txt") == folder / "toy.txt"


def test_real_download_into_cache(isolated, server):
    www, base = server
    (www / "toy.txt").write_bytes(PAYLOAD)
    isolated(f"{base}/toy.txt")
    got = data.path("toy.txt")
    assert got == data.cache_dir() / "toy.txt"
    assert got.read_bytes() == PAYLOAD
    # second call: served from the cache (the server's copy is gone)
    (www / "toy.txt").unlink()
    assert data.path("toy.txt").read_bytes() == PAYLOAD


def test_download_with_wrong_hash_saves_nothing(isolated, server):
    www, base = server
    (www / "toy.txt").write_bytes(PAYLOAD + b"tampered")
    isolated(f"{base}/toy.txt")
    with pytest.raises(data.DataError) as e:
        data.path("toy.txt")
    msg = str(e.value)
    assert "toy.txt" in msg and f"{base}/toy.txt" in msg and "nothing was saved" in msg
    assert "To place it by hand" in msg
    leftovers = list((data.cache_dir()).iterdir()) if data.cache_dir().exists() else []
    assert leftovers == []  # no partial, no .part file


def test_missing_on_server_is_a_clear_error(isolated, server):
    _, base = server
    isolated(f"{base}/absent.txt")
    with pytest.raises(data.DataError, match=r"toy.txt: download from .*absent.txt failed.*404"):
        data.path("toy.txt")
    assert not (data.cache_dir() / "toy.txt").exists()


def test_offline_is_a_clear_error(isolated):
    # port 9 (discard) on loopback: connection refused, like a machine with no network
    isolated("http://127.0.0.1:9/toy.txt")
    with pytest.raises(data.DataError, match="Are you offline.*To place it by hand: download http://127.0.0.1:9/toy.txt"):
        data.path("toy.txt")
    assert not any(data.cache_dir().glob("*")) if data.cache_dir().exists() else True


def test_no_download_when_not_allowed(isolated):
    isolated("http://127.0.0.1:9/toy.txt")
    with pytest.raises(data.DataError, match="toy.txt: not found in"):
        data.path("toy.txt", allow_download=False)


def test_corrupt_cached_file_is_reported_not_used(isolated):
    entry = isolated("http://127.0.0.1:9/toy.txt")
    cached = data.cache_dir() / "toy.txt"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"garbage")
    with pytest.raises(data.DataError, match=f"toy.txt: SHA-256 mismatch at {cached}.*expected {entry.sha256}"):
        data.path("toy.txt")
    assert cached.read_bytes() == b"garbage"  # the user's file is left for them to inspect


def test_corrupt_env_file_is_reported(isolated, tmp_path, monkeypatch):
    isolated("http://127.0.0.1:9/toy.txt")
    folder = tmp_path / "local"
    folder.mkdir()
    (folder / "toy.txt").write_bytes(b"not it")
    monkeypatch.setenv(data.ENV_VAR, str(folder))
    with pytest.raises(data.DataError, match="SHA-256 mismatch"):
        data.path("toy.txt")


def test_unknown_name():
    with pytest.raises(data.DataError, match="unknown data file 'nope'"):
        data.path("nope")


def test_registered_hashes_match_shared_sums():
    sums = Path(__file__).resolve().parents[3] / "shared" / "data" / "SHA256SUMS"
    if not sums.exists():
        pytest.fail(f"expected the reference data beside the repo at {sums}")
    listed = dict(reversed(line.split()) for line in sums.read_text().splitlines() if line.strip())
    assert {name: f.sha256 for name, f in data.FILES.items()} == listed


def test_train_val_split():
    tr, va = data.train_val_split("abcdefghij", 0.2)
    assert (tr, va) == ("abcdefgh", "ij")
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_split("abc", 1.5)
