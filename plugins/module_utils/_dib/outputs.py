# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check DIB's outputs and move them into place atomically.

PRIVATE to the collection: no compatibility promise outside it.

Invariant kept by this module: whenever ``<dest>/<name>.fingerprint.json``
exists, every output it lists is at its path with the size and sha256 it
records.  Outputs at final paths that no valid fingerprint file accounts
for (left by a publish that was killed half-way, or a format the latest
build no longer makes) are removed, so nothing unverified is ever mistaken
for a finished image.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import tarfile

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import FileProblem, check_readable_file
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import file_digest
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.argv import FORMAT_SUFFIX, output_path
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.fingerprint import (
    fingerprint_path,
    load_record,
    write_record,
)

# DIB image type -> the format name qemu-img reports for it.
QEMU_FORMAT = {"qcow2": "qcow2", "raw": "raw", "vhd": "vpc", "vdi": "vdi", "vmdk": "vmdk", "qed": "qed"}
# qemu-img check: 0 clean, 3 only leaked clusters (wasted space, not corruption).
_CHECK_OK = (0, 3)


class OutputError(Exception):
    pass


def _qemu_img(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["qemu-img"] + args, stdin=subprocess.DEVNULL, capture_output=True, timeout=1800, check=False,
        )
    except FileNotFoundError as exc:
        raise OutputError("qemu-img is not installed on the build host (package qemu-utils); DIB needs it too") from exc


def verify_output(path: str, fmt: str) -> None:
    """Raise :class:`OutputError` unless ``path`` is a sound image of type ``fmt``."""
    if not os.path.isfile(path):
        raise OutputError(f"DIB reported success but did not write {path}")
    try:
        check_readable_file(path)
    except FileProblem as exc:
        raise OutputError(f"DIB wrote an unusable output: {exc}") from None
    if fmt in QEMU_FORMAT:
        info = _qemu_img(["info", "--output=json", "-f", QEMU_FORMAT[fmt], path])
        if info.returncode != 0:
            raise OutputError("qemu-img info cannot read {} as {}: {}".format(
                path, fmt, info.stderr.decode("utf-8", "replace").strip()))
        try:
            reported = json.loads(info.stdout.decode("utf-8", "replace")).get("format")
        except ValueError:
            reported = None
        if reported != QEMU_FORMAT[fmt]:
            raise OutputError(f"{path} is {reported}, not {fmt}")
        if fmt in ("qcow2", "qed", "vdi", "vmdk"):
            check = _qemu_img(["check", "-f", fmt, path])
            if check.returncode not in _CHECK_OK:
                raise OutputError("qemu-img check found errors in {}: {}".format(
                    path, (check.stdout + check.stderr).decode("utf-8", "replace").strip()[-1000:]))
        # An explicit format makes qemu-img accept any file as raw; detect
        # the common mistake of a qcow2 being shipped under a raw name.
        if fmt == "raw":
            probe = _qemu_img(["info", "--output=json", path])
            if probe.returncode == 0:
                try:
                    probed = json.loads(probe.stdout.decode("utf-8", "replace")).get("format")
                except ValueError:
                    probed = None
                if probed not in (None, "raw"):
                    raise OutputError(f"{path} should be raw but qemu-img sees {probed}")
    elif fmt in ("tar", "aci"):
        if not tarfile.is_tarfile(path):
            raise OutputError(f"{path} is not a tar archive")
    elif fmt == "tgz":
        with open(path, "rb") as handle:
            if handle.read(2) != b"\x1f\x8b":
                raise OutputError(f"{path} is not gzip-compressed")
    elif fmt == "squashfs":
        with open(path, "rb") as handle:
            if handle.read(4) != b"hsqs":
                raise OutputError(f"{path} is not a squashfs image")


def describe_outputs(staged: dict[str, str], dest: str, name: str) -> list[dict]:
    """Verify staged files and describe them under their final paths."""
    images = []
    for fmt, path in staged.items():
        verify_output(path, fmt)
        images.append(
            {
                "path": output_path(dest, name, fmt),
                "format": fmt,
                "size": os.path.getsize(path),
                "sha256": file_digest(path, "sha256"),
            }
        )
    return images


def _valid_paths(dest: str, name: str) -> set[str]:
    record = load_record(dest, name)
    if not record:
        return set()
    valid = set()
    for image in record.get("images") or []:
        path = image.get("path")
        try:
            if path and os.path.getsize(path) == image.get("size"):
                valid.add(path)
        except OSError:
            continue
    return valid


def candidate_paths(dest: str, name: str) -> list[str]:
    return [output_path(dest, name, fmt) for fmt in sorted(FORMAT_SUFFIX)]


def prune_unaccounted(dest: str, name: str) -> list[str]:
    """Remove final-path outputs that no valid fingerprint file vouches for; return them."""
    valid = _valid_paths(dest, name)
    if not valid and os.path.exists(fingerprint_path(dest, name)):
        # A record whose outputs are all gone or altered vouches for nothing.
        os.unlink(fingerprint_path(dest, name))
    removed = []
    for path in candidate_paths(dest, name):
        if path not in valid and os.path.lexists(path):
            os.unlink(path)
            removed.append(path)
    return removed


def publish(staged: dict[str, str], images: list[dict], dest: str, name: str, record: dict) -> str:
    """Move verified outputs into place, then write the fingerprint record last.

    The old record goes first: from then until the new record is written,
    no record vouches for the final paths, so a publish killed half-way
    leaves outputs that the next run prunes rather than trusts.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(fingerprint_path(dest, name))
    by_format = {image["format"]: image for image in images}
    for fmt, src in staged.items():
        os.replace(src, by_format[fmt]["path"])
    keep = {image["path"] for image in images}
    for path in candidate_paths(dest, name):
        if path not in keep and os.path.lexists(path):
            os.unlink(path)
    # Make the renames durable before the record that vouches for them.
    dir_fd = os.open(dest, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    return write_record(dest, name, record)
