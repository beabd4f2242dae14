# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guardian: a process that cleans up after a build whose module process died.

PRIVATE to the collection: no compatibility promise outside it.

Ansible's async timeout kills the module's whole process group with
SIGKILL, so no handler in the module runs.  Before DIB starts, the module
forks a small guardian in its own session and talks to it over a pipe:
``pgid N`` once DIB runs, ``done`` when the build is over.  When the pipe
closes without ``done``, the module is gone: the guardian kills DIB's
process group, releases mounts and loop devices, deletes the work folder,
keeps DIB's log beside the image and leaves a note there saying where the
build was (:mod:`._dib.abandoned`), which the next run reports.  It also
removes the folder Ansible's module wrapper unpacked the module into, which
the killed wrapper can no longer remove itself.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import abandoned
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.cleanup import cleanup_build
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.progress import read_state

# AnsiBallZ unpacks a module's payload into <TMPDIR>/ansible_<module>_payload_<random>/<...>.zip.
_PAYLOAD_FOLDER = re.compile(r"^ansible_.+_payload_[^/]+$")


def payload_folder(path: str = __file__) -> str | None:
    """The folder Ansible's wrapper unpacked this module's payload into, or None when not run from one."""
    index = path.find(".zip" + os.sep)
    if index < 0:
        return None
    archive = path[: index + len(".zip")]
    folder = os.path.dirname(archive)
    if not os.path.isfile(archive) or not _PAYLOAD_FOLDER.match(os.path.basename(folder)):
        return None
    return folder


class Guardian:
    """The module's end of the pipe to a started guardian."""

    def __init__(self, pid: int, write_fd: int):
        self.pid = pid
        self._fd = write_fd

    def watch(self, pgid: int) -> None:
        """Tell the guardian which process group to kill should this process die."""
        os.write(self._fd, f"pgid {pgid}\n".encode("ascii"))

    def release(self) -> None:
        """The build is over (whatever its outcome): let the guardian exit without doing anything."""
        try:
            os.write(self._fd, b"done\n")
        finally:
            os.close(self._fd)
            os.waitpid(self.pid, 0)


def start_guardian(work_dir: str, log_src: str, log_dst: str, status: str, keep_fds: list[int],
                   note: str | None = None, heartbeat: str | None = None) -> Guardian:
    """Fork a process that cleans up after the build if this process dies."""
    payload = payload_folder()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid:
        os.close(read_fd)
        return Guardian(pid, write_fd)
    # Child: must never return into the module's code.
    try:
        os.setsid()
        # Detach from the module's stdout/stderr, or Ansible would wait for us.
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        keep = {0, 1, 2, read_fd} | set(keep_fds)
        for entry in os.listdir("/proc/self/fd"):
            fd = int(entry)
            if fd not in keep:
                with contextlib.suppress(OSError):
                    os.close(fd)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        data = b""
        while True:
            chunk = os.read(read_fd, 4096)
            if not chunk:
                break
            data += chunk
        lines = data.decode("ascii", "replace").splitlines()
        if "done" not in lines:
            pgid = None
            for line in lines:
                if line.startswith("pgid "):
                    pgid = int(line.split()[1])
            cleanup_build_after_death(work_dir, pgid, log_src, log_dst, status, note, heartbeat)
            if payload:
                shutil.rmtree(payload, ignore_errors=True)
    finally:
        os._exit(0)


def cleanup_build_after_death(work_dir: str, pgid: int | None, log_src: str, log_dst: str, status: str,
                              note: str | None = None, heartbeat: str | None = None) -> None:
    """What the guardian does once the module is gone: note it in the log, keep the log, clean up."""
    state = None
    with contextlib.suppress(OSError), open(status, encoding="utf-8") as handle:
        state = read_state(handle.read())
    if os.path.exists(log_src):
        try:
            with open(log_src, "a") as handle:
                handle.write("dib_image: the module process died; build killed and cleaned up\n")
            shutil.move(log_src, log_dst)
        except OSError:
            pass
    leftovers = cleanup_build(work_dir, pgid)
    with contextlib.suppress(OSError):
        os.unlink(status)
    if heartbeat:
        with contextlib.suppress(OSError):
            os.unlink(heartbeat)
    if note:
        detail = "DIB was stopped and its work cleaned up by the module's guardian"
        if leftovers:
            detail += "; could not release: " + ", ".join(leftovers)
        abandoned.write_note(note, "the module process died", (state or {}).get("phase"), (state or {}).get("hook"),
                             detail, log_dst)
