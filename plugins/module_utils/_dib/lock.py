# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One build per output image at a time: ``flock`` on ``<dest>/.<name>.lock``.

PRIVATE to the collection: no compatibility promise outside it.

``flock`` locks belong to the open file and vanish when the holder dies, so
a killed build never leaves a stale lock behind.  The holder writes its PID
into the file so a waiting build can say who it is waiting for.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from collections.abc import Callable


class LockTimeout(Exception):
    def __init__(self, message: str, holder_pid: int | None):
        super().__init__(message)
        self.holder_pid = holder_pid


def lock_path(dest: str, name: str) -> str:
    return os.path.join(dest, f".{name}.lock")


def _read_pid(fd: int) -> int | None:
    try:
        data = os.pread(fd, 64, 0)
    except OSError:
        return None
    text = data.decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class ImageLock:
    """Exclusive lock for one image; ``acquire`` waits up to ``timeout`` seconds.

    ``while_waiting`` is called on every poll of the wait; what it raises ends
    the wait (the controller's heartbeat check: a run whose controller is gone
    stops waiting too).
    """

    def __init__(self, dest: str, name: str, timeout: float, poll: float = 0.5, busy_message: str | None = None,
                 while_waiting: Callable[[], None] | None = None):
        self.path = lock_path(dest, name)
        self.while_waiting = while_waiting
        self.name = name
        self.busy_message = busy_message or f"image '{name}' is being built by another process"
        self.timeout = timeout
        self.poll = poll
        self.fd: int | None = None
        self.waited = 0.0

    def acquire(self) -> None:
        # No O_TRUNC: the current holder's PID must stay readable until we own the lock.
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        start = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
            if self.while_waiting is not None:
                try:
                    self.while_waiting()
                except BaseException:
                    os.close(fd)
                    raise
            if time.monotonic() - start >= self.timeout:
                holder = _read_pid(fd)
                os.close(fd)
                raise LockTimeout(
                    f"{self.busy_message} (PID"
                    f" {holder if holder is not None else 'unknown'} holds {self.path}); waited {self.timeout} s"
                    " (lock_timeout). Wait for it to finish, or raise lock_timeout.",
                    holder,
                )
            time.sleep(self.poll)
        self.waited = time.monotonic() - start
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self.fd = fd

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)
            fcntl.flock(self.fd, fcntl.LOCK_UN)
        finally:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> ImageLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def cache_lock(cache_dir: str, timeout: float, while_waiting: Callable[[], None] | None = None) -> ImageLock:
    """Lock for a DIB image cache folder.

    DIB bind-mounts the cache's apt archive into every build chroot, so two
    builds sharing one cache fight over apt's lock and one fails late; builds
    that share a cache therefore run one after another.
    """
    return ImageLock(
        cache_dir,
        "dbaas-guest-images-cache",
        timeout,
        while_waiting=while_waiting,
        busy_message=f"the DIB image cache '{cache_dir}' is in use by another build (builds sharing a cache"
        " run one after another; give this one its own cache_dir to run them side by side)",
    )
