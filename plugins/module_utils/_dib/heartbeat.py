# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The controller's heartbeat: a build whose controller is gone stops by itself.

PRIVATE to the collection: no compatibility promise outside it.

The action plugin starts a build under async_wrapper, which runs it in a
session of its own: a SIGKILL to the playbook's process group (a cancelled
AWX job, a lost SSH session) does not reach it.  So every poll the action
plugin rewrites a heartbeat file, ``<dest>/.<name>.heartbeat-<token>``, over
the same connection it polls through, with the path of the async job's
results file in it.  The module creates that file and watches its
modification time: after no beat for ``misses`` poll intervals the
controller is taken to be gone (:class:`ControllerGone`), and the build
stops, cleans up and leaves a note for the next run.

A controller that is merely slow (a loaded machine, a slow connection)
beats less often than asked; the interval counted is the longest gap seen
between two beats, when that is longer than the asked one.  The silence
allowed is never below ``MIN_SILENCE``, and the first beat, which comes
only after the async start's answer has travelled back to the controller,
gets ``FIRST_BEAT_GRACE`` more.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time

# A loaded build host or controller can stall for ten seconds and more (seen in CI): a shorter silence
# is not taken for a gone controller, whatever the poll interval.
MIN_SILENCE = 30.0
FIRST_BEAT_GRACE = 30.0
# async_wrapper's job ids: "j" + digits, "." + the wrapper's PID.
_JOB_FILE = re.compile(r"^j\d+\.\d+$")


class ControllerGone(Exception):
    """No heartbeat from the controller for longer than the limit."""

    def __init__(self, silence: float, limit: float, interval: float, misses: int):
        super().__init__(
            f"no heartbeat from the controller for {silence:.0f} s ({misses} polls of {interval:g} s"
            f" allowed {limit:.0f} s)"
        )
        self.silence = silence
        self.limit = limit
        # Where the build was when it stopped (phase, hook); empty while waiting for a lock.
        self.where: dict[str, str | None] = {}


def heartbeat_path(dest: str, name: str, token: str) -> str:
    return os.path.join(dest, f".{name}.heartbeat-{token}")


class Heartbeat:
    """The module's side: create the file, then ``check()`` it while working."""

    def __init__(self, path: str | None, interval: float, misses: int):
        self.path = path
        self.interval = float(interval)
        self.misses = int(misses)
        self._last = 0.0
        self._beats = 0
        self._longest_gap = 0.0

    @property
    def active(self) -> bool:
        return bool(self.path) and self.interval > 0 and self.misses > 0

    def start(self, now: float | None = None) -> None:
        """Create the file the controller refreshes; the clock starts now."""
        self._last = time.time() if now is None else now
        if not self.active or self.path is None:
            return
        with open(self.path, "w"):
            pass
        if now is None:
            # Beats are told by the file's modification time: count from the file's own clock, which
            # can lag time.time() by a tick.
            with contextlib.suppress(OSError):
                self._last = os.stat(self.path).st_mtime

    def limit(self) -> float:
        """Seconds without a beat after which the controller counts as gone."""
        limit = max(self.misses * max(self.interval, self._longest_gap), MIN_SILENCE)
        return limit if self._beats else limit + FIRST_BEAT_GRACE

    def check(self, now: float | None = None) -> None:
        """Raise :class:`ControllerGone` when the controller has been silent for too long."""
        if not self.active or self.path is None:
            return
        now = time.time() if now is None else now
        try:
            beat = os.stat(self.path).st_mtime
        except OSError:
            beat = 0.0
        if beat > self._last:
            if self._beats:
                self._longest_gap = max(self._longest_gap, beat - self._last)
            self._beats += 1
            self._last = beat
        silence = now - self._last
        if silence > self.limit():
            raise ControllerGone(silence, self.limit(), self.interval, self.misses)

    def results_file(self) -> str | None:
        """The async job's results file, as the controller wrote it into the heartbeat."""
        if not self.path:
            return None
        try:
            with open(self.path, encoding="utf-8", errors="replace") as handle:
                text = handle.read().strip()
        except OSError:
            return None
        return text.splitlines()[0] if text else None

    def remove(self) -> None:
        if self.path:
            with contextlib.suppress(OSError):
                os.unlink(self.path)


def async_job_file(path: str | None, async_dir: str | None) -> str | None:
    """``path`` when it is an async_wrapper job file in ``async_dir``; never any other file."""
    if not path or not async_dir:
        return None
    folder = os.path.realpath(os.path.expanduser(async_dir))
    candidate = os.path.realpath(os.path.expanduser(path))
    if os.path.dirname(candidate) != folder or not _JOB_FILE.match(os.path.basename(candidate)):
        return None
    return candidate


def _final(path: str) -> bool:
    """True once async_wrapper replaced its "started" record with the module's result."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and "started" not in record


def discard_async_result(path: str, wait: float = 120.0) -> None:
    """Delete an async job's results file once async_wrapper has written it (nobody will read it).

    async_wrapper writes the module's result after the module exits, so a
    detached process waits for that, then deletes the file.
    """
    pid = os.fork()
    if pid:
        os.waitpid(pid, 0)
        return
    try:
        # The first child leaves at once; its child, in a session of its own, outlives the module.
        if os.fork():
            os._exit(0)
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        # Nothing of the module's (its stdout pipe above all) may stay open: async_wrapper reads to its end.
        os.closerange(3, 65536)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and not _final(path):
            time.sleep(0.5)
        with contextlib.suppress(OSError):
            os.unlink(path)
    finally:
        os._exit(0)
