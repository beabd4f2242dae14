# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian version comparison, as dpkg does it (epoch, upstream version, revision).

PRIVATE to the collection: no compatibility promise outside it.

``compare("1:1.0-1", "2.0-1") > 0``: the epoch wins; ``~`` sorts before
anything, even the end of the string (``1.0~rc1 < 1.0``); letters sort
before other characters; digit runs compare as numbers.
"""

from __future__ import annotations

import re

_VALID = re.compile(r"^(?:(\d+):)?([0-9][A-Za-z0-9.+~:-]*?)(?:-([A-Za-z0-9.+~]+))?$")


class InvalidVersion(ValueError):
    """Text that is not a Debian version."""


def split(version: str) -> tuple[int, str, str]:
    """``(epoch, upstream, revision)`` of a Debian version; raises :class:`InvalidVersion`."""
    text = version.strip()
    epoch = 0
    if ":" in text:
        head, text = text.split(":", 1)
        if not head.isdigit():
            raise InvalidVersion(f"{version!r} is not a Debian version: the epoch before ':' must be a number")
        epoch = int(head)
    upstream, revision = text, ""
    if "-" in text:
        upstream, revision = text.rsplit("-", 1)
    if not upstream or not upstream[0].isdigit() or not re.fullmatch(r"[A-Za-z0-9.+~:-]*", upstream[1:]) \
            or not re.fullmatch(r"[A-Za-z0-9.+~]*", revision):
        raise InvalidVersion(f"{version!r} is not a Debian version (e.g. 3.0.16-1~deb12u1 or 1:2.39-1)")
    return epoch, upstream, revision


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(left: str, right: str) -> int:
    i = j = 0
    while i < len(left) or j < len(right):
        # The non-digit prefix, character by character ('~' lowest, end next, letters, then the rest).
        while (i < len(left) and not left[i].isdigit()) or (j < len(right) and not right[j].isdigit()):
            a = _order(left[i]) if i < len(left) and not left[i].isdigit() else 0
            b = _order(right[j]) if j < len(right) and not right[j].isdigit() else 0
            if a != b:
                return -1 if a < b else 1
            i += 1
            j += 1
        start_i, start_j = i, j
        while i < len(left) and left[i].isdigit():
            i += 1
        while j < len(right) and right[j].isdigit():
            j += 1
        a_num = int(left[start_i:i] or "0")
        b_num = int(right[start_j:j] or "0")
        if a_num != b_num:
            return -1 if a_num < b_num else 1
    return 0


def compare(left: str, right: str) -> int:
    """-1, 0 or 1 as ``left`` is older than, equal to or newer than ``right`` (dpkg's order)."""
    a, b = split(left), split(right)
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    return _compare_part(a[1], b[1]) or _compare_part(a[2], b[2])
