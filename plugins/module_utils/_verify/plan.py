# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which built images the verify stage checks, how, and what their report rows say afterwards.

PRIVATE to the collection: no compatibility promise outside it.

:func:`plan` pairs each build report row with its composed spec: a Trove
image (a spec with a ``trove`` key) that built or was reused gets one
``guest_verify`` option set; a failed build, a plain image (no agent to ask)
or mode ``skip`` gets none and says why. :func:`rows` puts each result into
its row (key ``verify``); a required verification that failed turns the row
``failed``, so the image is neither published nor reported as good.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify.record import RESULT_FAILED, RESULT_PASSED
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify.request import MODES

STATUS_FAILED = "failed"


class VerifyPlanError(ValueError):
    """The stage's inputs are wrong; the message names the variable and the fix."""


def _mode(name: str, default: str, by_image: Mapping[str, Any], source: str) -> str:
    mode = str(by_image.get(name, default))
    if mode not in MODES:
        where = f"{source}[{name!r}]" if name in by_image else "the verify mode"
        raise VerifyPlanError(f"{where} is {mode!r}: use one of {', '.join(MODES)}")
    return mode


def plan(build_rows: Sequence[Mapping[str, Any]], specs: Sequence[Mapping[str, Any]], mode: str,
         by_image: Mapping[str, Any] | None = None, by_image_source: str = "verify_images") -> list[dict[str, Any]]:
    """One entry per build row: ``{name, verify (bool), reason, mode, options}``."""
    by_image = dict(by_image or {})
    if mode not in MODES:
        raise VerifyPlanError(f"the verify mode is {mode!r}: use one of {', '.join(MODES)}")
    # Names of images outside this run's selection are allowed: one override list serves every selection.
    for name, value in by_image.items():
        _mode(str(name), str(value), by_image, by_image_source)
    spec_by_name = {str(spec.get("name")): spec for spec in specs}
    entries: list[dict[str, Any]] = []
    for row in build_rows:
        name = str(row.get("name"))
        entry: dict[str, Any] = {"name": name, "verify": False, "reason": "", "options": {}}
        entry["mode"] = _mode(name, mode, by_image, by_image_source)
        trove = (spec_by_name.get(name) or {}).get("trove")
        qcow2 = [out for out in row.get("outputs") or [] if out.get("format") == "qcow2" and out.get("path")]
        if entry["mode"] == "skip":
            entry["reason"] = "verify skipped (mode skip)"
        elif row.get("status") == STATUS_FAILED:
            entry["reason"] = "not built"
        elif row.get("status") not in ("built", "reused"):
            entry["reason"] = f"not built in this run ({row.get('status')})"
        elif not isinstance(trove, Mapping):
            entry["reason"] = "not a Trove guest image (no guest agent to ask)"
        elif not qcow2:
            entry["reason"] = "no qcow2 output to boot"
        else:
            entry["verify"] = True
            entry["options"] = {
                "image": qcow2[0]["path"],
                "fingerprint": row.get("fingerprint") or "",
                "sha256": qcow2[0].get("sha256") or "",
                # Trove's datastore managers carry the datastore's name (mysql, mariadb, postgresql).
                "datastore_manager": str(trove.get("datastore")),
                "datastore_version": str(trove.get("datastore_version")),
                "mode": entry["mode"],
            }
        entries.append(entry)
    return entries


def summary(result: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a ``guest_verify`` result a report row keeps (no console, no secret)."""
    record = result.get("record") or {}
    # Under failed_when: false a failed task's ``failed`` is False; the module's own ``result`` says it.
    outcome = result.get("result") or ("failed" if result.get("failed") or result.get("msg") else "skipped")
    return {
        "result": outcome,
        "step": result.get("step") or record.get("step") or "",
        "message": str(result.get("msg") or "") if outcome == "failed" else "",
        "record_path": result.get("record_path"),
        "accelerator": record.get("accelerator"),
        "trove_version": record.get("trove_version"),
        "times": record.get("times") or {},
        # The seconds this run's boot and agent check took; none for a reused record (nothing booted).
        "duration": record.get("duration") if outcome in (RESULT_PASSED, RESULT_FAILED) else None,
    }


def _result_name(result: Mapping[str, Any]) -> str:
    """A result's image name: its ``name``, else the loop item's (a registered loop result)."""
    item = result.get("item")
    if result.get("name"):
        return str(result["name"])
    return str(item.get("name")) if isinstance(item, Mapping) else ""


def rows(build_rows: Sequence[Mapping[str, Any]], entries: Sequence[Mapping[str, Any]],
         results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The build rows with ``verify`` set; a failed required verification marks the row failed."""
    by_name = {_result_name(result): result for result in results}
    entry_by_name = {str(entry.get("name")): entry for entry in entries}
    out: list[dict[str, Any]] = []
    for build_row in build_rows:
        row = dict(build_row)
        name = str(row.get("name"))
        entry = entry_by_name.get(name) or {}
        result = by_name.get(name)
        if result is None:
            row["verify"] = {"result": "skipped", "step": "", "message": entry.get("reason") or "not verified",
                             "record_path": None, "accelerator": None, "trove_version": None, "times": {},
                             "duration": None}
        else:
            row["verify"] = summary(result)
            if row["verify"]["result"] == "failed" and entry.get("mode") == "required":
                row["status"] = STATUS_FAILED
                row["error"] = f"verify failed at step {row['verify']['step'] or '?'}: {row['verify']['message']}"
        out.append(row)
    return out
