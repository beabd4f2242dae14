# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The note a build that ended with nobody to tell leaves beside its log, for the next run to report.

PRIVATE to the collection: no compatibility promise outside it.

Two such ends: the controller went away (no heartbeat, :mod:`._dib.heartbeat`)
and the build stopped itself, or the module process was killed and its
guardian (:mod:`._dib.guardian`) cleaned up.  Either way no result reaches
a playbook, so ``<dest>/<name>.abandoned.json`` keeps what happened::

    {"outcome": "abandoned", "cause": "controller gone", "phase": "install.d", "hook": "50-foo",
     "detail": "no heartbeat from the controller for 31 s ...", "at": "2026-01-01T10:00:00Z"}

The next run of the image reads it once, returns it as ``previous_build``
(the build report shows it) and deletes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically


def note_path(dest: str, name: str) -> str:
    return os.path.join(dest, f"{name}.abandoned.json")


def write_note(path: str, cause: str, phase: str | None, hook: str | None, detail: str,
               log_path: str | None) -> None:
    """Write the note atomically; a full or read-only disk must not hide the build's own error."""
    note: dict[str, Any] = {
        "outcome": "abandoned",
        "cause": cause,
        "phase": phase,
        "hook": hook,
        "detail": detail,
        "log_path": log_path,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    with contextlib.suppress(OSError):
        write_atomically(path, json.dumps(note, indent=2, sort_keys=True) + "\n")


def read_note(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            note = json.load(handle)
    except (OSError, ValueError):
        return None
    if not isinstance(note, dict) or "cause" not in note:
        return None
    note["summary"] = summary(note)
    return note


def take_note(path: str, keep: bool = False) -> dict[str, Any] | None:
    """The note, deleted unless ``keep`` (check mode reports it without consuming it)."""
    note = read_note(path)
    if note is not None and not keep:
        with contextlib.suppress(OSError):
            os.unlink(path)
    return note


def summary(note: dict[str, Any]) -> str:
    """``previous build was abandoned: controller gone at install.d (50-foo), 2026-01-01T10:00:00Z``."""
    where = f" at {note['phase']}" if note.get("phase") else ""
    if note.get("hook"):
        where += f" ({note['hook']})"
    when = f", {note['at']}" if note.get("at") else ""
    return f"previous build was abandoned: {note.get('cause')}{where}{when}"
