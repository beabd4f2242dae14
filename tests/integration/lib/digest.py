# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hashes of files as the tests compare them with what the build report, DIB or Glance say."""

import hashlib


def file_digest(path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path) -> str:
    return file_digest(path, "sha256")


def sha512(path) -> str:
    return file_digest(path, "sha512")
