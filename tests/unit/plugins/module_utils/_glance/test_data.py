# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the image file once: the hashing reader, the checksum option and the hash cache."""

import hashlib
import io
import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import file_digest
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance import data as gd


def test_hashing_reader_hashes_what_is_read_in_any_block_size():
    data = os.urandom(3 * 1024 * 1024 + 17)
    reader = gd.HashingReader(io.BytesIO(data), len(data), "sha512")
    assert len(reader) == len(data)
    chunks = []
    sizes = [1, 100, 65536, 4096, 8192]
    while True:
        block = reader.read(sizes[len(chunks) % len(sizes)])
        if not block:
            break
        chunks.append(block)
    assert b"".join(chunks) == data
    assert reader.complete and len(reader) == 0
    assert reader.hexdigest() == hashlib.sha512(data).hexdigest()


def test_hashing_reader_iterates_and_reports_progress():
    data = b"x" * (gd.READ_BLOCK * 2 + 5)
    seen = []
    reader = gd.HashingReader(io.BytesIO(data), len(data), "sha256", progress=seen.append)
    assert b"".join(reader) == data
    assert seen[-1] == len(data)
    assert reader.hexdigest() == hashlib.sha256(data).hexdigest()


def test_hashing_reader_knows_an_incomplete_read():
    reader = gd.HashingReader(io.BytesIO(b"abc"), 10, "sha512")
    reader.read(-1)
    reader.read(5)
    assert not reader.complete and reader.bytes_read == 3


def test_hashing_reader_memory_is_flat():
    class Endless(io.RawIOBase):
        def readinto(self, buf):
            buf[:] = b"\0" * len(buf)
            return len(buf)

    reader = gd.HashingReader(Endless(), 1 << 40, "sha512")
    for _block in range(64):
        assert len(reader.read(1 << 20)) == 1 << 20
    assert reader.bytes_read == 64 << 20


def test_parse_checksum_forms():
    digest = hashlib.sha512(b"a").hexdigest()
    assert gd.parse_checksum("sha512:" + digest, "sha512") == ("sha512", digest)
    assert gd.parse_checksum(digest.upper(), "sha512") == ("sha512", digest)
    short = hashlib.sha256(b"a").hexdigest()
    assert gd.parse_checksum("SHA256:" + short, "sha512") == ("sha256", short)
    assert gd.parse_checksum(short, default_algorithm="sha256") == ("sha256", short)
    assert gd.parse_checksum(None, "sha512") is None


@pytest.mark.parametrize("bad", ["sha512:abc", "zzz", "sha256:" + "g" * 64, "crc32:1234"])
def test_parse_checksum_refuses(bad):
    with pytest.raises(gd.ChecksumError):
        gd.parse_checksum(bad, "sha512")


def test_hash_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"hello" * 100000)
    assert file_digest(str(path), "sha512", block=1000) == hashlib.sha512(b"hello" * 100000).hexdigest()


def test_hash_cache_valid_until_the_file_changes(tmp_path):
    cache = gd.HashCache(str(tmp_path / "cache"))
    path = tmp_path / "image.qcow2"
    path.write_bytes(b"one")
    assert cache.get(str(path), "sha512") is None
    assert cache.put(str(path), "sha512", "d1")
    assert cache.get(str(path), "sha512") == "d1"
    assert cache.get(str(path), "sha256") is None
    os.utime(path, ns=(1, 1))
    assert cache.get(str(path), "sha512") is None
    path.write_bytes(b"two!")
    assert cache.get(str(path), "sha512") is None


def test_hash_cache_refuses_a_file_changed_while_read(tmp_path):
    cache = gd.HashCache(str(tmp_path / "cache"))
    path = tmp_path / "image.qcow2"
    path.write_bytes(b"one")
    identity = gd.file_identity(str(path))
    path.write_bytes(b"changed")
    assert cache.put(str(path), "sha512", "old", identity=identity) is False
    assert cache.get(str(path), "sha512") is None


def test_hash_cache_ignores_unwritable_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cache = gd.HashCache(str(blocker / "sub"))
    path = tmp_path / "image"
    path.write_bytes(b"x")
    assert cache.put(str(path), "sha512", "d") is False
    assert cache.get(str(path), "sha512") is None


def test_default_cache_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert gd.default_cache_dir() == os.path.join(str(tmp_path), "dbaas-guest-images", "hashes")


def test_threaded_stream_hashes_every_block_in_order():
    import hashlib

    data = bytes(range(256)) * 40000  # ~10 MiB: several READ_BLOCKs, more than the queue holds
    reader = gd.HashingReader(io.BytesIO(data), len(data), "sha512", threaded=True)
    body = reader.stream()
    assert len(body) == len(data) and not hasattr(body, "read")
    sent = b"".join(body)
    assert sent == data and reader.complete and len(body) == 0
    assert reader.hexdigest() == hashlib.sha512(data).hexdigest()
    reader.close()  # idempotent


def test_threaded_reader_stops_its_thread_after_a_failed_send():
    import threading

    data = b"x" * (3 * gd.READ_BLOCK)
    reader = gd.HashingReader(io.BytesIO(data), len(data), "sha256", threaded=True)
    next(iter(reader.stream()))
    reader.close()
    assert not any(t.name == "hash" and t.is_alive() for t in threading.enumerate())
