# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot a guest image under qemu and watch its serial console.

The guest runs on a throw-away qcow2 overlay (the image under test is never
written), with an optional Nova-style config drive on the IDE bus and a blank
second virtio disk that plays the Cinder volume (``/dev/vdb``). The serial
console goes to a file; ``Guest.wait_for`` polls it for a pattern. qemu is
always killed and its files removed when the ``with`` block ends.

Acceleration: KVM is tried once per process when ``/dev/kvm`` is usable; a
KVM guest that dies or shows no kernel output within a short time (nested KVM
that is present but broken) makes every later boot use TCG
(``-accel tcg -cpu max``). ``DBAAS_QEMU_ACCEL=tcg|kvm`` forces one.
"""

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

QEMU = "qemu-system-x86_64"
KVM_PROBE_SECONDS = 60
_KERNEL_STARTED = re.compile(r"Linux version \d")

_accel_verdict = None  # "kvm" or "tcg" once known


class BootError(AssertionError):
    """The guest did not show what was expected; the message ends with the console tail."""


def tail(path, lines=80):
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no serial log)"
    return "\n".join(text.replace("\r", "").splitlines()[-lines:])


def _die_with_parent():
    """preexec_fn: the kernel kills qemu when the test process dies, however it dies."""
    with contextlib.suppress(OSError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _kvm_usable():
    try:
        fd = os.open("/dev/kvm", os.O_RDWR)
    except OSError:
        return False
    os.close(fd)
    return True


def _accel_args(accel):
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host"]
    return ["-accel", "tcg", "-cpu", "max"]


class Guest:
    """A running qemu guest: its serial log and helpers to wait on it."""

    def __init__(self, workdir, image, config_drive=None, volume_gib=1, memory_mib=1536,
                 accel="tcg", extra_args=(), smp=1, nic_options="", disk_gib=None):
        self.workdir = workdir
        self.serial_log = os.path.join(workdir, "serial.log")
        self.accel = accel
        self.process = None
        overlay = self.overlay = os.path.join(workdir, "root.qcow2")
        # disk_gib: a root disk larger than the image, as a flavor's disk is (the guest grows into it).
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.abspath(image), overlay,
             *([f"{disk_gib}G"] if disk_gib else [])],
            check=True, capture_output=True,
        )
        argv = [
            QEMU, "-machine", "q35", *(_accel_args(accel)), "-smp", str(smp), "-m", str(memory_mib),
            "-display", "none", "-monitor", "none", "-parallel", "none", "-no-reboot",
            "-serial", f"file:{self.serial_log}",
            "-drive", f"file={overlay},if=virtio,format=qcow2",
        ]
        if volume_gib:
            volume = os.path.join(workdir, "volume.raw")
            with open(volume, "wb") as handle:
                handle.truncate(volume_gib * 1024 ** 3)
            argv += ["-drive", f"file={volume},if=virtio,format=raw"]
        if config_drive:
            # Nova attaches the config drive as a CD-ROM on the IDE/SATA bus, not virtio.
            argv += ["-drive", f"file={config_drive},if=ide,media=cdrom,format=raw,readonly=on"]
        # nic_options: more -nic user options, e.g. "restrict=on,guestfwd=tcp:10.0.2.100:5672-cmd:socat ...".
        nic = "user,model=virtio-net-pci" + (f",{nic_options}" if nic_options else "")
        argv += ["-nic", nic, *extra_args]
        self.argv = argv
        with open(os.path.join(workdir, "qemu.stderr"), "wb") as stderr:
            self.process = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, preexec_fn=_die_with_parent,
            )

    # -- console ---------------------------------------------------------
    def console(self):
        try:
            with open(self.serial_log, "rb") as handle:
                return handle.read().decode("utf-8", "replace").replace("\r", "")
        except OSError:
            return ""

    def tail(self, lines=80):
        return tail(self.serial_log, lines)

    def _qemu_stderr(self):
        try:
            with open(os.path.join(self.workdir, "qemu.stderr"), "rb") as handle:
                return handle.read().decode("utf-8", "replace")[-2000:]
        except OSError:
            return ""

    def wait_for(self, pattern, timeout, what=None):
        """Wait until ``pattern`` (regex, searched in the whole console) appears.

        Returns the match. Raises BootError with the console tail on timeout
        or when qemu exits.
        """
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            text = self.console()
            match = regex.search(text)
            if match:
                return match
            if self.process.poll() is not None:
                raise BootError(
                    f"qemu exited (rc {self.process.returncode}) before the console showed "
                    f"{what or pattern!r}\nqemu: {self._qemu_stderr()}\n--- serial console (tail) ---\n{self.tail()}"
                )
            if time.monotonic() > deadline:
                raise BootError(
                    f"no {what or pattern!r} on the serial console within {timeout} s "
                    f"(accel {self.accel})\n--- serial console (tail) ---\n{self.tail()}"
                )
            time.sleep(1)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


class boot:  # noqa: N801 - used like a function: ``with boot(...) as guest``
    """Context manager: boot ``image`` and always kill qemu and remove its files.

    ``keep_log`` (a path) receives a copy of the serial console at the end,
    for failure reports. ``accel`` ("tcg" or "kvm") skips the KVM probe;
    ``smp`` is the vCPU count; ``nic_options`` are added to the user-mode NIC.
    """

    def __init__(self, image, config_drive=None, volume_gib=1, memory_mib=1536, keep_log=None,
                 workdir=None, accel=None, smp=1, nic_options="", disk_gib=None):
        if shutil.which(QEMU) is None:
            raise RuntimeError(f"{QEMU} is missing: install qemu-system-x86 (bindep.txt, profile test)")
        self.kwargs = {"config_drive": config_drive, "volume_gib": volume_gib, "memory_mib": memory_mib,
                       "smp": smp, "nic_options": nic_options, "disk_gib": disk_gib}
        self.accel = accel
        self.image = image
        self.keep_log = keep_log
        self.parent = workdir
        self.workdir = None
        self.guest = None

    def __enter__(self):
        global _accel_verdict
        accel = os.environ.get("DBAAS_QEMU_ACCEL") or self.accel or _accel_verdict
        if accel is None and not _kvm_usable():
            accel = _accel_verdict = "tcg"
        if accel is None:
            guest = self._start("kvm")
            try:
                guest.wait_for(_KERNEL_STARTED, KVM_PROBE_SECONDS, "kernel start under KVM")
            except BootError:
                self._finish()
                _accel_verdict = "tcg"
                return self._start_kept("tcg")
            _accel_verdict = "kvm"
            self.guest = guest
            return guest
        return self._start_kept(accel)

    def _start_kept(self, accel):
        self.guest = self._start(accel)
        return self.guest

    def _start(self, accel):
        self.workdir = tempfile.mkdtemp(prefix="qemu-guest-", dir=self.parent)
        try:
            self.guest = Guest(self.workdir, self.image, accel=accel, **self.kwargs)
        except BaseException:
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        return self.guest

    def _finish(self):
        if self.guest is not None:
            self.guest.stop()
            if self.keep_log and os.path.exists(self.guest.serial_log):
                shutil.copyfile(self.guest.serial_log, self.keep_log)
        if self.workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        self.guest = None
        self.workdir = None

    def __exit__(self, *exc):
        self._finish()
        return False
