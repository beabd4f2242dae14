# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a finished DIB build spent its time: seconds per phase, read from DIB's own log.

PRIVATE to the collection: no compatibility promise outside it.

DIB stamps every log line (``2026-12-03 08:50:43.117 | ...``); the phase a
line belongs to is told by the same rules the live progress file uses
(:func:`._dib.progress.update_state`), so the report's breakdown and the
progress lines name the same phases. The same function reads the log of a
raw ``disk-image-create`` run, which lets a benchmark put both side by side.
"""

from __future__ import annotations

import datetime
import re

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.progress import new_state, update_state

_EPOCH = datetime.datetime(1970, 1, 1)
_STAMP = re.compile(r"^(?P<stamp>\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \| ")


def _seconds(stamp: str) -> float:
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    # Only differences are used: the stamps' time zone (DIB writes local time) does not matter.
    return (datetime.datetime.strptime(stamp, fmt) - _EPOCH).total_seconds()


def phase_durations(log_text: str) -> dict[str, float]:
    """Seconds per DIB phase, in the order the phases ran (``setup`` .. ``conversion``).

    A phase's time runs from its first line to the first line of the next
    phase; the last phase ends at the log's last stamped line. Lines without
    a stamp (the chroot's own output) count for the phase they fall in.
    """
    state = new_state("", 0, 0.0)
    durations: dict[str, float] = {}
    current: str | None = None
    since = 0.0
    last = 0.0
    for raw in log_text.splitlines():
        match = _STAMP.match(raw)
        if not match:
            continue
        try:
            now = _seconds(match.group("stamp"))
        except ValueError:
            continue
        if current is None:
            current, since = state["phase"], now
        update_state(state, raw, now)
        if state["phase"] != current:
            durations[current] = round(durations.get(current, 0.0) + now - since, 3)
            current, since = state["phase"], now
        last = now
    if current is not None and current != "done":
        durations[current] = round(durations.get(current, 0.0) + last - since, 3)
    return durations
