# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Content hashes of files: the one implementation every stage uses.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import hashlib
from typing import Any

SUPPORTED_ALGORITHMS = ("sha512", "sha384", "sha256", "sha1", "md5")
READ_BLOCK = 1024 * 1024


class UnsupportedAlgorithm(ValueError):
    """A hash algorithm name this collection does not accept."""


def new_hash(algorithm: str) -> Any:
    """A fresh ``hashlib`` object for one of SUPPORTED_ALGORITHMS."""
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise UnsupportedAlgorithm(
            "Unsupported hash algorithm '{}': use one of {}.".format(algorithm, ", ".join(SUPPORTED_ALGORITHMS))
        )
    return hashlib.new(algorithm)


def file_digest(path: str, algorithm: str = "sha256", block: int = READ_BLOCK) -> str:
    """Hex digest of the bytes of ``path``, read once in ``block``-sized pieces (memory stays flat)."""
    digest = new_hash(algorithm)
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(block)
            if not chunk:
                break
            digest.update(chunk)
    return str(digest.hexdigest())


def text_sha256(value: str) -> str:
    """Hex sha256 of a text (UTF-8, undecodable bytes kept as they are)."""
    return hashlib.sha256(value.encode("utf-8", "surrogateescape")).hexdigest()
