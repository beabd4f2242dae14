# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading an image file once: hashing while Glance reads it, the ``checksum`` option, the hash cache.

PRIVATE to the collection: no compatibility promise outside it.

An upload must stream the file (memory stays flat whatever the size) and the
module must know the file's hash to compare it with Glance's ``os_hash_value``.
Reading a multi-GiB file twice (hash, then upload) doubles the time, so:

- ``HashingReader`` wraps the open file and updates the digest as the HTTP
  client reads each block; after the upload the digest is compared with the
  value Glance computed on its side.
- Deciding whether an upload is needed at all requires the hash *before*
  uploading. It comes, in this order, from: the ``checksum`` the caller
  already has (the build report), the ``HashCache`` (a small JSON record per
  file in the user's cache folder, valid while path, size, mtime and inode are
  unchanged), or, only when Glance holds an image of exactly the same size, a
  hashing pass over the file (``_common.hashing.file_digest``). When that pass
  finds the same data, no upload follows, so the file is still read once.

Before an upload starts, a given ``checksum`` is checked against the file
whatever its algorithm (``publish.Publisher.check_checksum``): one that is not
the upload's algorithm would otherwise never be compared with anything.
"""

from __future__ import annotations

import json
import os
import queue
import tempfile
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import (
    READ_BLOCK,
    UnsupportedAlgorithm,
    new_hash,
    text_sha256,
)

__all__ = ["READ_BLOCK", "ChecksumError", "HashCache", "HashingReader", "default_cache_dir", "file_identity",
           "parse_checksum"]


class ChecksumError(ValueError):
    """A ``checksum`` option that cannot be understood."""


def parse_checksum(value: str | None, default_algorithm: str) -> tuple[str, str] | None:
    """``'sha512:ab12..'`` or a bare hex digest of ``default_algorithm`` -> ``(algorithm, hexdigest)``."""
    if value is None:
        return None
    text = str(value).strip().lower()
    algorithm, sep, digest = text.partition(":")
    if not sep:
        algorithm, digest = default_algorithm, text
    try:
        expected = new_hash(algorithm).digest_size * 2
    except UnsupportedAlgorithm as exc:
        raise ChecksumError(str(exc)) from None
    if len(digest) != expected or any(c not in "0123456789abcdef" for c in digest):
        raise ChecksumError(
            "Option 'checksum' must be '<algorithm>:<hex digest>' (e.g. sha512:...) or a bare {} hex digest "
            "of {} characters; got {!r}.".format(algorithm, expected, value if len(text) < 20 else text[:20] + "..."))
    return algorithm, digest


class HashingReader:
    """File-like wrapper: every block read from ``fileobj`` also feeds the digest.

    ``len()`` is the number of bytes left, so an HTTP client sends a
    Content-Length and streams with ``read()`` (never loads the file).
    ``stream()`` is the same data as an iterable of ``READ_BLOCK`` blocks (what
    the upload sends: urllib3 reads a file-like body 16 KiB at a time).

    With ``threaded`` the digest is computed by a second thread while the
    caller sends the block (hashlib releases the GIL for large blocks), at most
    ``QUEUE_BLOCKS`` blocks behind; ``hexdigest()`` waits for it.
    """

    QUEUE_BLOCKS = 4

    def __init__(self, fileobj: IO[bytes], size: int, algorithm: str,
                 progress: Callable[[int], Any] | None = None, threaded: bool = False) -> None:
        self._file = fileobj
        self._size = size
        self._hash = new_hash(algorithm)
        self.algorithm = algorithm
        self.bytes_read = 0
        self._progress = progress
        self._queue: queue.Queue[bytes | None] | None = queue.Queue(self.QUEUE_BLOCKS) if threaded else None
        self._worker: threading.Thread | None = None

    def _hash_blocks(self, blocks: queue.Queue[bytes | None]) -> None:
        while True:
            block = blocks.get()
            if block is None:
                return
            self._hash.update(block)

    def _feed(self, block: bytes) -> None:
        if self._queue is None:
            self._hash.update(block)
            return
        if self._worker is None:
            self._worker = threading.Thread(target=self._hash_blocks, args=(self._queue,), name="hash", daemon=True)
            self._worker.start()
        self._queue.put(block)

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = READ_BLOCK
        block = self._file.read(size)
        if block:
            self._feed(block)
            self.bytes_read += len(block)
            if self._progress is not None:
                self._progress(self.bytes_read)
        return block

    def __iter__(self) -> Iterator[bytes]:
        while True:
            block = self.read(READ_BLOCK)
            if not block:
                return
            yield block

    def __len__(self) -> int:
        return max(self._size - self.bytes_read, 0)

    def stream(self) -> _Blocks:
        """The rest of the data as an iterable of large blocks with a length (for the HTTP body)."""
        return _Blocks(self)

    @property
    def complete(self) -> bool:
        return self.bytes_read == self._size

    def close(self) -> None:
        """Stop the hashing thread (after a failed upload too)."""
        if self._worker is not None and self._queue is not None:
            self._queue.put(None)
            self._worker.join()
            self._worker = None

    def hexdigest(self) -> str:
        self.close()
        return str(self._hash.hexdigest())


class _Blocks:
    """An iterable body with a length and no ``read``: the HTTP client sends each block as it is."""

    def __init__(self, reader: HashingReader) -> None:
        self._reader = reader

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._reader)

    def __len__(self) -> int:
        return len(self._reader)


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "dbaas-guest-images", "hashes")


def file_identity(path: str) -> dict[str, Any]:
    """What must not change for a cached hash to stay valid."""
    st = os.stat(path)
    return {"path": os.path.realpath(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "inode": st.st_ino, "device": st.st_dev}


class HashCache:
    """One JSON record per (file, algorithm) in ``directory``; a stale record is ignored."""

    def __init__(self, directory: str | None = None) -> None:
        self.directory = directory or default_cache_dir()

    def _record_path(self, identity: dict[str, Any], algorithm: str) -> str:
        key = text_sha256(identity["path"])[:32]
        return os.path.join(self.directory, f"{key}.{algorithm}.json")

    def get(self, path: str, algorithm: str) -> str | None:
        try:
            identity = file_identity(path)
            with open(self._record_path(identity, algorithm)) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        if record.get("identity") != identity or record.get("algorithm") != algorithm:
            return None
        value = record.get("hexdigest")
        return value if isinstance(value, str) else None

    def put(self, path: str, algorithm: str, hexdigest: str, identity: dict[str, Any] | None = None) -> bool:
        """Remember ``hexdigest``; ``identity`` is the one taken *before* reading (a file changed
        while being read is then not cached under its new identity). Failures are ignored."""
        try:
            identity = identity or file_identity(path)
            if identity != file_identity(path):
                return False
            os.makedirs(self.directory, mode=0o700, exist_ok=True)
            target = self._record_path(identity, algorithm)
            fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".hash-")
            with os.fdopen(fd, "w") as handle:
                json.dump({"identity": identity, "algorithm": algorithm, "hexdigest": hexdigest}, handle)
            os.replace(tmp, target)
            return True
        except OSError:
            return False
