# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest_release and guest_os_settings filters: the release table and settings for roles."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.filter import guest_release as flt
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases


def test_filters_registered():
    assert set(flt.FilterModule().filters()) == {"guest_release", "guest_os_settings"}


def test_release_row():
    row = flt.guest_release({"os": "ubuntu", "release": "22.04"})
    assert (row["python"], row["glibc"], row["tag"]) == ("3.10", "2.35", "cp310")
    assert row["wheelhouse"] == f"trove-{releases.AGENT_VERSION}-cp310"


def test_release_variable_named():
    with pytest.raises(AnsibleFilterError, match=r"^os_layer_releases\[0\]: os=debian release=11 is not supported"):
        flt.guest_release({"os": "debian", "release": "11"}, "", "os_layer_releases[0]")


def test_matrix_entry_named_like_composition_does():
    entry = {"os": "debian", "release": "11", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}
    with pytest.raises(AnsibleFilterError, match="^build_guest_images entry debian-11-mysql-8.0-container: os=debian"):
        flt.guest_release(entry, "", "build_guest_images")
    with pytest.raises(AnsibleFilterError, match="^build_guest_images entry 'img': 'release' missing"):
        flt.guest_release({"os": "debian", "relase": "12", "name": "img"}, "", "build_guest_images")


def test_settings_defaults_and_refusal():
    got = flt.guest_os_settings({"timezone": "Europe/Berlin", "injected_config_owner": ""}, "os_layer_")
    assert got["timezone"] == "Europe/Berlin"
    assert got["injected_config_owner"] == "ubuntu"
    with pytest.raises(AnsibleFilterError, match="^os_layer_injected_config_group must be a POSIX group name"):
        flt.guest_os_settings({"injected_config_group": "wheel users"}, "os_layer_")
