# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The CycloneDX SBOM of the Trove test images, checked against the images themselves.

No build of its own: the two images of the ``trove_images`` session fixture.
The SBOM is validated with cyclonedx-python-lib's strict JSON validator
(the official 1.6 schema) and compared with what the finished image holds,
read offline from its file system: the dpkg database, the guest agent's
``*.dist-info`` folders, the baked-in container tarball; the package-mode
image's licensed ``.deb``. The element's inventory hook, run again on the
mounted finished image, must give the same document (apart from serial
number and time stamp): the build recorded the image it shipped.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess

import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from lib import imageinspect
from lib.container_tarball import read_archive
from lib.digest import sha256
from packageurl import PackageURL

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document, inventory
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.document import components_of, pep503_name

REPO = pathlib.Path(__file__).resolve().parents[2]
HOOK = REPO / "roles/build_image/files/elements/dbaas-sbom/cleanup.d/99-dbaas-sbom-inventory"
AGENT_VENV = "opt/trove-guestagent"


def _sbom(image) -> tuple[pathlib.Path, dict]:
    path = image.qcow2.with_name(image.name + ".cdx.json")
    assert path.is_file(), f"no SBOM beside {image.qcow2}"
    return path, json.loads(path.read_text())


def _valid(path: pathlib.Path) -> None:
    error = JsonStrictValidator(SchemaVersion.V1_6).validate_str(path.read_text())
    assert error is None, f"{path} is not valid CycloneDX 1.6: {error}"


def _installed_debs(root: pathlib.Path) -> set:
    """(name, version, arch) of every package the image's dpkg database says is installed."""
    found = set()
    for paragraph in (root / "var/lib/dpkg/status").read_text().split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", paragraph, re.MULTILINE))
        if fields.get("Status", "").split()[-1:] == ["installed"]:
            found.add((fields["Package"], fields["Version"], fields["Architecture"]))
    return found


def _dist_infos(root: pathlib.Path) -> set:
    """(PEP 503 name, version) of every *.dist-info folder of the agent's venv, from the folder names."""
    found = set()
    for folder in (root / AGENT_VENV).glob("lib/python3*/site-packages/*.dist-info"):
        name, version = folder.name[: -len(".dist-info")].rsplit("-", 1)
        found.add((pep503_name(name), version))
    return found


def _prop(component: dict, name: str) -> list:
    return [p["value"] for p in component.get("properties", []) if p["name"] == name]


def _without_run_fields(doc: dict) -> dict:
    doc = json.loads(json.dumps(doc))
    doc.pop("serialNumber")
    doc["metadata"].pop("timestamp")
    return doc


def _check_root_and_report(image, path: pathlib.Path, doc: dict) -> None:
    row = image.report_entry
    assert row["sbom"]["path"] == str(path)
    assert row["sbom"]["sha256"] == sha256(path)
    root = doc["metadata"]["component"]
    assert root["type"] == "operating-system"
    assert root["name"] == image.name
    assert root["hashes"] == [{"alg": "SHA-256", "content": sha256(image.qcow2)}]
    assert _prop(root, document.PROP_DIB_VERSION) == [row["dib_version"]]
    refs = [c["bom-ref"] for c in doc["components"]]
    assert len(refs) == len(set(refs)), "bom-refs are not unique"


def test_container_image_sbom_is_the_image(trove_images):
    image = trove_images.container
    path, doc = _sbom(image)
    _valid(path)
    _check_root_and_report(image, path, doc)
    debs = components_of(doc, document.KIND_DEB)
    python = components_of(doc, document.KIND_PYTHON)
    (container,) = components_of(doc, document.KIND_CONTAINER)
    assert row_summary(image) == {"deb": len(debs), "python": len(python), "container-tarball": 1,
                                  "licensed-package": 0}
    for component in debs:
        purl = PackageURL.from_string(component["purl"])
        expected = ("deb", "debian", component["name"], component["version"])
        assert (purl.type, purl.namespace, purl.name, purl.version) == expected
        assert purl.qualifiers == {"arch": _prop(component, "dbaas:deb:arch")[0], "distro": "debian-12"}
    for component in python:
        purl = PackageURL.from_string(component["purl"])
        assert (purl.type, purl.name, purl.version) == ("pypi", pep503_name(component["name"]), component["version"])
    tarball = trove_images.inputs.tarball
    archive = read_archive(tarball["path"])
    assert container["hashes"] == [{"alg": "SHA-256", "content": sha256(tarball["path"])}]
    assert _prop(container, "dbaas:container:file") == [os.path.basename(tarball["path"])]
    assert _prop(container, "dbaas:container:repo-tag") == archive["repo_tags"] == [tarball["repo_tag"]]
    assert _prop(container, "dbaas:container:config-digest") == [archive["image_id"]]
    elements = {c["name"] for c in components_of(doc, document.KIND_ELEMENT)}
    assert {"dbaas-sbom", "dbaas-guest-agent", "dbaas-datastore-container", "debian-minimal"} <= elements

    record = json.loads(image.qcow2.with_name(image.name + ".fingerprint.json").read_text())
    with imageinspect.mounted_root(image.qcow2) as root:
        image_debs = _installed_debs(root)
        image_dists = _dist_infos(root)
        assert (root / "var/lib/dbaas/container-images" / os.path.basename(tarball["path"])).is_file()
        # The hook once more, on the finished image: the same inventory the build recorded.
        again = root.parent / "inventory.json"
        env = {"PATH": os.environ["PATH"], "TARGET_ROOT": str(root), "DBAAS_SBOM_INVENTORY": str(again)}
        subprocess.run([str(HOOK)], env=env, check=True, timeout=300)
        rebuilt = document.build_document(
            name=image.name, inventory=inventory.load(str(again)),
            outputs=image.report_entry["outputs"], dib_version=image.report_entry["dib_version"],
            arch=record["components"]["arch"], elements=record["components"]["element_content"],
        )
    assert len(debs) == len(image_debs) > 100
    assert {(c["name"], c["version"], _prop(c, "dbaas:deb:arch")[0]) for c in debs} == image_debs
    assert {(pep503_name(c["name"]), c["version"]) for c in python} == image_dists
    assert "trove" in dict(image_dists)
    assert len(python) == len(image_dists)
    assert _without_run_fields(rebuilt) == _without_run_fields(doc), "the SBOM is not reproducible from the image"


def _strings(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def row_summary(image) -> dict:
    return image.report_entry["sbom"]["summary"]


def test_package_image_sbom_has_the_licensed_package(trove_images):
    image = trove_images.package
    path, doc = _sbom(image)
    _valid(path)
    _check_root_and_report(image, path, doc)
    deb = trove_images.inputs.deb
    fields = subprocess.run(["dpkg-deb", "--show", "--showformat=${Package} ${Version} ${Architecture}", deb],
                            check=True, capture_output=True, text=True).stdout.split()
    (licensed,) = components_of(doc, document.KIND_LICENSED)
    assert [licensed["name"], licensed["version"], _prop(licensed, "dbaas:licensed:arch")[0]] == fields
    assert licensed["hashes"] == [{"alg": "SHA-256", "content": trove_images.inputs.deb_sha256}]
    assert _prop(licensed, "dbaas:licensed:file") == [os.path.basename(deb)]
    # Installed, so in the dpkg list too, with its dependency from the archive.
    debs = {c["name"]: c["version"] for c in components_of(doc, document.KIND_DEB)}
    assert debs[fields[0]] == fields[1]
    assert "jq" in debs
    assert not components_of(doc, document.KIND_CONTAINER)


@pytest.mark.parametrize("which", ["container", "package"])
def test_sbom_holds_nothing_of_the_build_host(trove_images, which):
    image = getattr(trove_images, which)
    path, _doc = _sbom(image)
    text = path.read_text()
    record = json.loads(image.qcow2.with_name(image.name + ".fingerprint.json").read_text())
    # Every value the build was given (the environment: mirrors, which may carry credentials), where it
    # was built, cached and where the operator's files are.
    given = [str(v) for v in record["components"]["environment"].values()]
    given += [str(trove_images.output_dir), str(trove_images.inputs.folder), str(REPO), str(pathlib.Path.home())]
    # (Values such as a package list or the agent version are content; paths and URLs are not.)
    leaked = sorted(v for v in given if len(v) >= 6 and "/" in v and v in text)
    assert not leaked, f"{path} names build-host values: {leaked}"
    # The only absolute paths are the image's own Python environments.
    absolute = sorted({v for v in _strings(json.loads(text)) if v.startswith("/")})
    assert absolute == ["/opt/trove-guestagent"], f"{path} names paths: {absolute}"
    for pattern in (r"BEGIN [A-Z ]*(CERTIFICATE|PRIVATE KEY)", r"dbaas-build-ca", r"wheelhouse", r"/tmp/",
                    r"[a-z][a-z0-9+.-]*://[^/\s\"]*@", r"DIB_|DBAAS_|TMP_HOOKS|TARGET_ROOT"):
        assert not re.search(pattern, text), f"{path} matches {pattern!r}"
    urls = set(re.findall(r"[a-z]+://[^\"\s]+", text))
    assert urls == {document.SCHEMA}, f"{path} names URLs: {urls}"
