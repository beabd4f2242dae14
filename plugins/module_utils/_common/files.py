# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The "readable, non-empty regular file" rule for files operators hand in, and atomic writes.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import os
import tempfile


class FileProblem(ValueError):
    """A file that cannot be used; the message names the path and what is wrong with it."""


def check_readable_file(path: str) -> int:
    """Return the size of ``path``; refuse a missing, non-regular, unreadable or empty file."""
    if not os.path.exists(path):
        raise FileProblem(f"{path} does not exist")
    if not os.path.isfile(path):
        raise FileProblem(f"{path} is not a regular file")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise FileProblem(f"{path} cannot be read ({exc.strerror or exc})") from None
    size = os.path.getsize(path)
    if size == 0:
        raise FileProblem(f"{path} is empty")
    return size


def write_atomically(path: str, data: str | bytes, mode: int = 0o644, durable: bool = False) -> None:
    """Replace ``path`` with ``data`` (text is written as UTF-8) in one step: a reader sees the old file or
    the new one, never a part. ``durable``: the data is on disk before the rename (fsync)."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=folder)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data.encode("utf-8") if isinstance(data, str) else data)
            if durable:
                out.flush()
                os.fsync(out.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
