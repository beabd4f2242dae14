# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The "readable, non-empty regular file" rule for files operators hand in.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import os


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
