# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The image_contents filter: list, mapping or single SBOM in; refusals as filter errors."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.filter import image_contents as flt
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document, inventory

INVENTORY = {
    "inventory_version": 1,
    "os": {"ID": "debian", "VERSION_ID": "12"},
    "dpkg": [{"name": "openssl", "version": "3.0.15-1~deb12u1", "arch": "amd64", "source": "openssl",
              "source_version": "3.0.15-1~deb12u1"}],
}


def _sbom(name):
    return document.build_document(name=name, inventory=inventory.parse(INVENTORY), outputs=[],
                                   dib_version="3.43.0", arch="amd64", elements={})


def test_registered():
    assert flt.FilterModule().filters() == {"image_contents": flt.image_contents}


@pytest.mark.parametrize("shape", ["list", "mapping", "single"])
def test_input_shapes(shape):
    sboms = {"list": [_sbom("a")], "mapping": {"/out/a.cdx.json": _sbom("a")}, "single": _sbom("a")}[shape]
    rows = flt.image_contents(sboms, "openssl", below="3.0.16-1~deb12u1")
    assert [(r["image"], r["version"]) for r in rows] == [("a", "3.0.15-1~deb12u1")]
    assert flt.image_contents(sboms, "openssl", below="3.0.15-1~deb12u1") == []
    assert flt.image_contents(sboms, "openssl", kinds="python") == []


def test_errors_are_filter_errors():
    with pytest.raises(AnsibleFilterError, match="image_contents: below: 'not a version'"):
        flt.image_contents([_sbom("a")], "openssl", below="not a version")
    with pytest.raises(AnsibleFilterError, match="expected a list of CycloneDX SBOMs, got str"):
        flt.image_contents("x", "openssl")
