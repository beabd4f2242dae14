# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E501 -- the fixtures are real DIB log lines, kept whole
"""Phase/hook tracking from DIB log lines, and the progress file."""

import json
import time

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import progress as pg

# Excerpt of a real DIB 3.43 log (debian-minimal cloud-init cloud-init-datasources,
# -t qcow2,tar), lines in their original order, work folder renamed.
T = "/var/lib/guest-images/.debian-12.tmp-k2j4/tmp/dib_build.KxLfHuQM"
REAL_LOG = f"""\
2026-11-25 02:41:04.062 | diskimage-builder version 3.43.0
2026-11-25 02:41:04.062 | Building elements: base debian-minimal cloud-init cloud-init-datasources
2026-11-25 02:41:04.498 | INFO diskimage_builder.block_device.blockdevice [-] Wrote final block device config to [{T}/states/block-device/config.json]
2026-11-25 02:41:04.798 | INFO diskimage_builder.block_device.blockdevice [-] Getting value for [root-label]
2026-11-25 02:41:05.931 | Running hooks from {T}/hooks/root.d
2026-11-25 02:41:05.941 | dib-run-parts Sourcing environment file {T}/hooks/root.d/../environment.d/10-base-defaults
2026-11-25 02:41:05.954 | dib-run-parts Running {T}/hooks/root.d/08-debootstrap
2026-11-25 02:41:06.026 | I: Target architecture can be executed
2026-11-25 02:41:30.526 | dib-run-parts 08-debootstrap completed
2026-11-25 02:41:30.526 | dib-run-parts Running {T}/hooks/root.d/09-apt-keyring
2026-11-25 02:41:44.862 | Running hooks from {T}/hooks/extra-data.d
2026-11-25 02:41:45.185 | dib-run-parts Running /tmp/in_target.d/pre-install.d/00-disable-apt-recommends
2026-11-25 02:41:55.068 | dib-run-parts Running /tmp/in_target.d/install.d/00-baseline-environment
2026-11-25 02:41:57.626 | dib-run-parts Running /tmp/in_target.d/install.d/01-package-installs
2026-11-25 02:41:57.660 | Map install for debootstrap: adduser, ca-certificates, cloud-initramfs-growroot, locales
2026-11-25 02:43:39.361 | dib-run-parts Running /tmp/in_target.d/install.d/05-set-cloud-init-sources
2026-11-25 02:43:39.401 | dib-run-parts 05-set-cloud-init-sources completed
2026-11-25 02:43:39.401 | dib-run-parts Running /tmp/in_target.d/install.d/10-cloud-init
2026-11-25 02:43:45.056 | dib-run-parts Target: install.d
2026-11-25 02:43:45.508 | dib-run-parts Running /tmp/in_target.d/post-install.d/00-package-installs
2026-11-25 02:43:47.612 | INFO diskimage_builder.block_device.blockdevice [-] Wrote final block device config to [{T}/states/block-device/config.json]
2026-11-25 02:43:48.404 | INFO diskimage_builder.block_device.blockdevice [-] create() called
2026-11-25 02:43:48.405 | INFO diskimage_builder.block_device.level0.localloop [-] loopdev attach
2026-11-25 02:44:03.296 | dib-run-parts Sourcing environment file /tmp/in_target.d/finalise.d/../environment.d/99-dib-init-system
2026-11-25 02:44:03.306 | + source /tmp/in_target.d/finalise.d/../environment.d/99-dib-init-system
2026-11-25 02:44:03.306 | dib-run-parts Running /tmp/in_target.d/finalise.d/99-clean-up-cache
2026-11-25 02:44:03.328 | dib-run-parts 99-clean-up-cache completed
2026-11-25 02:44:03.485 | dib-run-parts Running {T}/hooks/cleanup.d/01-copy-manifests-dir
2026-11-25 02:44:03.512 | 0+1 records in
2026-11-25 02:44:09.784 | INFO diskimage_builder.block_device.utils [-] Calling [sudo umount {T}/mnt/]
2026-11-25 02:44:12.232 | Converting image using qemu-img convert
2026-11-25 02:44:47.829 | Image file /var/lib/guest-images/.debian-12.tmp-k2j4/out/debian-12.qcow2 created...
2026-11-25 02:44:48.412 | Build completed successfully
"""


def test_phases_in_order_from_real_log():
    state = pg.new_state("debian-12", 42, now=0)
    seen = []
    for line in REAL_LOG.splitlines():
        pg.update_state(state, line, now=0)
        if not seen or seen[-1] != state["phase"]:
            seen.append(state["phase"])
    assert seen == [
        "setup", "root.d", "extra-data.d", "pre-install.d", "install.d", "post-install.d", "block-device",
        "finalise.d", "cleanup.d", "block-device", "conversion", "done",
    ]


def test_hook_tracking():
    state = pg.new_state("debian-12", 42, now=0)
    lines = REAL_LOG.splitlines()
    for line in lines[:7]:
        pg.update_state(state, line)
    assert (state["phase"], state["hook"]) == ("root.d", "08-debootstrap")
    pg.update_state(state, lines[7])  # debootstrap's own output
    assert state["hook"] == "08-debootstrap"
    pg.update_state(state, lines[8])  # "08-debootstrap completed"
    assert state["hook"] is None
    for line in lines[9:16]:
        pg.update_state(state, line)
    assert (state["phase"], state["hook"]) == ("install.d", "05-set-cloud-init-sources")


def test_phase_change_reported_and_timed():
    state = pg.new_state("x", 1, now=100)
    assert pg.update_state(state, "2026-11-25 02:41:05.931 | Running hooks from /t/hooks/root.d", now=105)
    assert state["phase_started_at"] == 105 and state["updated_at"] == 105
    assert not pg.update_state(state, "2026-11-25 02:41:06.026 | I: Retrieving InRelease", now=110)
    assert state["updated_at"] == 105


def test_format_line():
    state = pg.new_state("debian-12", 1, now=1000)
    state.update(phase="install.d", hook="50-trove-guest-agent")
    assert pg.format_line("debian-12", state, now=1000 + 312) == (
        "[dib_image debian-12] install.d 05:12 elapsed, running 50-trove-guest-agent"
    )
    state["hook"] = None
    assert pg.format_line("debian-12", state, now=1000 + 3725) == "[dib_image debian-12] install.d 1:02:05 elapsed"


def test_read_state_rejects_garbage():
    assert pg.read_state("") is None
    assert pg.read_state("[1, 2]") is None
    assert pg.read_state('{"phase": "root.d", "started_at": 1}')["phase"] == "root.d"


def test_a_follower_never_started_can_be_stopped(tmp_path):
    log = tmp_path / "dib.log"
    log.write_text("2026-12-03 08:50:43.117 | Running hooks from /tmp/x/hooks/root.d\n")
    follower = pg.LogFollower(str(log), str(tmp_path / ".img.progress.json"), pg.new_state("img", 7))
    follower.stop()
    assert follower.state["phase"] == "root.d"


def test_follower_tracks_a_growing_log(tmp_path):
    log = tmp_path / "dib.log"
    status = tmp_path / ".img.progress.json"
    log.write_text("")
    follower = pg.LogFollower(str(log), str(status), pg.new_state("img", 7), interval=0.05)
    follower.start()
    try:
        assert json.loads(status.read_text())["phase"] == "setup"
        lines = REAL_LOG.splitlines(keepends=True)
        with open(log, "a") as handle:
            handle.writelines(lines[:13])
            handle.write(lines[13][:30])  # half a line: must not be parsed yet
            handle.flush()
            deadline = time.time() + 5
            while time.time() < deadline and json.loads(status.read_text())["hook"] != "00-baseline-environment":
                time.sleep(0.05)
            state = json.loads(status.read_text())
            assert (state["phase"], state["hook"]) == ("install.d", "00-baseline-environment")
            handle.write(lines[13][30:])
        follower.stop()
        state = json.loads(status.read_text())
        assert state["hook"] == "01-package-installs"
        assert state["pid"] == 7
    finally:
        follower.stop()
