# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Seconds per DIB phase from DIB's stamped log lines."""

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.phases import phase_durations

LOG = """\
Output logs going to: /w/dib.log
2026-12-03 08:50:39.371 | diskimage-builder version 3.43.0
2026-12-03 08:50:43.117 | Running hooks from /w/tmp/dib_build.X/hooks/root.d
2026-12-03 08:50:43.200 | dib-run-parts Running /w/tmp/dib_build.X/hooks/root.d/08-debootstrap
an unstamped line from a tool
2026-12-03 08:52:03.747 | Running hooks from /w/tmp/dib_build.X/hooks/extra-data.d
2026-12-03 08:52:04.563 | dib-run-parts Running /tmp/in_target.d/pre-install.d/00-dpkg
2026-12-03 08:52:22.801 | dib-run-parts Running /tmp/in_target.d/install.d/10-something
2026-12-03 08:56:14.648 | dib-run-parts Running /tmp/in_target.d/post-install.d/10-x
2026-12-03 08:56:16.871 | INFO diskimage_builder.block_device.blockdevice [-] Wrote final block device config
2026-12-03 08:56:25.564 | dib-run-parts Running /tmp/in_target.d/finalise.d/50-y
2026-12-03 08:56:32.023 | Running hooks from /w/tmp/dib_build.X/hooks/cleanup.d
2026-12-03 08:56:34.863 | Converting image using qemu-img convert
2026-12-03 08:57:20.915 | Image file /w/out/debian-12-base.qcow2 created...
2026-12-03 08:57:21.108 | Build completed successfully
"""


def test_each_phase_from_its_first_line_to_the_next_phase():
    got = phase_durations(LOG)
    assert list(got) == ["setup", "root.d", "extra-data.d", "pre-install.d", "install.d", "post-install.d",
                         "block-device", "finalise.d", "cleanup.d", "conversion"]
    assert got["setup"] == 3.746
    assert got["root.d"] == 80.63
    assert got["install.d"] == 231.847
    assert got["conversion"] == 46.245
    assert round(sum(got.values()), 3) == 401.737  # first stamp to "Build completed"


def test_a_log_cut_short_ends_at_its_last_line():
    cut = "\n".join(LOG.splitlines()[:7])
    got = phase_durations(cut)
    assert list(got)[-1] == "pre-install.d"
    assert got["pre-install.d"] == 0.0


def test_no_stamped_lines_no_phases():
    assert phase_durations("") == {}
    assert phase_durations("nothing stamped here\n") == {}
