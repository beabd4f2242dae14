# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Look inside built disk images from tests, from the outside.

Needs root (loop mounts), ``qemu-img`` and ``sfdisk``; no device-mapper and
no kpartx: the image is converted to a raw copy in a temporary folder and its
root partition is loop-mounted read-only at its byte offset.

    info = qemu_img_info("/out/debian-12-base.qcow2")       # dict, qemu-img's JSON
    check = qemu_img_check("/out/debian-12-base.qcow2")     # dict, qemu-img's JSON
    parts = partitions("/out/debian-12-base.qcow2")         # list of partition dicts
    with mounted_root("/out/debian-12-base.qcow2") as root:  # pathlib.Path, read-only
        assert (root / "etc/os-release").is_file()

``mounted_root`` always unmounts, detaches the loop device and deletes the
raw copy, also when the test body raises.
"""

import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import tempfile

# Linux partition types that can hold a root file system (MBR ids and GPT GUIDs).
_LINUX_TYPES = {"83", "0fc63daf-8483-4772-8e79-3d69d8477de4", "4f68bce3-e8cd-4db1-96e7-fbcaf984b709"}


def _run(argv, **kwargs):
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


def qemu_img_info(path):
    """``qemu-img info --output=json`` as a dict (format, virtual-size, ...)."""
    return json.loads(_run(["qemu-img", "info", "--output=json", str(path)]).stdout)


def qemu_img_check(path):
    """``qemu-img check --output=json`` as a dict; raises when the image is corrupt."""
    return json.loads(_run(["qemu-img", "check", "--output=json", str(path)]).stdout)


@contextlib.contextmanager
def raw_copy(path, workdir=None):
    """A raw copy of the image in a temporary folder, removed afterwards."""
    folder = tempfile.mkdtemp(prefix="imageinspect-", dir=workdir)
    try:
        raw = os.path.join(folder, "disk.raw")
        _run(["qemu-img", "convert", "-O", "raw", str(path), raw])
        yield raw
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sfdisk(raw):
    table = json.loads(_run(["sfdisk", "-J", raw]).stdout)["partitiontable"]
    sector_size = int(table.get("sectorsize", 512))
    result = []
    for part in table.get("partitions", []):
        result.append(
            {
                "node": part["node"],
                "number": int(part["node"].rsplit(os.path.basename(raw), 1)[-1] or 0),
                "start": int(part["start"]) * sector_size,
                "size": int(part["size"]) * sector_size,
                "type": str(part.get("type", "")).lower(),
                "bootable": bool(part.get("bootable", False)),
                "name": part.get("name", ""),
                "label": table.get("label", ""),
            }
        )
    return result


def partitions(path):
    """The partition table of an image of any format.

    Each partition: ``number``, ``start`` and ``size`` in bytes, ``type``
    (MBR id or GPT type GUID, lower case), ``bootable``, ``name`` (GPT) and
    ``label`` (``dos`` or ``gpt``).
    """
    with raw_copy(path) as raw:
        return _sfdisk(raw)


def _root_partition(parts):
    linux = [part for part in parts if part["type"] in _LINUX_TYPES]
    if not linux:
        raise AssertionError(f"no Linux partition in the image: {parts}")
    return max(linux, key=lambda part: part["size"])


@contextlib.contextmanager
def mounted_root(path, workdir=None):
    """Mount the image's root file system read-only; yield its path.

    The root is the largest Linux partition. The mount uses a loop device at
    the partition's byte offset (``mount -o ro,loop,offset=,sizelimit=``), so
    it needs neither kpartx nor device-mapper. Everything is undone on exit.
    """
    with raw_copy(path, workdir) as raw:
        part = _root_partition(_sfdisk(raw))
        mountpoint = tempfile.mkdtemp(prefix="imageinspect-root-", dir=os.path.dirname(raw))
        # noload: do not replay an ext4 journal, the copy stays untouched.
        options = f"ro,loop,offset={part['start']},sizelimit={part['size']}"
        try:
            _run(["mount", "-o", options + ",noload", raw, mountpoint])
        except subprocess.CalledProcessError:
            _run(["mount", "-o", options, raw, mountpoint])
        try:
            yield pathlib.Path(mountpoint)
        finally:
            # mount -o loop attached the loop device with autoclear: unmounting detaches it.
            subprocess.run(["umount", mountpoint], check=False, capture_output=True)
            if os.path.ismount(mountpoint):
                subprocess.run(["umount", "-l", mountpoint], check=False, capture_output=True)
            leftover = _loops_of(raw)
            for loop in leftover:
                subprocess.run(["losetup", "-d", loop], check=False, capture_output=True)
            os.rmdir(mountpoint)


def _loops_of(backing_file):
    """Loop devices attached to ``backing_file``."""
    out = subprocess.run(
        ["losetup", "-j", backing_file, "-O", "NAME", "-n"], capture_output=True, text=True, check=False
    )
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def attached_loops_under(folder):
    """``(loop, backing file)`` of attached loop devices whose backing file is below ``folder``."""
    out = _run(["losetup", "-l", "-n", "-O", "NAME,BACK-FILE"]).stdout
    folder = os.path.realpath(str(folder)) + os.sep
    found = []
    for line in out.splitlines():
        fields = line.split(None, 1)
        if len(fields) == 2 and fields[1].replace(" (deleted)", "").startswith(folder):
            found.append((fields[0], fields[1]))
    return found


def mounts_under(folder):
    """Mount points below ``folder`` (from /proc/self/mountinfo)."""
    folder = os.path.realpath(str(folder)) + os.sep
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            mountpoint = line.split()[4].replace("\\040", " ")
            if mountpoint.startswith(folder):
                found.append(mountpoint)
    return found


def stale_mapper_nodes():
    """``/dev/mapper/loopNpM`` nodes whose loop device is not attached (left by a killed build)."""
    mapper = pathlib.Path("/dev/mapper")
    if not mapper.is_dir():
        return []
    stale = []
    for node in sorted(mapper.glob("loop*p*")):
        loop = node.name.split("p", 1)[0]
        backing = pathlib.Path("/sys/block") / loop / "loop" / "backing_file"
        if not backing.exists():
            stale.append(str(node))
    return stale
