# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Termination signals as an exception, so that a stopped module still releases what it holds.

PRIVATE to the collection: no compatibility promise outside it.

By default SIGTERM, SIGINT and SIGHUP end a Python process at once, without
running its ``finally`` blocks: a module stopped that way would leave the
processes it started in sessions of their own (a RabbitMQ node, qemu) running.
Inside ``interruptible()`` the first such signal raises :class:`Interrupted`
instead, and later ones are ignored, so the cleanup that follows is not cut short.
A cleanup that follows some other error calls ``ignore()`` for the same reason.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Interrupted(Exception):
    """A termination signal arrived."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(f"received signal {signum} ({signal.Signals(signum).name})")


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Raise :class:`Interrupted` on the first termination signal within the block (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[signal.Signals, Any] = {}

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        ignore()
        raise Interrupted(signum)

    for sig in SIGNALS:
        previous[sig] = signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def ignore() -> None:
    """Ignore termination signals from here to the end of the ``interruptible()`` block (main thread only)."""
    if threading.current_thread() is threading.main_thread():
        for sig in SIGNALS:
            signal.signal(sig, signal.SIG_IGN)
