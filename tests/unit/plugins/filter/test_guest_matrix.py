# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filter plugin: registered names, Ansible errors, plain data out."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.filter import guest_matrix as flt

ENTRY = {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}


def test_filters_registered():
    names = flt.FilterModule().filters()
    assert set(names) == {
        "compose_guest_image",
        "select_guest_images",
        "check_licensed_packages",
        "check_container_images",
    }


def test_compose_through_filter():
    got = flt.FilterModule().filters()["compose_guest_image"](ENTRY, {"wheelhouse": "/w"})
    assert got["elements"][-2:] == ["dbaas-datastore-container", "dbaas-sbom"]
    assert got["inputs"]["DBAAS_GUEST_AGENT_WHEELHOUSE"] == "/w"


def test_compose_error_is_ansible_filter_error():
    with pytest.raises(AnsibleFilterError, match="datastore 'redis'"):
        flt.compose_guest_image(dict(ENTRY, datastore="redis"))


def test_select_error_is_ansible_filter_error():
    with pytest.raises(AnsibleFilterError, match="not a valid JMESPath"):
        flt.select_guest_images([ENTRY], "[?")


def test_select_checks_every_entry_of_the_matrix_first():
    # The bad entry is not selected, and is refused all the same: the whole matrix is checked.
    matrix = [ENTRY, dict(ENTRY, name="half", size=2.5)]
    with pytest.raises(AnsibleFilterError, match=r"^build_guest_images\[1\] \(half\): size: 2.5 is not a whole"):
        flt.select_guest_images(matrix, "[?name=='nothing-else']")
    with pytest.raises(AnsibleFilterError, match=r"^datastore_layer_images\[1\] \(half\): size:"):
        flt.select_guest_images(matrix, "", True, "datastore_layer_images")


def test_select_of_nothing_refused_unless_allowed():
    with pytest.raises(AnsibleFilterError, match="selects none of the 1 entries of build_guest_images"):
        flt.select_guest_images([ENTRY], "[?datastore=='nothing']", False)
    assert flt.select_guest_images([ENTRY], "[?datastore=='nothing']", True) == []


def test_check_licensed_packages_error_names_option_and_path(tmp_path):
    missing = str(tmp_path / "x.deb")
    with pytest.raises(AnsibleFilterError, match=f"datastore_layer_pkg_location: {missing} does not exist"):
        flt.check_licensed_packages(missing)


def test_check_licensed_packages_ok(tmp_path):
    path = tmp_path / "x.deb"
    path.write_bytes(b"x")
    assert flt.check_licensed_packages(str(path))[0]["size"] == 1


def test_check_container_images_error(tmp_path):
    with pytest.raises(AnsibleFilterError, match="datastore_layer_container_images"):
        flt.check_container_images([str(tmp_path / "none.tar")])
