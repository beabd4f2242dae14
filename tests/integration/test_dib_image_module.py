# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dib_image against real diskimage-builder: the failure and kill paths.

The playbook tests of the build stage (test_build_guest.py) cover a full
build, the no-op rerun and rebuilds.  These tests cover what only a real
DIB run shows and what those tests do not look at:

* a real DIB failure is reported with DIB's own words and the failing hook,
  and leaves nothing behind (no work folder, no mount, no loop device, no
  output);
* a build killed by ``timeout`` while DIB holds mounts in its chroot
  leaves nothing behind either, and the action plugin printed real progress
  lines (DIB phases and hooks) while it ran.

Each test stops DIB early, so both together take about a minute or two.
"""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from fixtures.build import BASE_IMAGE_NAME

from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import apt_sources
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.cleanup import (
    loops_backed_under,
    mounts_under,
    pids_rooted_under,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.validate import DEFAULT_DIB_COMMAND


def mirror_environment() -> dict:
    """The build host's own Debian mirrors, as the build_host role would set them."""
    mirrors = apt_sources.find_mirrors(apt_sources.read_sources())
    return apt_sources.dib_environment_by_distribution(mirrors).get("debian", {})


@pytest.fixture
def dib_command(base_image):
    """disk-image-create as the build_host role installed it (the session's base image build ran that role)."""
    assert os.access(DEFAULT_DIB_COMMAND, os.X_OK), f"the build_host role did not install {DEFAULT_DIB_COMMAND}"
    return DEFAULT_DIB_COMMAND


def test_published_outputs_match_their_fingerprint_file(base_image):
    """What the module wrote is what its fingerprint file and return value say, seen from outside."""
    dest = base_image.output_dir
    record = json.loads((dest / (BASE_IMAGE_NAME + ".fingerprint.json")).read_text())
    assert record["fingerprint"] == base_image.report_entry["fingerprint"]
    (image,) = [i for i in record["images"] if i["format"] == "qcow2"]
    assert image["path"] == str(base_image.qcow2)
    digest = hashlib.sha256()
    with open(base_image.qcow2, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    assert image["sha256"] == digest.hexdigest()
    assert image["size"] == base_image.qcow2.stat().st_size
    subprocess.run(["qemu-img", "check", str(base_image.qcow2)], check=True, stdout=subprocess.DEVNULL)
    # the components say what the image was built from, with per-input hashes
    assert "debian-minimal" in record["components"]["element_content"]
    assert record["components"]["dib_version"]
    assert sorted(name for name in os.listdir(dest) if name.startswith("." + BASE_IMAGE_NAME)) == [
        "." + BASE_IMAGE_NAME + ".lock"
    ]


def run_task(ansible_env, tmp_path, args, poll=2):
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n"
        "    - name: Build\n      dbaas.guest_images.dib_image: {}\n      register: out\n"
        "      ignore_errors: true\n"
        "    - name: Save\n      ansible.builtin.copy:\n        content: \"{{{{ out | to_json }}}}\"\n"
        "        dest: {}\n".format(json.dumps(args), tmp_path / "result.json")
    )
    proc = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(play), "-e", f"ansible_python_interpreter={sys.executable}",
         "-e", f"dib_image_poll_interval={poll}"],
        env=ansible_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900, check=False,
    )
    assert (tmp_path / "result.json").exists(), proc.stdout
    return proc, json.loads((tmp_path / "result.json").read_text())


def assert_nothing_left(dest):
    assert mounts_under(str(dest)) == [], "mounts left behind"
    assert loops_backed_under(str(dest)) == [], "loop devices left behind"
    assert pids_rooted_under(str(dest)) == [], "processes left in the build folder"
    leftovers = [name for name in os.listdir(dest) if ".tmp-" in name or name.endswith((".qcow2", ".progress.json"))]
    assert leftovers == []
    assert not (dest / "deb.fingerprint.json").exists()


def test_real_dib_failure_is_explained(ansible_env, build_cache_dir, dib_command, tmp_path):
    dest = tmp_path / "out"
    args = {
        "name": "deb",
        "dest": str(dest),
        "elements": ["debian-minimal"],
        "environment": dict(mirror_environment(), DIB_RELEASE="no-such-release"),
        "cache_dir": str(build_cache_dir),
        "dib_command": dib_command,
        "timeout": 600,
    }
    proc, result = run_task(ansible_env, tmp_path, args)
    assert result["failed"], proc.stdout
    assert "failed_hook" in result, (result, proc.stdout)
    # the element's own hook file, not the copy in the deleted work folder
    assert result["failed_hook"].endswith("/elements/debootstrap/root.d/08-debootstrap")
    assert os.path.isfile(result["failed_hook"])
    assert "failed in root.d/08-debootstrap (element debootstrap)" in result["msg"]
    # DIB's own words: debootstrap does not know the release
    assert "no-such-release" in result["msg"]
    assert len(result["msg"].splitlines()) <= 18
    assert result["log_path"] == str(dest / "deb.log")
    assert "08-debootstrap" in (dest / "deb.log").read_text()
    assert_nothing_left(dest)


def test_real_dib_timeout_kills_and_cleans(ansible_env, build_cache_dir, dib_command, tmp_path):
    dest = tmp_path / "out"
    args = {
        "name": "deb",
        "dest": str(dest),
        "elements": ["debian-minimal"],
        "environment": dict(mirror_environment(), DIB_RELEASE="bookworm"),
        "cache_dir": str(build_cache_dir),
        "dib_command": dib_command,
        "timeout": 45,
    }
    proc, result = run_task(ansible_env, tmp_path, args)
    assert result["failed"], proc.stdout
    assert "did not finish within timeout=45 s" in result["msg"]
    progress = [line for line in proc.stdout.splitlines() if line.startswith("[dib_image deb] ")]
    assert progress, proc.stdout
    assert any(line.split()[2] in ("root.d", "extra-data.d", "pre-install.d", "install.d") for line in progress)
    assert_nothing_left(dest)
    assert (dest / "deb.log").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a read-only file system needs root")
def test_read_only_output_file_system_is_named_as_such(ansible_env, build_cache_dir, dib_command, tmp_path):
    dest = tmp_path / "ro"
    dest.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(dest)], check=True)
    try:
        args = {"name": "deb", "dest": str(dest), "elements": ["debian-minimal"], "dib_command": dib_command,
                "cache_dir": str(build_cache_dir)}
        proc, result = run_task(ansible_env, tmp_path, args)
    finally:
        subprocess.run(["umount", str(dest)], check=True)
    assert result["failed"], proc.stdout
    assert result["msg"] == (
        f"dest: '{dest}' is on a read-only file system; choose a folder on a writable file system"
        " (or remount it read-write)"
    ), result["msg"]
    assert result["option"] == "dest"
