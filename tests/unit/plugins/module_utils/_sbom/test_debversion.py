# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Debian version order: known pairs, and dpkg itself as the referee where it is installed."""

from __future__ import annotations

import itertools
import shutil
import subprocess

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import debversion

PAIRS = [
    ("3.0.15-1~deb12u1", "3.0.16-1~deb12u1", -1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~~", "1.0~", -1),
    ("1:1.0", "2.0", 1),
    ("0:2.0", "2.0", 0),
    ("1.0", "1.0-0", 0),
    ("2.10", "2.9", 1),
    ("1.0a", "1.0+", -1),
    ("1.2.3", "1.2.3.0", -1),
    ("7.88.1-10+deb12u8", "7.88.1-10+deb12u12", -1),
    ("2.36-9+deb12u4", "2.36-9+deb12u10", -1),
    ("1.0-1", "1.0-1", 0),
    ("5.2.15-2+b7", "5.2.15-2", 1),
    ("1:9.2p1-2", "1:9.2p1-2+deb12u3", -1),
]


@pytest.mark.parametrize(("left", "right", "expected"), PAIRS)
def test_known_order(left, right, expected):
    assert debversion.compare(left, right) == expected
    first, second = left, right
    assert debversion.compare(second, first) == -expected


def test_string_order_is_not_used():
    # As strings "3.0.9" > "3.0.10"; as Debian versions it is older.
    assert debversion.compare("3.0.9-1", "3.0.10-1") == -1


@pytest.mark.parametrize("bad", ["", "abc", "x:1.0", "1.0-!", "1.0 1"])
def test_invalid_versions_are_refused_by_name(bad):
    with pytest.raises(debversion.InvalidVersion, match="not a Debian version"):
        debversion.compare(bad, "1.0")


@pytest.mark.skipif(shutil.which("dpkg") is None, reason="dpkg is not installed on this machine")
def test_same_order_as_dpkg():
    versions = sorted({v for pair in PAIRS for v in pair[:2]}) + ["1:0", "0.9~beta+dfsg-1", "10-a", "10-1.1"]
    for left, right in itertools.combinations(versions, 2):
        ours = debversion.compare(left, right)
        for op, want in (("lt", ours < 0), ("eq", ours == 0), ("gt", ours > 0)):
            theirs = subprocess.run(["dpkg", "--compare-versions", left, op, right], check=False).returncode == 0
            assert theirs == want, f"{left} {op} {right}: dpkg says {theirs}"
