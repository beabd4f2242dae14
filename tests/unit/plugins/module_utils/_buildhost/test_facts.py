# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build host inspection's pure logic."""

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import facts as build_host


@pytest.mark.parametrize(
    "text, family",
    [
        ('ID=debian\nVERSION_CODENAME=bookworm\n', "Debian"),
        ('ID=ubuntu\nID_LIKE=debian\n', "Debian"),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "RedHat"),
        ('ID=almalinux\n', "RedHat"),
        ('ID=alpine\n', ""),
    ],
)
def test_os_family(text, family):
    assert build_host.os_family(build_host.parse_os_release(text)) == family


def test_dpkg_query_output():
    output = "ii  qemu-utils\nun  kpartx\nrc  gdisk\nii  libc6:amd64\n"
    assert build_host.installed_from_dpkg_query(output) == {"qemu-utils", "libc6"}
    assert build_host.missing_packages(["qemu-utils", "kpartx", "gdisk", "kpartx"],
                                       {"qemu-utils"}) == ["kpartx", "gdisk"]


def test_rpm_query_output():
    output = "qemu-img\npackage kpartx is not installed\nsudo\n"
    assert build_host.installed_from_rpm_query(output) == {"qemu-img", "sudo"}


def test_dib_version_from_dist_info(tmp_path):
    assert build_host.dib_version_in_venv(str(tmp_path)) == ""
    (tmp_path / "lib" / "python3.11" / "site-packages" / "diskimage_builder-3.43.0.dist-info").mkdir(parents=True)
    assert build_host.dib_version_in_venv(str(tmp_path)) == ""  # no disk-image-create yet
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "disk-image-create").write_text("#!/bin/sh\n")
    assert build_host.dib_version_in_venv(str(tmp_path)) == "3.43.0"


def test_inspect_fallback_tells_ours_from_foreign(tmp_path):
    (tmp_path / "kpartx").write_text("#!/bin/bash\n" + build_host.FALLBACK_MARKER + "kpartx\nexit 0\n")
    (tmp_path / "dmsetup").write_text("#!/bin/sh\n# somebody else's wrapper\n")
    state = build_host.inspect_fallback(str(tmp_path))
    assert state["kpartx"]["exists"] and state["kpartx"]["ours"]
    assert len(state["kpartx"]["sha1"]) == 40
    assert state["dmsetup"]["exists"] and not state["dmsetup"]["ours"]
    empty = build_host.inspect_fallback(str(tmp_path / "nothing"))
    assert empty["kpartx"] == {"path": str(tmp_path / "nothing" / "kpartx"), "exists": False, "ours": False, "sha1": ""}
