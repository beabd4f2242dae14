# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stop a DIB build and undo what it left on the host.

PRIVATE to the collection: no compatibility promise outside it.

A DIB build that dies mid-way can leave behind: processes running in its
chroot, tmpfs and bind mounts under its build folders, loop devices backed
by its raw image, and the folders themselves.  Every build gets a private
work folder (DIB's ``TMP_DIR``), so "everything this build created" is
"everything under that folder": mounts are found in ``/proc/mounts``, loop
devices by their backing file in ``/sys/block/loop*/loop/backing_file``,
chroot processes by ``/proc/<pid>/root``.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import time


def _privileged(argv: list[str]) -> list[str]:
    """DIB uses sudo for mounts and loop devices; so must we when not root."""
    if os.geteuid() == 0:
        return argv
    return ["sudo", "-n"] + argv


def _run(argv: list[str]) -> int:
    try:
        return subprocess.run(
            _privileged(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=60, check=False,
        ).returncode
    except (OSError, subprocess.SubprocessError):
        return -1


def _unescape_mount(field: str) -> str:
    # /proc/mounts escapes space, tab, newline and backslash as octal.
    return (field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\"))


def _under(path: str, root: str) -> bool:
    root = root.rstrip("/")
    return path == root or path.startswith(root + "/")


def mounts_under(root: str, mounts_file: str = "/proc/mounts") -> list[str]:
    """Mount points at or below ``root``, deepest first."""
    root = os.path.realpath(root)
    found = []
    try:
        with open(mounts_file) as handle:
            for line in handle:
                fields = line.split()
                if len(fields) >= 2:
                    point = _unescape_mount(fields[1])
                    if _under(point, root):
                        found.append(point)
    except OSError:
        return []
    # Deepest first; a mount listed twice (stacked) is unmounted twice.
    return sorted(found, key=lambda p: p.count("/"), reverse=True)


def loops_backed_under(root: str, sys_block: str = "/sys/block") -> list[str]:
    """``/dev/loopN`` devices whose backing file lies under ``root``."""
    root = os.path.realpath(root)
    found = []
    for backing in sorted(glob.glob(os.path.join(sys_block, "loop*", "loop", "backing_file"))):
        try:
            with open(backing) as handle:
                target = handle.read().strip()
        except OSError:
            continue
        if target.endswith(" (deleted)"):
            target = target[: -len(" (deleted)")]
        if _under(target, root):
            found.append("/dev/" + backing.split(os.sep)[-3])
    return found


def pids_rooted_under(root: str, proc: str = "/proc") -> list[int]:
    """Processes whose root or working folder is inside ``root`` (chroot leftovers)."""
    root = os.path.realpath(root)
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for link in ("root", "cwd"):
            try:
                target = os.readlink(os.path.join(proc, entry, link))
            except OSError:
                continue
            if _under(target, root):
                found.append(int(entry))
                break
    return found


def kill_group(pgid: int | None, grace: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
    if not pgid or pgid <= 1:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        except PermissionError:
            _run(["kill", f"-{int(sig)}", "--", f"-{pgid}"])
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else 5)
        while time.monotonic() < deadline:
            if not group_members(pgid):
                return
            time.sleep(0.2)


def group_members(pgid: int, proc: str = "/proc") -> list[int]:
    """Live (non-zombie) processes of a process group.

    ``killpg(pgid, 0)`` is no help here: it also succeeds for zombies that
    their parent has not reaped yet.
    """
    members = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # after "(comm)": state, ppid, pgrp, ...
        if len(fields) > 2 and fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
        except PermissionError:
            _run(["kill", "-9", str(pid)])


def release_host_resources(work_dir: str, passes: int = 3) -> list[str]:
    """Kill chroot processes, unmount, detach loops under ``work_dir``; return what could not be freed."""
    for _attempt in range(passes):
        _kill_pids(pids_rooted_under(work_dir))
        for point in mounts_under(work_dir):
            if _run(["umount", point]) != 0:
                _run(["umount", "-l", point])
        for loop in loops_backed_under(work_dir):
            if shutil.which("kpartx"):
                _run(["kpartx", "-d", loop])
            _run(["losetup", "-d", loop])
        if not mounts_under(work_dir) and not loops_backed_under(work_dir):
            return []
        time.sleep(1)
    return [f"mount {p}" for p in mounts_under(work_dir)] + [f"loop {d}" for d in loops_backed_under(work_dir)]


def remove_tree(path: str) -> None:
    """Remove a work folder; root-owned files DIB left (it builds with sudo) need privilege."""
    if not os.path.lexists(path):
        return
    # A bind mount of the host's /dev or /proc left inside a chroot would
    # make a recursive delete wipe the host: never delete while anything is
    # mounted below, and never cross into another file system.
    if mounts_under(path):
        return
    shutil.rmtree(path, ignore_errors=True)
    if os.path.lexists(path) and not mounts_under(path):
        _run(["rm", "-rf", "--one-file-system", "--", path])


def cleanup_build(work_dir: str, pgid: int | None) -> list[str]:
    """Everything a failed or killed build needs: stop it, free the host, delete its folder."""
    kill_group(pgid)
    leftovers = release_host_resources(work_dir)
    if not leftovers:
        remove_tree(work_dir)
    return leftovers
