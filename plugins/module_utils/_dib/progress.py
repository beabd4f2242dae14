# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a running DIB build is, told through a small JSON status file.

PRIVATE to the collection: no compatibility promise outside it.

While DIB runs, a thread in the module follows the DIB log and keeps
``<dest>/.<name>.progress.json`` up to date::

    {"phase": "install.d", "hook": "50-trove-guest-agent", "started_at": 1764030000.1,
     "updated_at": 1764030312.5, "phase_started_at": ..., "pid": 1234, "name": "debian-12"}

The action plugin reads that file on the controller (through the
connection) and prints a line when the phase changes or every minute.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.log import strip_line

PHASES = (
    "setup",
    "root.d",
    "extra-data.d",
    "pre-install.d",
    "install.d",
    "post-install.d",
    "post-root.d",
    "block-device",
    "pre-finalise.d",
    "finalise.d",
    "cleanup.d",
    "conversion",
    "done",
)

_HOOK = re.compile(r"dib-run-parts Running \S+/(?P<phase>[\w.-]+\.d)/(?P<hook>[^/\s]+)\s*$")
_HOOK_DONE = re.compile(r"dib-run-parts (?P<hook>\S+) completed\s*$")
_PHASE = re.compile(r"^Running hooks from \S+/(?P<phase>[\w.-]+\.d)\s*$")
_BLOCK_DEVICE = re.compile(r"INFO diskimage_builder\.block_device\.\S+ \[-\] (?P<what>.*)$")
_CONVERT = re.compile(r"^Converting image using qemu-img convert")
_DONE = re.compile(r"^Build completed successfully")


def progress_path(dest: str, name: str) -> str:
    return os.path.join(dest, f".{name}.progress.json")


def new_state(name: str, pid: int, now: float | None = None) -> dict:
    now = time.time() if now is None else now
    return {
        "name": name,
        "phase": "setup",
        "hook": None,
        "started_at": now,
        "phase_started_at": now,
        "updated_at": now,
        "pid": pid,
    }


def update_state(state: dict, raw_line: str, now: float | None = None) -> bool:
    """Apply one log line to ``state``; True when phase or hook changed."""
    now = time.time() if now is None else now
    line = strip_line(raw_line)
    phase, hook = state["phase"], state["hook"]
    match = _HOOK.search(line)
    phase_match = _PHASE.search(line)
    if match:
        phase, hook = match.group("phase"), match.group("hook")
    elif _HOOK_DONE.search(line):
        hook = None
    elif phase_match:
        phase, hook = phase_match.group("phase"), None
    elif _CONVERT.search(line):
        phase, hook = "conversion", "qemu-img convert"
    elif _DONE.search(line):
        phase, hook = "done", None
    else:
        match = _BLOCK_DEVICE.search(line)
        # The block-device tool is also asked for settings at the very start;
        # only its work after the root is populated is a phase of its own.
        if match and state["phase"] not in ("setup",) and "Getting value" not in match.group("what"):
            phase = "block-device"
            hook = match.group("what")[:80]
    changed = (phase, hook) != (state["phase"], state["hook"])
    if phase != state["phase"]:
        state["phase_started_at"] = now
    state["phase"], state["hook"] = phase, hook
    if changed:
        state["updated_at"] = now
    return changed


def write_state(path: str, state: dict) -> None:
    write_atomically(path, json.dumps(state, sort_keys=True))


def read_state(text: str) -> dict | None:
    try:
        state = json.loads(text)
    except ValueError:
        return None
    return state if isinstance(state, dict) and "phase" in state else None


def format_elapsed(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes:02d}:{secs:02d}"


def format_line(name: str, state: dict, now: float | None = None) -> str:
    """``[dib_image debian-12] install.d 05:12 elapsed, running 50-trove-guest-agent``."""
    now = time.time() if now is None else now
    elapsed = format_elapsed(now - state["started_at"])
    text = f"[dib_image {name}] {state.get('phase', '?')} {elapsed} elapsed"
    if state.get("hook"):
        text += ", running {}".format(state["hook"])
    return text


class LogFollower:
    """Follow a growing DIB log in a thread and keep the progress file current."""

    def __init__(self, log_path: str, status_path: str, state: dict, interval: float = 1.0):
        self.log_path = log_path
        self.status_path = status_path
        self.state = state
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dib-progress")
        self._thread.daemon = True
        self._offset = 0
        self._partial = ""

    def start(self) -> None:
        self._write()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        # A signal can stop a build between making the follower and starting it; cleanup must go on.
        if self._thread.ident is not None:
            self._thread.join(timeout=10)
        self.poll()

    def poll(self) -> None:
        """Read what the log gained since last time and update the file."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
                self._offset = handle.tell()
        except OSError:
            return
        if not chunk:
            return
        text = self._partial + chunk.decode("utf-8", "replace")
        lines = text.split("\n")
        self._partial = lines.pop()
        changed = False
        for line in lines:
            changed = update_state(self.state, line) or changed
        if changed:
            self._write()

    def _write(self) -> None:
        # Progress is a courtesy; a full disk must not fail the build from here.
        with contextlib.suppress(OSError):
            write_state(self.status_path, self.state)

    def _run(self) -> None:
        last_write = time.time()
        while not self._stop.wait(self.interval):
            self.poll()
            # A heartbeat, so a reader can tell a long quiet hook from a dead build.
            if time.time() - last_write > 15:
                self.state["heartbeat_at"] = time.time()
                self._write()
                last_write = time.time()
