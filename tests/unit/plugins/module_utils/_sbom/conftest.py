# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures of the _sbom unit tests: a raw inventory as the dbaas-sbom element writes it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

INVENTORY: dict[str, Any] = {
    "inventory_version": 1,
    "os": {"ID": "debian", "VERSION_ID": "12", "VERSION_CODENAME": "bookworm",
           "PRETTY_NAME": "Debian GNU/Linux 12 (bookworm)"},
    "dpkg": [
        {"name": "openssl", "version": "3.0.15-1~deb12u1", "arch": "amd64", "source": "openssl",
         "source_version": "3.0.15-1~deb12u1"},
        {"name": "libstdc++6", "version": "12.2.0-14", "arch": "amd64", "source": "gcc-12",
         "source_version": "12.2.0-14"},
        {"name": "adduser", "version": "3.134", "arch": "all", "source": "adduser", "source_version": "3.134"},
        {"name": "libc6", "version": "2.36-9+deb12u4", "arch": "amd64", "source": "glibc",
         "source_version": "2.36-9+deb12u4"},
        {"name": "bsdutils", "version": "1:2.38.1-5+deb12u1", "arch": "amd64", "source": "util-linux",
         "source_version": "2.38.1-5+deb12u1"},
    ],
    "python_environments": [{"path": "/opt/trove-guestagent", "distributions": [
        {"name": "trove", "version": "26.0.0", "dist_info": "trove-26.0.0.dist-info"},
        {"name": "oslo.messaging", "version": "14.9.0", "dist_info": "oslo.messaging-14.9.0.dist-info"},
        {"name": "Jinja2", "version": "3.1.4", "dist_info": "jinja2-3.1.4.dist-info"},
    ]}],
    "container_tarballs": [{"file": "datastore-1.0.tar", "sha256": "a" * 64, "size": 10240, "images": [
        {"repo_tags": ["dbaas-test/datastore:1.0"], "config_digest": "sha256:" + "b" * 64}]}],
    "licensed_packages": [{"file": "acme-dbtools_1.2.3_all.deb", "sha256": "c" * 64, "type": "deb",
                           "name": "acme-dbtools", "version": "1.2.3", "arch": "all"}],
}
OUTPUTS = [{"path": "/srv/build/out/img.qcow2", "format": "qcow2", "size": 5000, "sha256": "d" * 64}]
ELEMENTS = {"debian-minimal": "e" * 64, "dbaas-sbom": "f" * 64}


def _inventory(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(INVENTORY)
    data.update(changes)
    return data


@pytest.fixture
def raw():
    """``raw(**changes)``: a fresh copy of the sample inventory with top-level keys replaced."""
    return _inventory


@pytest.fixture
def build_doc(raw):
    """``build_doc(name="img", **inventory_changes)``: the CycloneDX document of the sample."""
    from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document, inventory

    def make(name: str = "img", **changes: Any) -> dict[str, Any]:
        return document.build_document(name=name, inventory=inventory.parse(raw(**changes)), outputs=OUTPUTS,
                                       dib_version="3.43.0", arch="amd64", elements=ELEMENTS)

    return make
