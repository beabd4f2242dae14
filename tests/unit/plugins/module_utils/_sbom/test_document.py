# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CycloneDX document: schema-valid, purls, bom-refs from content, reproducible, no build-host paths."""

from __future__ import annotations

import json

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document


def test_valid_against_the_official_schema(build_doc):
    validation = pytest.importorskip("cyclonedx.validation.json", reason="cyclonedx-python-lib is not installed")
    from cyclonedx.schema import SchemaVersion

    assert validation.JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(build_doc())) is None


def test_root_component_is_the_image(build_doc):
    root = build_doc()["metadata"]["component"]
    assert root["type"] == "operating-system"
    assert root["name"] == "img"
    assert root["hashes"] == [{"alg": "SHA-256", "content": "d" * 64}]
    props = {p["name"]: p["value"] for p in root["properties"]}
    assert props[document.PROP_DIB_VERSION] == "3.43.0"
    # Outputs by file name only: nothing of the build host's folders.
    assert props[document.PROP_OUTPUT] == f"img.qcow2 qcow2 5000 sha256:{'d' * 64}"
    assert "/srv/build" not in json.dumps(build_doc())


def test_deb_purls_one_distro_form_epoch_and_encoding(build_doc):
    debs = {c["name"]: c for c in document.components_of(build_doc(), document.KIND_DEB)}
    assert debs["bsdutils"]["version"] == "1:2.38.1-5+deb12u1"
    assert debs["bsdutils"]["purl"] == "pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u1?arch=amd64&distro=debian-12"
    assert debs["libstdc++6"]["purl"] == "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12"
    assert {c["purl"].split("distro=")[1] for c in debs.values()} == {"debian-12"}
    props = {p["name"]: p["value"] for p in debs["libc6"]["properties"]}
    assert props["dbaas:deb:source"] == "glibc 2.36-9+deb12u4"


def test_pypi_purls_use_pep503_names(build_doc):
    python = {c["name"]: c["purl"] for c in document.components_of(build_doc(), document.KIND_PYTHON)}
    assert python == {"trove": "pkg:pypi/trove@26.0.0", "oslo.messaging": "pkg:pypi/oslo-messaging@14.9.0",
                      "Jinja2": "pkg:pypi/jinja2@3.1.4"}
    assert document.pep503_name("Foo__Bar.baz-Qux") == "foo-bar-baz-qux"


def test_container_and_licensed_components(build_doc):
    doc = build_doc()
    (container,) = document.components_of(doc, document.KIND_CONTAINER)
    assert (container["type"], container["name"], container["version"]) == ("container", "dbaas-test/datastore", "1.0")
    assert {"name": "dbaas:container:config-digest", "value": "sha256:" + "b" * 64} in container["properties"]
    (licensed,) = document.components_of(doc, document.KIND_LICENSED)
    assert licensed["hashes"] == [{"alg": "SHA-256", "content": "c" * 64}]
    assert {"name": "dbaas:licensed:file", "value": "acme-dbtools_1.2.3_all.deb"} in licensed["properties"]
    elements = document.components_of(doc, document.KIND_ELEMENT)
    assert [(e["name"], e["scope"]) for e in elements] == [("dbaas-sbom", "excluded"), ("debian-minimal", "excluded")]


def test_reproducible_apart_from_serial_and_timestamp(build_doc, raw):
    first, second = build_doc(), build_doc()
    assert first["serialNumber"] != second["serialNumber"]
    for doc in (first, second):
        doc.pop("serialNumber")
        doc["metadata"].pop("timestamp")
    assert first == second
    # Input order does not matter either.
    third = build_doc(dpkg=list(reversed(raw()["dpkg"])))
    third.pop("serialNumber")
    third["metadata"].pop("timestamp")
    assert third == first


def test_bom_refs_unique_and_dependencies_resolve(build_doc):
    doc = build_doc()
    refs = [c["bom-ref"] for c in doc["components"]]
    assert len(refs) == len(set(refs))
    (deps,) = doc["dependencies"]
    assert deps["ref"] == "image:img"
    assert set(deps["dependsOn"]) <= set(refs)
    assert not any(ref.startswith("element:") for ref in deps["dependsOn"])


def test_summary_counts(build_doc):
    assert document.summary(build_doc()) == {"deb": 5, "python": 3, "container-tarball": 1, "licensed-package": 1}


def test_image_without_dpkg(build_doc):
    doc = build_doc(dpkg=None)
    assert document.components_of(doc, document.KIND_DEB) == []
