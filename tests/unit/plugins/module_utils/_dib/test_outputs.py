# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Output verification (real qemu-img) and the atomic publish rules."""

import hashlib
import io
import json
import os
import subprocess
import tarfile

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import fingerprint as fp
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import outputs as out


def qcow2(path, size="8M"):
    subprocess.check_call(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size])
    return path


def tar(path):
    with tarfile.open(str(path), "w") as archive:
        data = b"hello"
        info = tarfile.TarInfo("etc/hostname")
        info.size = len(data)
        archive.addfile(info, io.BytesIO(data))
    return path


def test_verify_good_outputs(tmp_path):
    out.verify_output(str(qcow2(tmp_path / "a.qcow2")), "qcow2")
    out.verify_output(str(tar(tmp_path / "a.tar")), "tar")
    raw = tmp_path / "a.raw"
    raw.write_bytes(b"\0" * 65536)
    out.verify_output(str(raw), "raw")


@pytest.mark.parametrize(
    "fmt, content, message",
    [
        ("qcow2", b"definitely not qcow2" * 100, "cannot read"),
        ("tar", b"x" * 1024, "not a tar archive"),
        ("tgz", b"plain", "not gzip"),
        ("squashfs", b"nope", "not a squashfs"),
        ("qcow2", b"", "empty"),
    ],
)
def test_verify_rejects(tmp_path, fmt, content, message):
    path = tmp_path / ("x." + fmt)
    path.write_bytes(content)
    with pytest.raises(out.OutputError, match=message):
        out.verify_output(str(path), fmt)


def test_verify_rejects_qcow2_named_raw(tmp_path):
    path = qcow2(tmp_path / "x.raw")
    with pytest.raises(out.OutputError, match="qemu-img sees qcow2"):
        out.verify_output(str(path), "raw")


def test_verify_rejects_corrupt_qcow2(tmp_path):
    path = qcow2(tmp_path / "x.qcow2")
    subprocess.check_call(["qemu-img", "resize", "-q", str(path), "16M"])
    data = bytearray(path.read_bytes())
    # Point the L1 table (header offset 40) far outside the file: qemu-img check reports corruption.
    data[40:48] = (0x7FFF0000).to_bytes(8, "big")
    path.write_bytes(bytes(data))
    with pytest.raises(out.OutputError):
        out.verify_output(str(path), "qcow2")


def test_verify_missing(tmp_path):
    with pytest.raises(out.OutputError, match="did not write"):
        out.verify_output(str(tmp_path / "absent.qcow2"), "qcow2")


def test_publish_moves_and_records_last(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    stage = tmp_path / "stage"
    stage.mkdir()
    staged = {"qcow2": str(qcow2(stage / "img.qcow2")), "tar": str(tar(stage / "img.tar"))}
    images = out.describe_outputs(staged, str(dest), "img")
    assert images[0]["path"] == str(dest / "img.qcow2")
    assert images[0]["sha256"] == hashlib.sha256((stage / "img.qcow2").read_bytes()).hexdigest()
    # a stale output of a format this build no longer makes
    (dest / "img.raw").write_bytes(b"old raw")
    out.publish(staged, images, str(dest), "img", {"version": fp.FINGERPRINT_VERSION, "images": images})
    assert sorted(os.listdir(dest)) == ["img.fingerprint.json", "img.qcow2", "img.tar"]
    assert not os.listdir(stage)
    record = json.loads((dest / "img.fingerprint.json").read_text())
    assert record["images"] == images


def test_prune_keeps_vouched_outputs_only(tmp_path):
    dest = tmp_path
    good = dest / "img.qcow2"
    good.write_bytes(b"0123456789")
    fp.write_record(str(dest), "img", {
        "version": fp.FINGERPRINT_VERSION,
        "images": [{"path": str(good), "format": "qcow2", "size": 10, "sha256": "x"}],
    })
    (dest / "img.raw").write_bytes(b"unvouched")
    (dest / "other.raw").write_bytes(b"another image")
    assert out.prune_unaccounted(str(dest), "img") == [str(dest / "img.raw")]
    assert good.exists() and (dest / "other.raw").exists()

    good.write_bytes(b"changed!")  # size no longer matches its record
    assert out.prune_unaccounted(str(dest), "img") == [str(good)]
    assert not (dest / "img.fingerprint.json").exists()
