# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changed between two SBOMs of the same image: packages added, removed, upgraded, downgraded.

PRIVATE to the collection: no compatibility promise outside it.

Packages are matched by kind and identity (a Debian package by name and
architecture, a Python distribution by environment and PEP 503 name, a
container tarball by file name, a licensed package by name); versions of
Debian packages (and licensed ``.deb`` files) are ordered as dpkg orders
them, never as strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import debversion
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.document import (
    KIND_CONTAINER,
    KIND_DEB,
    KIND_LICENSED,
    KIND_PYTHON,
    components_of,
    pep503_name,
)

CHANGE_KINDS = ("added", "removed", "upgraded", "downgraded")
# Shown before a name in the one-line form (Debian packages, the bulk, go bare).
_LABEL = {KIND_DEB: "", KIND_PYTHON: "python ", KIND_CONTAINER: "container ", KIND_LICENSED: "licensed "}


def _prop(component: Mapping[str, Any], name: str) -> str:
    for prop in component.get("properties") or []:
        if prop.get("name") == name:
            return str(prop.get("value"))
    return ""


def _identity(kind: str, component: Mapping[str, Any]) -> tuple[str, ...]:
    name = str(component.get("name"))
    if kind == KIND_DEB:
        return (kind, name, _prop(component, "dbaas:deb:arch"))
    if kind == KIND_PYTHON:
        return (kind, _prop(component, "dbaas:python:environment"), pep503_name(name))
    if kind == KIND_CONTAINER:
        return (kind, _prop(component, "dbaas:container:file"))
    return (kind, name)


def _version(kind: str, component: Mapping[str, Any]) -> str:
    if kind == KIND_CONTAINER:
        # A tarball's content is its images: the config digests say whether it changed.
        digests = sorted(str(p.get("value")) for p in component.get("properties") or []
                         if p.get("name") == "dbaas:container:config-digest")
        return " ".join([str(component.get("version") or "")] + digests).strip()
    return str(component.get("version") or "")


def _packages(document: Mapping[str, Any]) -> dict[tuple[str, ...], tuple[str, Mapping[str, Any]]]:
    found = {}
    for kind in (KIND_DEB, KIND_PYTHON, KIND_CONTAINER, KIND_LICENSED):
        for component in components_of(document, kind):
            found[_identity(kind, component)] = (kind, component)
    return found


def python_compare(old: str, new: str) -> int | None:
    """PEP 440 order of two Python versions (-1, 0, 1); None without ``packaging`` or for a non-PEP 440 version."""
    try:
        from packaging.version import InvalidVersion, Version  # noqa: PLC0415 (optional on build hosts)
    except ImportError:
        return None
    try:
        a, b = Version(old), Version(new)
    except InvalidVersion:
        return None
    return (a > b) - (a < b)


def _order(kind: str, component: Mapping[str, Any], old: str, new: str) -> int:
    if kind == KIND_DEB or (kind == KIND_LICENSED and _prop(component, "dbaas:licensed:type") == "deb"):
        try:
            return debversion.compare(old, new)
        except debversion.InvalidVersion:
            pass
    if kind == KIND_PYTHON:
        order = python_compare(old, new)
        if order is not None:
            return order
    try:
        return debversion.compare(old, new)
    except debversion.InvalidVersion:
        return (old > new) - (old < new)


def _entry(kind: str, component: Mapping[str, Any], **versions: str) -> dict[str, str]:
    entry = {"kind": kind, "name": str(component.get("name"))}
    arch = _prop(component, "dbaas:deb:arch")
    if arch:
        entry["arch"] = arch
    entry.update(versions)
    return entry


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[dict[str, str]]]:
    """``{added, removed, upgraded, downgraded}`` from ``old`` to ``new``, each sorted by kind and name."""
    before, after = _packages(old), _packages(new)
    result: dict[str, list[dict[str, str]]] = {kind: [] for kind in CHANGE_KINDS}
    for key in sorted(set(before) | set(after)):
        if key not in before:
            kind, component = after[key]
            result["added"].append(_entry(kind, component, version=_version(kind, component)))
        elif key not in after:
            kind, component = before[key]
            result["removed"].append(_entry(kind, component, version=_version(kind, component)))
        else:
            kind, component = after[key]
            was, now = _version(kind, before[key][1]), _version(kind, component)
            if was == now:
                continue
            order = _order(kind, component, was, now)
            # Same order but different text (e.g. 1.0 and 1.0-0): still a change worth naming.
            change = "downgraded" if order > 0 else "upgraded"
            result[change].append(_entry(kind, component, **{"from": was, "to": now}))
    return result


def is_empty(changes: Mapping[str, Any]) -> bool:
    return not any(changes.get(kind) for kind in CHANGE_KINDS)


def lines(changes: Mapping[str, Any]) -> list[str]:
    """One line per change: ``+ jq 1.6-2.1``, ``- curl 7.88.1-10``, ``openssl 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1``."""
    out = []
    for kind in CHANGE_KINDS:
        for entry in changes.get(kind) or []:
            label = _LABEL.get(str(entry.get("kind")), "") + str(entry.get("name"))
            if kind == "added":
                out.append(f"+ {label} {entry.get('version')}")
            elif kind == "removed":
                out.append(f"- {label} {entry.get('version')}")
            else:
                out.append(f"{label} {entry.get('from')} → {entry.get('to')} ({kind})")
    return out
