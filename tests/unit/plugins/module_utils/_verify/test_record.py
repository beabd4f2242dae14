# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
import json
import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import record

PASSED = {"result": "passed", "fingerprint": "f1", "sha256": "s1", "trove_version": "26.0.0"}


def test_a_passed_record_of_the_same_image_matches():
    assert record.mismatch(PASSED, "f1", "s1", "26.0.0") == ""
    assert record.mismatch(PASSED, "f1", "", "26.0.0") == ""


@pytest.mark.parametrize("rec, fingerprint, sha, version, words", [
    (None, "f1", "s1", "26.0.0", "no verification record"),
    (dict(PASSED, result="failed"), "f1", "s1", "26.0.0", "the last verification failed"),
    (PASSED, "f2", "s1", "26.0.0", "rebuilt"),
    (PASSED, "f1", "s2", "26.0.0", "sha256 differs"),
    (PASSED, "f1", "s1", "25.0.0", "verified with trove 26.0.0, not 25.0.0"),
    (PASSED, "", "s1", "26.0.0", "fingerprint is unknown"),
])
def test_a_record_that_does_not_prove_the_image_says_why(rec, fingerprint, sha, version, words):
    assert words in record.mismatch(rec, fingerprint, sha, version)


def test_write_is_atomic_and_read_back(tmp_path):
    path = str(tmp_path / "img.verify.json")
    record.write(path, PASSED)
    assert record.read(path) == dict(PASSED, format=record.FORMAT)
    assert oct(os.stat(path).st_mode & 0o777) == "0o644"
    assert [p.name for p in tmp_path.iterdir()] == ["img.verify.json"]


def test_read_ignores_what_is_not_a_record(tmp_path):
    path = tmp_path / "x.verify.json"
    assert record.read(str(path)) is None
    path.write_text("[1, 2]")
    assert record.read(str(path)) is None
    path.write_text("{not json")
    assert record.read(str(path)) is None
    path.write_text(json.dumps(PASSED))
    assert record.read(str(path)) == PASSED
