# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One qemu guest as Nova starts a Trove instance: overlay root disk, config drive, blank volume.

PRIVATE to the collection: no compatibility promise outside it.

The image under test is only ever a read-only backing file of a throw-away
qcow2 overlay. The config drive sits on the IDE bus as a CD-ROM (as Nova
attaches it), the blank raw volume is the second virtio disk (``/dev/vdb``).
User networking is ``restrict=on``: the guest reaches nothing but the
``guestfwd`` targets, each a ``socat`` per guest connection (a ``tcp:``
forward opens ONE host connection at qemu start, which a broker closes after
its handshake timeout). qemu dies with the process that started it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
from dataclasses import dataclass

QEMU = "qemu-system-x86_64"
QEMU_IMG = "qemu-img"
SOCAT = "socat"


def missing_tools() -> list[str]:
    """The commands a boot needs that are not on PATH (``genisoimage`` for the config drive too)."""
    return [tool for tool in (QEMU, QEMU_IMG, SOCAT, "genisoimage") if shutil.which(tool) is None]


def kvm_usable() -> bool:
    """``/dev/kvm`` opens read-write (necessary, not sufficient: nested KVM can still be broken)."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def accel_args(accelerator: str) -> list[str]:
    """qemu's arguments for ``kvm`` or ``tcg`` (TCG with every CPU feature it emulates)."""
    if accelerator == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg", "-cpu", "max"]


def guestfwd(guest_addr: str, guest_port: int, host: str, host_port: int) -> str:
    """``-nic user`` option: the guest's ``guest_addr:guest_port`` reaches ``host:host_port`` (a socat each)."""
    return f"guestfwd=tcp:{guest_addr}:{int(guest_port)}-cmd:{SOCAT} STDIO TCP:{host}:{int(host_port)}"


@dataclass(frozen=True)
class Machine:
    """What to boot and how."""

    image: str
    config_drive: str
    volume_gib: int
    memory_mib: int
    cpus: int
    accelerator: str
    forwards: tuple[str, ...]


def argv(machine: Machine, overlay: str, volume: str, serial_log: str) -> list[str]:
    """The qemu command line for ``machine`` (files already made)."""
    nic = ",".join(["user", "model=virtio-net-pci", "restrict=on", *machine.forwards])
    return [
        QEMU, "-machine", "q35", *accel_args(machine.accelerator), "-smp", str(machine.cpus),
        "-m", str(machine.memory_mib), "-display", "none", "-monitor", "none", "-parallel", "none",
        "-no-reboot", "-serial", f"file:{serial_log}",
        "-drive", f"file={overlay},if=virtio,format=qcow2",
        "-drive", f"file={volume},if=virtio,format=raw",
        "-drive", f"file={machine.config_drive},if=ide,media=cdrom,format=raw,readonly=on",
        "-nic", nic,
    ]


def _die_with_parent() -> None:
    """preexec_fn: the kernel kills qemu when the module process dies, however it dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class Guest:
    """A running guest in ``workdir``: ``console()``, ``running()``, ``stop()``."""

    def __init__(self, machine: Machine, workdir: str) -> None:
        self.machine = machine
        self.workdir = workdir
        self.serial_log = os.path.join(workdir, "serial.log")
        self.stderr_path = os.path.join(workdir, "qemu.stderr")
        self.overlay = os.path.join(workdir, "root.qcow2")
        self.volume = os.path.join(workdir, "volume.raw")
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [QEMU_IMG, "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.abspath(machine.image),
             self.overlay], check=True, capture_output=True,
        )
        with open(self.volume, "wb") as handle:
            handle.truncate(machine.volume_gib * 1024 ** 3)
        with open(self.stderr_path, "wb") as stderr:
            self.process = subprocess.Popen(
                argv(machine, self.overlay, self.volume, self.serial_log),
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, preexec_fn=_die_with_parent,
            )

    def console(self) -> str:
        """The whole serial console so far (raw)."""
        try:
            with open(self.serial_log, "rb") as handle:
                return handle.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def qemu_stderr(self) -> str:
        try:
            with open(self.stderr_path, "rb") as handle:
                return handle.read().decode("utf-8", "replace")[-2000:].strip()
        except OSError:
            return ""

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def returncode(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """Kill qemu (its socat children see their STDIO end and exit)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
