# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build_host role's per-OS-family package lists and argument spec agree with its defaults."""

import pathlib

import pytest
import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "build_host"

# What DIB runs on the build host for a partitioned qcow2 image, per OS family.
ESSENTIAL = {
    "Debian": {"qemu-utils", "debootstrap", "kpartx", "fdisk", "gdisk", "dosfstools", "e2fsprogs", "sudo",
               "python3-venv", "squashfs-tools", "util-linux", "curl"},
    "RedHat": {"qemu-img", "kpartx", "util-linux", "gdisk", "dosfstools", "e2fsprogs", "sudo", "python3",
               "squashfs-tools", "curl"},
}


@pytest.mark.parametrize("family", sorted(ESSENTIAL))
def test_package_list_per_os_family(family):
    data = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())
    packages = data["build_host_packages_by_family"][family]
    assert isinstance(packages, list) and all(isinstance(p, str) and p for p in packages)
    assert len(packages) == len(set(packages)), "duplicates"
    missing = ESSENTIAL[family] - set(packages)
    assert not missing, f"the {family} list lacks {sorted(missing)}"


def test_argument_spec_covers_every_default():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(spec)
    for name, value in defaults.items():
        assert name.startswith("build_host_")
        if "default" in spec[name]:
            assert spec[name]["default"] == value, name
    assert defaults["build_host_dib_version"] == "3.43.0"
    assert defaults["build_host_dib_venv"] == "/opt/dbaas-guest-images/dib"


def test_fallback_scripts_carry_the_marker_build_host_facts_looks_for():
    from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import facts as build_host

    for name in build_host.FALLBACK_TOOLS:
        lines = (ROLE / "files" / "dm_fallback" / name).read_text().splitlines()
        assert lines[0] == "#!/usr/bin/env bash"
        assert lines[1] == build_host.FALLBACK_MARKER + name
