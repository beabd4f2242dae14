# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding what a build left on the host: mounts, loop devices, processes."""

import subprocess
import time

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import cleanup as cl

MOUNTS = """\
/dev/vda / ext4 rw,relatime 0 0
tmpfs /var/lib/img/.debian-12.tmp-x/tmp/dib_build.AbC tmpfs rw,relatime 0 0
/dev/loop3 /var/lib/img/.debian-12.tmp-x/tmp/dib_build.AbC/mnt ext4 rw,relatime 0 0
proc /var/lib/img/.debian-12.tmp-x/tmp/dib_build.AbC/mnt/proc proc rw 0 0
devtmpfs /var/lib/img/.debian-12.tmp-x/tmp/dib_build.AbC/mnt/dev devtmpfs rw 0 0
tmpfs /var/lib/img/.debian-12.tmp-xyz/tmp/dib_build.Other tmpfs rw 0 0
tmpfs /var/lib/img/.debian-12.tmp-x/with\\040space tmpfs rw 0 0
"""


def test_mounts_under_deepest_first_and_only_ours(tmp_path):
    mounts = tmp_path / "mounts"
    mounts.write_text(MOUNTS)
    found = cl.mounts_under("/var/lib/img/.debian-12.tmp-x", str(mounts))
    base = "/var/lib/img/.debian-12.tmp-x"
    # a sibling build's folder (.tmp-xyz) shares the prefix but is not ours
    assert set(found) == {
        base + "/tmp/dib_build.AbC", base + "/tmp/dib_build.AbC/mnt", base + "/tmp/dib_build.AbC/mnt/proc",
        base + "/tmp/dib_build.AbC/mnt/dev", base + "/with space",
    }
    depths = [p.count("/") for p in found]
    assert depths == sorted(depths, reverse=True)


def test_loops_backed_under(tmp_path):
    sys_block = tmp_path / "block"
    for name, backing in (
        ("loop0", "/var/lib/img/.debian-12.tmp-x/tmp/dib_image.Q/image0.raw"),
        ("loop1", "/srv/other/disk.raw"),
        ("loop2", "/var/lib/img/.debian-12.tmp-x/tmp/dib_image.Q/image1.raw (deleted)"),
    ):
        (sys_block / name / "loop").mkdir(parents=True)
        (sys_block / name / "loop" / "backing_file").write_text(backing + "\n")
    (sys_block / "loop7").mkdir()  # unattached loop: no loop/ folder
    assert cl.loops_backed_under("/var/lib/img/.debian-12.tmp-x", str(sys_block)) == ["/dev/loop0", "/dev/loop2"]


def test_pids_rooted_under_and_group_kill(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    proc = subprocess.Popen(["sleep", "60"], cwd=str(work), start_new_session=True)
    try:
        assert proc.pid in cl.pids_rooted_under(str(work))
        assert cl.group_members(proc.pid) == [proc.pid]
        started = time.monotonic()
        cl.kill_group(proc.pid, grace=5)
        assert time.monotonic() - started < 5
        assert proc.wait(timeout=5) != 0
        assert cl.group_members(proc.pid) == []
    finally:
        if proc.poll() is None:
            proc.kill()


def test_cleanup_build_removes_folder(tmp_path):
    work = tmp_path / ".img.tmp-1"
    (work / "tmp" / "dib_build.X").mkdir(parents=True)
    (work / "out" / "img.qcow2").parent.mkdir(parents=True)
    (work / "out" / "img.qcow2").write_bytes(b"partial")
    assert cl.cleanup_build(str(work), None) == []
    assert not work.exists()


def test_remove_tree_refuses_while_something_is_mounted(tmp_path, monkeypatch):
    work = tmp_path / ".img.tmp-1"
    (work / "mnt" / "dev").mkdir(parents=True)
    (work / "mnt" / "dev" / "null-lookalike").write_text("host file seen through a bind mount")
    monkeypatch.setattr(cl, "mounts_under", lambda root, mounts_file="/proc/mounts": [str(work / "mnt" / "dev")])
    cl.remove_tree(str(work))
    assert (work / "mnt" / "dev" / "null-lookalike").exists()
