# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read a diskimage-builder log: what went wrong, and where the build is.

PRIVATE to the collection: no compatibility promise outside it.

DIB logs every line as ``YYYY-mm-dd HH:MM:SS.mmm | text``.  Hooks are run by
``dib-run-parts``, which announces each phase (``Running hooks from
.../hooks/install.d``) and each script (``dib-run-parts Running
.../install.d/50-foo``) and reports ``50-foo completed`` when it succeeds; a
failing script stops the phase, so the last script announced and not
completed is the one that failed.  Scripts that run inside the chroot are
seen under ``/tmp/in_target.d/<phase>.d/``.
"""

from __future__ import annotations

import re

MAX_ERROR_LINES = 15

_TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? \| ")
_RUN_PARTS_RUNNING = re.compile(r"dib-run-parts Running (?P<path>\S+/(?P<phase>[\w.-]+\.d)/(?P<hook>[^/\s]+))\s*$")
_RUN_PARTS_DONE = re.compile(r"dib-run-parts (?P<hook>\S+) completed\s*$")
_PHASE_START = re.compile(r"Running hooks from \S+/(?P<phase>[\w.-]+\.d)\s*$")
_BLOCK_DEVICE_LOG = re.compile(r"^(?:\S+ \S+ )?INFO diskimage_builder\.")
_TRACEBACK = "Traceback (most recent call last):"
# What is worth showing a person: DIB's own errors, apt's errors, "must be set" hints.
_ERROR_PATTERNS = (
    re.compile(r"^ERROR\b"),
    re.compile(r"\bERROR:"),
    re.compile(r"^\S+ \S+ ERROR \S+"),  # python logging: "2026-.. 12:00:00.000 ERROR diskimage_builder..."
    re.compile(r"\bERROR diskimage_builder"),
    re.compile(r"^E: "),
    re.compile(r"^(?:FATAL|Fatal|fatal)[: ]"),
    re.compile(r"\bmust be set\b"),
    re.compile(r"\bcommand not found\b"),
    re.compile(r"^\S*Error: "),
    re.compile(r"^\S*Exception: "),
)
# Lines that are noise even though they match a pattern above.
_NOISE = (
    re.compile(r"^\+"),  # xtrace echo of a command, e.g. "+ echo 'ERROR: ...'"
    re.compile(r"^dib-run-parts "),
    # apt inside DIB's chroot always says this; it is not why a build fails.
    re.compile(r"^E: Can not write log \(Is /dev/pts mounted\?\)"),
)


def strip_line(raw: str) -> str:
    """One log line without DIB's timestamp, the chroot's ``> `` prefix and the newline."""
    line = _TIMESTAMP.sub("", raw.rstrip("\r\n"))
    if line.startswith("> "):
        line = line[2:]
    return line


def _is_cleanup(line: str) -> bool:
    """DIB's exit handler: it unmounts the chroot and tears the block device down."""
    return (
        line.startswith("Unmount ")
        or _BLOCK_DEVICE_LOG.search(line) is not None
        or (line.startswith("+ ") and ("trap_cleanup" in line or "cleanup_" in line))
    )


def _is_trace(line: str) -> bool:
    return any(p.search(line) for p in _NOISE)


def failed_hook(lines: list[str]) -> str | None:
    """Path of the last hook that was started and did not complete."""
    running: str | None = None
    for line in lines:
        match = _RUN_PARTS_RUNNING.search(line)
        if match:
            running = match.group("path")
            continue
        match = _RUN_PARTS_DONE.search(line)
        if match and running and running.rsplit("/", 1)[-1] == match.group("hook"):
            running = None
    return running


def hook_label(path: str | None) -> str | None:
    """``/tmp/in_target.d/install.d/50-foo`` -> ``install.d/50-foo``."""
    if not path:
        return None
    parts = path.rstrip("/").split("/")
    return "/".join(parts[-2:]) if len(parts) >= 2 else path


def extract_errors(text: str, max_lines: int = MAX_ERROR_LINES) -> dict:
    """The few lines that say what went wrong, plus the failing hook.

    Returns ``{"lines": [...], "failed_hook": path-or-None, "phase": str-or-None}``.
    The failing hook's own last words come first (that is usually the
    message a person needs, e.g. "X must be set"), then errors from the
    rest of the log, then the last line of each Python traceback.
    """
    lines = [strip_line(raw) for raw in text.splitlines()]
    hook = failed_hook(lines)
    phase = None
    if hook:
        phase = hook.rstrip("/").split("/")[-2]

    picked: list[str] = []

    def add(line: str) -> None:
        line = line.strip()
        if line and line not in picked:
            picked.append(line)

    # 1. The failing hook's own output (non-trace lines), last few.
    if hook:
        start = None
        for index in range(len(lines) - 1, -1, -1):
            match = _RUN_PARTS_RUNNING.search(lines[index])
            if match and match.group("path") == hook:
                start = index + 1
                break
        if start is not None:
            own = []
            for line in lines[start:]:
                # The hook's output ends where DIB's exit handling starts.
                if _is_cleanup(line):
                    break
                if line.strip() and not _is_trace(line):
                    own.append(line)
            for line in own[-5:]:
                add(line)

    # 2. Error-looking lines anywhere, and the last line of each traceback.
    in_traceback = False
    for line in lines:
        if line.startswith(_TRACEBACK) or line.endswith(_TRACEBACK):
            in_traceback = True
            continue
        if in_traceback:
            body = _TIMESTAMP.sub("", line)
            # Traceback frames are indented; the first unindented line is the exception.
            if body.startswith((" ", "\t")) or not body.strip():
                continue
            in_traceback = False
            add(body)
            continue
        if _is_trace(line):
            continue
        if any(p.search(line) for p in _ERROR_PATTERNS):
            add(line)

    if len(picked) > max_lines:
        # Keep the hook's own words (first) and the latest errors.
        head = picked[:5] if hook else []
        tail = [line for line in picked if line not in head][-(max_lines - len(head)):]
        picked = head + tail
    return {"lines": picked, "failed_hook": hook, "phase": phase}


def tail_lines(text: str, count: int = 10) -> list[str]:
    """Last non-trace lines: a fallback when nothing above matched."""
    lines = [strip_line(raw) for raw in text.splitlines()]
    return [line for line in lines if line.strip() and not _is_trace(line)][-count:]
