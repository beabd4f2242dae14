# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/build_guest.yml on localhost: a real DIB build, checked from outside.

Full builds in this module: the base image (shared session fixture) and one
rebuild with a changed environment and one more package (which the report's
SBOM comparison must name, and nothing else), whose first attempt is
abandoned: its playbook is SIGKILLed during the install phase and the build
must stop by itself (no heartbeat from the controller).
"""

import dataclasses
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import time

import pytest
from fixtures.build import BASE_IMAGE_ENTRY, BASE_IMAGE_NAME, base_image_vars, playbook_argv, write_vars
from lib import imageinspect
from lib.digest import sha256

BUILD_TASK = "Run diskimage-builder, unless the fingerprint is unchanged, for " + BASE_IMAGE_NAME
# The killed build's poll interval: the build host stops it after 3 polls without a heartbeat.
POLL_INTERVAL = 5


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
    assert output["sha256"] == sha256(base_image.qcow2)
    markdown = (base_image.output_dir / "build-report.md").read_text()
    assert f"| {BASE_IMAGE_NAME} | localhost | built |" in markdown
    # Where the time went: every stage this image went through (verify skipped, no cloud: no later stage).
    stages = entry["stages"]
    assert set(stages) == {"prepare", "validate", "fingerprint", "lock_wait", "dib", "outputs", "sbom"}, stages
    assert all(isinstance(seconds, (int, float)) and seconds >= 0 for seconds in stages.values()), stages
    assert stages["prepare"] > 0, stages
    # DIB's own phases, from its log, split the dib step: a real build spends most of it in them.
    phases = entry["phases"]
    assert {"root.d", "install.d", "block-device", "conversion"} <= set(phases), phases
    assert 0.5 * stages["dib"] <= sum(phases.values()) <= stages["dib"], (phases, stages)
    assert stages["dib"] + stages["outputs"] <= entry["duration"], (stages, entry["duration"])
    assert ("| image | build host | prepare | validate | fingerprint | lock_wait | dib | outputs | sbom | DIB phases |"
            in markdown), markdown
    assert any(line.startswith(f"| {BASE_IMAGE_NAME} | localhost | ") and "install.d " in line
               for line in markdown.splitlines()), markdown


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
    watched = [out / f"{BASE_IMAGE_NAME}.{suffix}" for suffix in ("qcow2", "log", "fingerprint.json", "cdx.json")]
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
    assert entry["sbom"]["changes"] == "unchanged"
    assert entry["sbom"]["sha256"] == sha256(out / f"{BASE_IMAGE_NAME}.cdx.json")
    # A reused image shows only what this run spent on it; the further run below must still change nothing.
    assert set(entry["stages"]) == {"prepare", "validate", "fingerprint"}, entry["stages"]
    assert "phases" not in entry
    assert "unchanged (image reused)" in (out / "build-report.md").read_text()
    assert not list(out.glob(f".{BASE_IMAGE_NAME}.tmp-*"))
    print(f"no-op rerun of build_guest.yml: {elapsed:.1f} s")
    # The report changed (built -> reused); a further run changes nothing at all.
    again = run_playbook("build_guest.yml", base_image.vars)
    assert again.rc == 0, again.output[-4000:]
    assert re.search(r"^localhost\s*:\s*ok=\d+\s+changed=0\s", again.output, re.MULTILINE), again.output[-3000:]
    assert {path: _identity(path) for path in watched} == before


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


def _lock_holders(lock: pathlib.Path) -> list:
    """PIDs of processes that have the file open."""
    target = str(lock.resolve())
    holders = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fds = list((entry / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) == target:
                    holders.append(int(entry.name))
                    break
            except OSError:
                continue
    return holders


def _build_leftovers(out: pathlib.Path, locks: list) -> dict:
    return {
        "work dirs": [str(p) for p in out.glob(f".{BASE_IMAGE_NAME}.tmp-*")],
        "mounts": imageinspect.mounts_under(out),
        "loops": imageinspect.attached_loops_under(out),
        "mapper nodes": imageinspect.stale_mapper_nodes(),
        "processes": _dib_processes_of(out),
        "lock holders": [pid for lock in locks for pid in _lock_holders(lock)],
        "heartbeat files": [str(p) for p in out.glob(f".{BASE_IMAGE_NAME}.heartbeat-*")],
    }


@dataclasses.dataclass
class AbandonedThenRebuilt:
    out: pathlib.Path
    leftovers: dict
    stopped_after: float
    async_result: pathlib.Path
    note: dict
    old_record_kept: bool
    outputs_after_kill: list
    rerun: object


@pytest.fixture(scope="module")
def abandoned_then_rebuilt(base_image, ansible_env, run_playbook, build_session_dir, build_cache_dir):
    """A rebuild (changed environment) whose playbook is SIGKILLed in install.d, then the same run again.

    The rerun is the rebuild test_changed_environment_rebuilds checks, so the kill costs only the
    build up to install.d and the heartbeat's 3 poll intervals.
    """
    # A copy of the base output so the shared base image is not touched: the
    # image as a hard link (same inode), its fingerprint and log as copies.
    out = build_session_dir / "changed-env"
    out.mkdir()
    os.link(base_image.qcow2, out / base_image.qcow2.name)
    for suffix in ("fingerprint.json", "log", "cdx.json"):
        shutil.copy2(base_image.output_dir / f"{BASE_IMAGE_NAME}.{suffix}", out / f"{BASE_IMAGE_NAME}.{suffix}")
    record = (out / f"{BASE_IMAGE_NAME}.fingerprint.json").read_bytes()
    extra_vars = base_image_vars(out, build_cache_dir)
    changed = dict(BASE_IMAGE_ENTRY)
    changed["environment"] = dict(changed["environment"], DIB_CLOUD_INIT_DATASOURCES="ConfigDrive, OpenStack, NoCloud")
    # One more package list entry (tree: one small package, no new dependency): the SBOM comparison
    # of the report must name exactly it.
    changed["packages"] = ["tree"]
    extra_vars["build_guest_images"] = [changed]
    extra_vars["dib_image_poll_interval"] = POLL_INTERVAL
    locks = [out / f".{BASE_IMAGE_NAME}.lock", build_cache_dir / ".dbaas-guest-images-cache.lock"]

    argv = playbook_argv("build_guest.yml", write_vars(extra_vars, build_session_dir))
    proc = subprocess.Popen(
        argv, env=ansible_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        _wait_for_install_phase(out, proc)
        (beat,) = out.glob(f".{BASE_IMAGE_NAME}.heartbeat-*")
        async_result = pathlib.Path(beat.read_text().strip())
        assert async_result.is_file(), async_result
        assert _lock_holders(locks[0]), f"no process holds {locks[0]} while DIB runs"
        # What a cancelled AWX job or a lost SSH session does: SIGKILL to the playbook's process group only.
        os.killpg(proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    while True:
        leftovers = _build_leftovers(out, locks)
        stopped_after = time.monotonic() - killed
        if not any(leftovers.values()) or stopped_after > 60:
            break
        time.sleep(2)
    deadline = time.monotonic() + 15
    while async_result.exists() and time.monotonic() < deadline:
        time.sleep(1)
    note_file = out / f"{BASE_IMAGE_NAME}.abandoned.json"
    note = json.loads(note_file.read_text()) if note_file.exists() else {}
    # The last good build's record is untouched (its image is pruned here: the copied record names the base's path).
    old_record_kept = (out / f"{BASE_IMAGE_NAME}.fingerprint.json").read_bytes() == record
    outputs_after_kill = [str(p) for p in out.glob(f"{BASE_IMAGE_NAME}.qcow2*")]
    rerun = run_playbook("build_guest.yml", extra_vars)
    return AbandonedThenRebuilt(out, leftovers, stopped_after, async_result, note, old_record_kept,
                                outputs_after_kill, rerun)


def test_killed_playbook_stops_its_build_within_a_minute(abandoned_then_rebuilt):
    state = abandoned_then_rebuilt
    assert not any(state.leftovers.values()), state.leftovers
    print(f"build stopped {state.stopped_after:.0f} s after the playbook was killed")
    assert state.stopped_after <= 60
    assert not state.async_result.exists(), "the async result was left in the async folder"
    assert state.note["cause"] == "controller gone"
    assert state.note["phase"] == "install.d"
    # No half-built output: the last good build's fingerprint record is as it was.
    assert state.old_record_kept
    assert state.outputs_after_kill == []


def test_changed_environment_rebuilds(abandoned_then_rebuilt, base_image):
    run, out = abandoned_then_rebuilt.rerun, abandoned_then_rebuilt.out
    assert run.rc == 0, run.output[-4000:]
    assert run.task_status(BUILD_TASK) == ["changed"]
    entry = run.image(BASE_IMAGE_NAME)
    assert entry["status"] == "built"
    assert entry["fingerprint"] != base_image.report_entry["fingerprint"]
    assert entry["reason"].startswith("fingerprint changed: "), entry["reason"]
    assert "environment.DIB_CLOUD_INIT_DATASOURCES" in entry["reason"] and "packages" in entry["reason"]
    # The rerun reports the abandoned build, and only once.
    assert entry["previous"].startswith("previous build was abandoned: controller gone at install.d"), entry
    assert not (out / f"{BASE_IMAGE_NAME}.abandoned.json").exists()
    markdown = (out / "build-report.md").read_text()
    assert "previous build was abandoned: controller gone at install.d" in markdown
    qcow2 = out / f"{BASE_IMAGE_NAME}.qcow2"
    assert qcow2.stat().st_ino != base_image.qcow2.stat().st_ino
    assert entry["outputs"][0]["sha256"] == sha256(qcow2)
    with imageinspect.mounted_root(qcow2) as root:
        assert _datasource_list(root)[:3] == ["ConfigDrive", "OpenStack", "NoCloud"]
        status = (root / "var/lib/dpkg/status").read_text()
    (tree_version,) = re.findall(r"^Package: tree\nStatus: install ok installed\n(?:.+\n)*?Version: (\S+)$",
                                 status, re.MULTILINE)
    base_sbom = base_image.output_dir / f"{BASE_IMAGE_NAME}.cdx.json"
    assert (out / f"{BASE_IMAGE_NAME}.cdx.previous.json").read_bytes() == base_sbom.read_bytes()
    assert entry["sbom"]["path"] == str(out / f"{BASE_IMAGE_NAME}.cdx.json")
    assert entry["sbom"]["changes"] == {
        "added": [{"kind": "deb", "name": "tree", "arch": "amd64", "version": tree_version}],
        "removed": [], "upgraded": [], "downgraded": [],
    }
    report = json.loads((out / "build-report.json").read_text())
    (row,) = [r for r in report["images"] if r["name"] == BASE_IMAGE_NAME]
    assert row["sbom"] == entry["sbom"]
    assert f"  - + tree {tree_version}\n" in markdown


FALLBACK = pathlib.Path(__file__).resolve().parents[2] / "roles" / "build_host" / "files" / "dm_fallback"


def _device_mapper_works() -> bool:
    if not os.path.exists("/dev/mapper/control"):
        return False
    return subprocess.run(["/usr/sbin/dmsetup", "version"], capture_output=True, check=False).returncode == 0


def test_dm_fallback_maps_and_unmaps_loop_partitions(tmp_path):
    """The fallback scripts of the repository do what DIB asks of kpartx/dmsetup (or hand over)."""
    disk = tmp_path / "disk.img"
    with open(disk, "wb") as handle:
        handle.truncate(24 << 20)
    subprocess.run(["sfdisk", "-q", str(disk)], input=",8M\n,8M\n", text=True, check=True)
    loop = subprocess.run(["losetup", "--show", "-f", str(disk)], capture_output=True, text=True, check=True)
    loop = loop.stdout.strip()
    base = os.path.basename(loop)
    kpartx, dmsetup = str(FALLBACK / "kpartx"), str(FALLBACK / "dmsetup")
    try:
        if _device_mapper_works():
            # Belt and braces: with device-mapper the real kpartx does the work.
            real = subprocess.run([kpartx, "-av", loop], capture_output=True, text=True, check=True)
            assert f"{base}p1" in real.stdout
            return
        added = subprocess.run([kpartx, "-av", loop], capture_output=True, text=True, check=True).stdout
        assert f"add map {base}p1 " in added and f"add map {base}p2 " in added
        subprocess.run([dmsetup, "--noudevsync", "mknodes"], check=True)
        for number in (1, 2):
            node = pathlib.Path(f"/dev/mapper/{base}p{number}")
            assert node.is_block_device()
            sys_dev = (pathlib.Path("/sys/block") / base / f"{base}p{number}" / "dev").read_text().strip()
            assert f"{os.major(node.stat().st_rdev)}:{os.minor(node.stat().st_rdev)}" == sys_dev
        # The node is usable: a file system made through it lands at the partition's offset.
        subprocess.run(["mkfs.ext4", "-q", "-L", "fallbacktest", f"/dev/mapper/{base}p2"], check=True)
        label = subprocess.run(
            ["blkid", "-p", "-o", "value", "-s", "LABEL", "--offset", str(9 << 20), str(disk)],
            capture_output=True, text=True, check=False,
        )
        assert label.stdout.strip() == "fallbacktest"
        # Rollback path of DIB: dmsetup remove of one partition map.
        subprocess.run([dmsetup, "remove", f"{base}p2"], check=True)
        assert not os.path.exists(f"/dev/mapper/{base}p2")
        assert not (pathlib.Path("/sys/block") / base / f"{base}p2").exists()
        # Normal path: kpartx -d removes nodes and partitions.
        subprocess.run([kpartx, "-d", loop], check=True)
        assert not list(pathlib.Path("/dev/mapper").glob(f"{base}p*"))
        assert not list((pathlib.Path("/sys/block") / base).glob(f"{base}p*"))
        # Anything DIB does not use is refused with a message, not half done.
        refused = subprocess.run([kpartx, "-l", loop], capture_output=True, text=True, check=False)
        assert refused.returncode != 0 and "device-mapper fallback" in refused.stderr
    finally:
        subprocess.run([kpartx, "-d", loop], capture_output=True, check=False)
        subprocess.run(["losetup", "-d", loop], check=False)
