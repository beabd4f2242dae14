# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading the element's raw inventory: typed, refused clearly when missing or malformed."""

from __future__ import annotations

import json

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import inventory


def test_parse_typed(raw):
    found = inventory.parse(raw())
    assert found.deb_packages is not None and len(found.deb_packages) == 5
    assert found.python[0].environment == "/opt/trove-guestagent"
    assert found.container_tarballs[0].images[0].repo_tags == ("dbaas-test/datastore:1.0",)
    assert found.licensed_packages[0].name == "acme-dbtools"


def test_missing_file_names_the_element(tmp_path):
    with pytest.raises(inventory.InventoryError, match="dbaas-sbom element wrote no inventory"):
        inventory.load(str(tmp_path / "none.json"))


@pytest.mark.parametrize(("changes", "message"), [
    ({"inventory_version": 2}, "not a version 1 inventory"),
    ({"dpkg": [{"name": "x", "version": 1}]}, r"dpkg\[0\]: 'version' is 1, not a string"),
    ({"container_tarballs": [{"file": "a", "sha256": "b", "size": "big", "images": []}]}, "'size' is 'big'"),
    ({"python_environments": "x"}, "python_environments is str, not a list"),
])
def test_malformed_is_refused_saying_where(tmp_path, raw, changes, message):
    path = tmp_path / "inv.json"
    path.write_text(json.dumps(raw(**changes)))
    with pytest.raises(inventory.InventoryError, match=message):
        inventory.load(str(path))
