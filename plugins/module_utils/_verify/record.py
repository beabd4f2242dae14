# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verification record ``<image>.verify.json``: what was proven, for which image, and when it still holds.

PRIVATE to the collection: no compatibility promise outside it.

A record holds the image's build fingerprint (and sha256 when known), the
result, the step that failed, the step times, the accelerator and the Trove
version whose client asked the agent. A passed record whose fingerprint,
sha256 and Trove version equal the current ones means the image needs no
second verification. Written atomically (a temporary file renamed).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically

RESULT_PASSED = "passed"
RESULT_FAILED = "failed"
FORMAT = 1


def read(path: str) -> dict[str, Any] | None:
    """The record at ``path``, or None when there is none or it is not a record."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def mismatch(record: Mapping[str, Any] | None, fingerprint: str, sha256: str, trove_version: str) -> str:
    """Why ``record`` does not prove the image as it is now; empty when it does."""
    if record is None:
        return "no verification record"
    if record.get("result") != RESULT_PASSED:
        return f"the last verification {record.get('result') or 'did not finish'}"
    if not fingerprint:
        return "the build fingerprint is unknown"
    if record.get("fingerprint") != fingerprint:
        return "the image was rebuilt since (fingerprint changed)"
    if sha256 and record.get("sha256") and record.get("sha256") != sha256:
        return "the image file changed since (sha256 differs)"
    if record.get("trove_version") != trove_version:
        return f"it was verified with trove {record.get('trove_version')}, not {trove_version}"
    return ""


def write(path: str, record: Mapping[str, Any]) -> None:
    """Write ``record`` to ``path`` atomically (readable by all: it holds no secret)."""
    write_atomically(path, json.dumps(dict(record, format=FORMAT), indent=2, sort_keys=True) + "\n")
