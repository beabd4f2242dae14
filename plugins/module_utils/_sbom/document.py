# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An image's CycloneDX 1.6 SBOM (JSON) from the build's inventory.

PRIVATE to the collection: no compatibility promise outside it.

Reproducible: the same image gives the same document apart from
``serialNumber`` and ``metadata.timestamp``; every ``bom-ref`` is set here
from content, components are sorted, and nothing of the build host (paths,
environment, credentials) enters it: outputs are named by file name only,
Python environments by their path inside the image.

Every component carries the property ``dbaas:kind`` (one of ``KINDS``) so
that readers (:mod:`._sbom.contents`, the tests) need no guessing.
"""

from __future__ import annotations

import datetime
import os
import re
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.inventory import Inventory

SPEC_VERSION = "1.6"
SCHEMA = "http://cyclonedx.org/schema/bom-1.6.schema.json"
KIND = "dbaas:kind"
KIND_DEB = "deb"
KIND_PYTHON = "python"
KIND_CONTAINER = "container-tarball"
KIND_LICENSED = "licensed-package"
KIND_ELEMENT = "dib-element"
KINDS = (KIND_DEB, KIND_PYTHON, KIND_CONTAINER, KIND_LICENSED, KIND_ELEMENT)
# Properties of the root component (the image).
PROP_DIB_VERSION = "dbaas:dib-version"
PROP_ARCH = "dbaas:arch"
PROP_OUTPUT = "dbaas:output"


def pep503_name(name: str) -> str:
    """A Python distribution name normalised as PEP 503 says (lower case, runs of -_. as one -)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _enc(text: str) -> str:
    return quote(text, safe=".-_~")


def distro_qualifier(os_release: Mapping[str, str]) -> str:
    """The one ``distro`` form of every deb purl: ``<ID>-<VERSION_ID>`` of os-release (``debian-12``)."""
    os_id = os_release.get("ID") or "debian"
    version = os_release.get("VERSION_ID") or os_release.get("VERSION_CODENAME") or ""
    return f"{os_id}-{version}" if version else os_id


def deb_purl(name: str, version: str, arch: str, os_release: Mapping[str, str]) -> str:
    namespace = os_release.get("ID") or "debian"
    return (f"pkg:deb/{_enc(namespace)}/{_enc(name)}@{_enc(version)}"
            f"?arch={_enc(arch)}&distro={_enc(distro_qualifier(os_release))}")


def pypi_purl(name: str, version: str) -> str:
    return f"pkg:pypi/{_enc(pep503_name(name))}@{_enc(version)}"


def _props(*pairs: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": name, "value": value} for name, value in pairs]


def _sha256(hexdigest: str) -> list[dict[str, str]]:
    return [{"alg": "SHA-256", "content": hexdigest}]


def _deb_components(inventory: Inventory) -> list[dict[str, Any]]:
    components = []
    for pkg in sorted(inventory.deb_packages or (), key=lambda p: (p.name, p.arch, p.version)):
        purl = deb_purl(pkg.name, pkg.version, pkg.arch, inventory.os)
        props = [(KIND, KIND_DEB), ("dbaas:deb:arch", pkg.arch)]
        if (pkg.source, pkg.source_version) != (pkg.name, pkg.version):
            props.append(("dbaas:deb:source", f"{pkg.source} {pkg.source_version}"))
        components.append({"type": "library", "bom-ref": purl, "name": pkg.name, "version": pkg.version,
                           "purl": purl, "properties": _props(*props)})
    return components


def _python_components(inventory: Inventory) -> list[dict[str, Any]]:
    components = []
    for dist in sorted(inventory.python, key=lambda d: (d.environment, pep503_name(d.name), d.version)):
        purl = pypi_purl(dist.name, dist.version)
        components.append({
            "type": "library",
            "bom-ref": f"python:{dist.environment}:{pep503_name(dist.name)}@{dist.version}",
            "name": dist.name, "version": dist.version, "purl": purl,
            "properties": _props((KIND, KIND_PYTHON), ("dbaas:python:environment", dist.environment)),
        })
    return components


def _container_components(inventory: Inventory) -> list[dict[str, Any]]:
    components = []
    for tar in sorted(inventory.container_tarballs, key=lambda t: t.file):
        tags = sorted({tag for image in tar.images for tag in image.repo_tags})
        first = tags[0] if tags else tar.file
        repository, _sep, tag = first.rpartition(":") if ":" in first.rsplit("/", 1)[-1] else (first, "", "")
        props = [(KIND, KIND_CONTAINER), ("dbaas:container:file", tar.file)]
        props += [("dbaas:container:repo-tag", t) for t in tags]
        props += [("dbaas:container:config-digest", d) for d in sorted({i.config_digest for i in tar.images})]
        component: dict[str, Any] = {"type": "container", "bom-ref": f"container:{tar.file}", "name": repository}
        if tag:
            component["version"] = tag
        component.update(hashes=_sha256(tar.sha256), properties=_props(*props))
        components.append(component)
    return components


def _licensed_components(inventory: Inventory) -> list[dict[str, Any]]:
    components = []
    for pkg in sorted(inventory.licensed_packages, key=lambda p: p.file):
        component: dict[str, Any] = {"type": "library", "bom-ref": f"licensed:{pkg.file}", "name": pkg.name,
                                     "version": pkg.version, "hashes": _sha256(pkg.sha256)}
        if pkg.type == "deb":
            component["purl"] = deb_purl(pkg.name, pkg.version, pkg.arch, inventory.os)
        component["properties"] = _props((KIND, KIND_LICENSED), ("dbaas:licensed:file", pkg.file),
                                         ("dbaas:licensed:type", pkg.type), ("dbaas:licensed:arch", pkg.arch))
        components.append(component)
    return components


def _element_components(elements: Mapping[str, str]) -> list[dict[str, Any]]:
    return [
        {"type": "file", "bom-ref": f"element:{name}", "name": name, "scope": "excluded",
         "description": "diskimage-builder element used to build the image; hash over its folder's content",
         "hashes": _sha256(digest), "properties": _props((KIND, KIND_ELEMENT))}
        for name, digest in sorted(elements.items())
    ]


def root_ref(name: str) -> str:
    return f"image:{name}"


def build_document(
    *,
    name: str,
    inventory: Inventory,
    outputs: Sequence[Mapping[str, Any]],
    dib_version: str,
    arch: str,
    elements: Mapping[str, str],
    serial: str | None = None,
    timestamp: str | None = None,
) -> dict[str, Any]:
    """The CycloneDX document of image ``name``; ``outputs``: dib_image's ``images`` (format, path, size, sha256)."""
    root_props = [(PROP_DIB_VERSION, dib_version), (PROP_ARCH, arch)]
    for key in ("ID", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME"):
        if inventory.os.get(key):
            root_props.append((f"dbaas:os-release:{key}", inventory.os[key]))
    ordered = sorted(outputs, key=lambda o: str(o.get("format")))
    for output in ordered:
        root_props.append((PROP_OUTPUT, f"{os.path.basename(str(output['path']))} {output['format']}"
                                        f" {output['size']} sha256:{output['sha256']}"))
    root: dict[str, Any] = {"type": "operating-system", "bom-ref": root_ref(name), "name": name}
    if ordered:
        # The first output (by format name; qcow2 when it is the only one) is the one hashed here.
        root["hashes"] = _sha256(str(ordered[0]["sha256"]))
    root["properties"] = _props(*root_props)
    components = (_deb_components(inventory) + _python_components(inventory) + _container_components(inventory)
                  + _licensed_components(inventory) + _element_components(elements))
    if timestamp is None:
        timestamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: UP017
    return {
        "$schema": SCHEMA,
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial or f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": timestamp,
            "tools": {"components": [{"type": "application", "bom-ref": "tool:diskimage-builder",
                                      "name": "diskimage-builder", "version": dib_version}]},
            "component": root,
        },
        "components": components,
        "dependencies": [{"ref": root_ref(name), "dependsOn": sorted(
            c["bom-ref"] for c in components if c.get("scope") != "excluded")}],
    }


def components_of(document: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    """The components of ``document`` whose ``dbaas:kind`` is ``kind``."""
    found = []
    for component in document.get("components") or []:
        for prop in component.get("properties") or []:
            if prop.get("name") == KIND and prop.get("value") == kind:
                found.append(component)
                break
    return found


def summary(document: Mapping[str, Any]) -> dict[str, int]:
    """How many components of each kind: the short summary publish puts on the Glance image."""
    return {kind: len(components_of(document, kind)) for kind in KINDS if kind != KIND_ELEMENT}


def summary_text(counts: Mapping[str, Any]) -> str:
    """``412 deb, 87 python, 1 container-tarball, 0 licensed-package``: always in this order (records sort keys)."""
    order = {kind: index for index, kind in enumerate(KINDS)}
    keys = sorted(counts, key=lambda key: (order.get(str(key), len(KINDS)), str(key)))
    return ", ".join(f"{counts[key]} {key}" for key in keys)
