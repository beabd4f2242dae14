# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/build_guest.yml on localhost: a real DIB build, checked from outside.

Full builds in this module: the base image (shared session fixture) and one
rebuild with a changed environment; plus one build killed during its
install phase.
"""

import hashlib
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest
from fixtures.build import BASE_IMAGE_NAME, base_image_vars, playbook_argv, write_vars
from lib import imageinspect

BUILD_TASK = "Run diskimage-builder, unless the fingerprint is unchanged, for " + BASE_IMAGE_NAME


def _sha256(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _identity(path):
    stat = os.stat(path)
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def _datasource_list(root: pathlib.Path) -> list:
    """cloud-init's datasource_list as written by the cloud-init-datasources element."""
    for cfg in sorted((root / "etc/cloud/cloud.cfg.d").glob("*.cfg")):
        match = re.search(r"^datasource_list:\s*\[(?P<items>[^\]]*)\]", cfg.read_text(), re.MULTILINE)
        if match:
            return [item.strip() for item in match.group("items").split(",") if item.strip()]
    return []


def test_report_matches_the_file_on_disk(base_image):
    entry = base_image.report_entry
    assert entry["status"] == "built"
    assert entry["build_host"] == "localhost"
    assert re.fullmatch(r"[0-9a-f]{64}", entry["fingerprint"])
    (output,) = [out for out in entry["outputs"] if out["format"] == "qcow2"]
    assert pathlib.Path(output["path"]) == base_image.qcow2
    assert output["size"] == base_image.qcow2.stat().st_size
    assert output["sha256"] == _sha256(base_image.qcow2)
    markdown = (base_image.output_dir / "build-report.md").read_text()
    assert f"| {BASE_IMAGE_NAME} | localhost | built |" in markdown


def test_image_is_a_sound_qcow2(base_image):
    info = imageinspect.qemu_img_info(base_image.qcow2)
    assert info["format"] == "qcow2"
    assert info["virtual-size"] >= 1 << 30
    check = imageinspect.qemu_img_check(base_image.qcow2)
    assert check.get("corruptions", 0) == 0
    assert check.get("leaks", 0) == 0
    assert check.get("check-errors", 0) == 0


def test_image_has_one_bootable_linux_partition(base_image):
    parts = imageinspect.partitions(base_image.qcow2)
    assert len(parts) == 1, parts
    (root,) = parts
    assert root["label"] == "dos"
    assert root["type"] == "83"
    assert root["bootable"]
    virtual_size = imageinspect.qemu_img_info(base_image.qcow2)["virtual-size"]
    assert root["size"] > virtual_size * 0.9


def test_root_file_system_has_cloud_init_for_openstack(base_image):
    with imageinspect.mounted_root(base_image.qcow2) as root:
        assert "VERSION_CODENAME=bookworm" in (root / "etc/os-release").read_text()
        status = (root / "var/lib/dpkg/status").read_text()
        assert re.search(r"^Package: cloud-init\nStatus: install ok installed$", status, re.MULTILINE)
        assert (root / "usr/bin/cloud-init").is_file()
        assert _datasource_list(root)[:2] == ["ConfigDrive", "OpenStack"]
        assert list((root / "boot").glob("vmlinuz-*")), "no kernel in /boot"
        assert (root / "boot/grub/grub.cfg").is_file()
    with open("/proc/self/mountinfo", encoding="utf-8") as mounts:
        assert "imageinspect-root-" not in mounts.read(), "mounted_root left its mount behind"


def test_rerun_changes_nothing_and_does_not_run_dib(base_image, run_playbook):
    out = base_image.output_dir
    watched = [out / f"{BASE_IMAGE_NAME}.{suffix}" for suffix in ("qcow2", "log", "fingerprint.json")]
    before = {path: _identity(path) for path in watched}
    started = time.monotonic()
    run = run_playbook("build_guest.yml", base_image.vars)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.output[-4000:]
    assert run.task_status(BUILD_TASK) == ["ok"], run.output[-4000:]
    assert {path: _identity(path) for path in watched} == before
    entry = run.image(BASE_IMAGE_NAME)
    assert entry["status"] == "reused"
    assert entry["fingerprint"] == base_image.report_entry["fingerprint"]
    assert not list(out.glob(f".{BASE_IMAGE_NAME}.tmp-*"))
    print(f"no-op rerun of build_guest.yml: {elapsed:.1f} s")


def test_changed_environment_rebuilds(base_image, run_playbook, build_session_dir, build_cache_dir):
    # A copy of the base output (hard links: same inodes) so the shared base image is not touched.
    out = build_session_dir / "changed-env"
    out.mkdir()
    for item in base_image.output_dir.iterdir():
        if item.is_file() and not item.name.startswith("build-report"):
            os.link(item, out / item.name)
    base_inode = base_image.qcow2.stat().st_ino
    extra_vars = base_image_vars(out, build_cache_dir)
    extra_vars["build_guest_images"] = [
        {
            "name": BASE_IMAGE_NAME,
            "elements": ["debian-minimal", "vm", "block-device-mbr", "cloud-init", "cloud-init-datasources"],
            "environment": {"DIB_RELEASE": "bookworm", "DIB_CLOUD_INIT_DATASOURCES": "ConfigDrive, OpenStack, NoCloud"},
            "formats": ["qcow2"],
        }
    ]
    run = run_playbook("build_guest.yml", extra_vars)
    assert run.rc == 0, run.output[-4000:]
    assert run.task_status(BUILD_TASK) == ["changed"]
    entry = run.image(BASE_IMAGE_NAME)
    assert entry["status"] == "built"
    assert entry["fingerprint"] != base_image.report_entry["fingerprint"]
    qcow2 = out / f"{BASE_IMAGE_NAME}.qcow2"
    assert qcow2.stat().st_ino != base_inode
    assert base_image.qcow2.stat().st_ino == base_inode
    assert entry["outputs"][0]["sha256"] == _sha256(qcow2)
    with imageinspect.mounted_root(qcow2) as root:
        assert _datasource_list(root)[:3] == ["ConfigDrive", "OpenStack", "NoCloud"]


def _wait_for_install_phase(out: pathlib.Path, proc, timeout=1200) -> pathlib.Path:
    deadline = time.monotonic() + timeout
    pattern = re.compile(r"dib-run-parts Running \S+/install\.d/")
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"the playbook ended (rc {proc.returncode}) before DIB reached install.d")
        for log in out.glob(f".{BASE_IMAGE_NAME}.tmp-*/*.log"):
            if pattern.search(log.read_text(errors="replace")):
                return log
        time.sleep(2)
    pytest.fail("DIB did not reach install.d in time")


def _dib_processes_of(folder: pathlib.Path) -> list:
    """PIDs of processes whose command line mentions the folder (DIB and its helpers)."""
    pids = []
    for entry in pathlib.Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(folder) in cmdline and int(entry.name) != os.getpid():
                pids.append(int(entry.name))
    return pids


def test_killed_build_leaves_nothing_behind(ansible_env, build_session_dir, build_cache_dir):
    out = build_session_dir / "killed"
    extra_vars = base_image_vars(out, build_cache_dir)
    # Another value than the other builds: nothing can be reused.
    extra_vars["build_guest_images"] = [
        {
            "name": BASE_IMAGE_NAME,
            "elements": ["debian-minimal", "vm", "block-device-mbr", "cloud-init", "cloud-init-datasources"],
            "environment": {"DIB_RELEASE": "bookworm", "DIB_CLOUD_INIT_DATASOURCES": "OpenStack"},
        }
    ]
    argv = playbook_argv("build_guest.yml", write_vars(extra_vars, build_session_dir))
    proc = subprocess.Popen(
        argv, env=ansible_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for_install_phase(out, proc)
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    # Cleanup may be finished by a helper after the playbook died: give it a moment.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        leftovers = {
            "work dirs": [str(p) for p in out.glob(f".{BASE_IMAGE_NAME}.tmp-*")],
            "mounts": imageinspect.mounts_under(out),
            "loops": imageinspect.attached_loops_under(out),
            "mapper nodes": imageinspect.stale_mapper_nodes(),
            "processes": _dib_processes_of(out),
        }
        if not any(leftovers.values()):
            break
        time.sleep(3)
    assert not any(leftovers.values()), leftovers
    assert not (out / f"{BASE_IMAGE_NAME}.qcow2").exists()
    assert not (out / f"{BASE_IMAGE_NAME}.fingerprint.json").exists()
    assert not list(out.glob(f"{BASE_IMAGE_NAME}.qcow2*"))
