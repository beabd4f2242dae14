# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ask a set of image SBOMs which images carry a package, optionally below a version.

PRIVATE to the collection: no compatibility promise outside it.

"Which of these images still carry openssl below 3.0.16-1~deb12u1?" is
``carrying(documents, "openssl", below="3.0.16-1~deb12u1")``: Debian
packages (and licensed ``.deb`` files) compare as dpkg compares, Python
distributions match by their PEP 503 name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import debversion
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.changes import python_compare
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.document import (
    KIND_DEB,
    KIND_LICENSED,
    KIND_PYTHON,
    components_of,
    pep503_name,
)

QUERY_KINDS = (KIND_DEB, KIND_PYTHON, KIND_LICENSED)


class QueryError(ValueError):
    """A query the SBOMs cannot answer as written."""


def _image_name(document: Mapping[str, Any], index: int) -> str:
    component = (document.get("metadata") or {}).get("component") or {}
    return str(component.get("name") or f"#{index}")


def _below(kind: str, version: str, limit: str) -> bool:
    if kind == KIND_PYTHON:
        order = python_compare(version, limit)
        if order is not None:
            return order < 0
    return debversion.compare(version, limit) < 0


def carrying(
    documents: Sequence[Mapping[str, Any]], package: str, below: str | None = None, kinds: Sequence[str] = QUERY_KINDS
) -> list[dict[str, str]]:
    """One row (image, kind, name, version, purl) per component named ``package`` (below ``below``, if given)."""
    if not package:
        raise QueryError("package: give the name of the package to look for (e.g. openssl)")
    unknown = sorted(set(kinds) - set(QUERY_KINDS))
    if unknown:
        raise QueryError(f"kinds: {', '.join(unknown)} unknown; use some of {', '.join(QUERY_KINDS)}")
    if below:
        try:
            debversion.split(below)
        except debversion.InvalidVersion as exc:
            raise QueryError(f"below: {exc}") from None
    rows = []
    for index, document in enumerate(documents):
        if not isinstance(document, Mapping) or document.get("bomFormat") != "CycloneDX":
            raise QueryError(f"SBOM #{index} is not a CycloneDX document (read it with from_json)")
        for kind in kinds:
            for component in components_of(document, kind):
                name = str(component.get("name"))
                same = pep503_name(name) == pep503_name(package) if kind == KIND_PYTHON else name == package
                version = str(component.get("version") or "")
                if not same or (below and not _below(kind, version, below)):
                    continue
                rows.append({"image": _image_name(document, index), "kind": kind, "name": name,
                             "version": version, "purl": str(component.get("purl") or "")})
    return sorted(rows, key=lambda r: (r["image"], r["kind"], r["name"], r["version"]))
