# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The raw inventory the ``dbaas-sbom`` element writes during the build, read and checked.

PRIVATE to the collection: no compatibility promise outside it.

The element's ``cleanup.d`` hook records the image's packages while DIB
still has the image's root at hand (no second mount of the finished image);
this module turns its JSON into typed records for :mod:`._sbom.document`.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

INVENTORY_VERSION = 1
# The element that records the inventory; compose adds it to every image.
SBOM_ELEMENT = "dbaas-sbom"
# The variable that tells the element where to write (a path outside the image).
INVENTORY_VARIABLE = "DBAAS_SBOM_INVENTORY"


class InventoryError(Exception):
    """The inventory is missing or not what the element writes."""


@dataclasses.dataclass(frozen=True)
class DebPackage:
    name: str
    version: str
    arch: str
    source: str
    source_version: str


@dataclasses.dataclass(frozen=True)
class PythonDistribution:
    environment: str
    name: str
    version: str


@dataclasses.dataclass(frozen=True)
class ContainerImage:
    repo_tags: tuple[str, ...]
    config_digest: str


@dataclasses.dataclass(frozen=True)
class ContainerTarball:
    file: str
    sha256: str
    size: int
    images: tuple[ContainerImage, ...]


@dataclasses.dataclass(frozen=True)
class LicensedPackage:
    file: str
    sha256: str
    type: str
    name: str
    version: str
    arch: str


@dataclasses.dataclass(frozen=True)
class Inventory:
    os: Mapping[str, str]
    deb_packages: tuple[DebPackage, ...] | None
    python: tuple[PythonDistribution, ...]
    container_tarballs: tuple[ContainerTarball, ...]
    licensed_packages: tuple[LicensedPackage, ...]


def _str(item: Mapping[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str):
        raise InventoryError(f"{where}: '{key}' is {value!r}, not a string")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise InventoryError(f"{where} is {type(value).__name__}, not a list")
    return value


def parse(data: Any) -> Inventory:
    """Typed inventory from the element's JSON document; raises :class:`InventoryError`."""
    if not isinstance(data, dict) or data.get("inventory_version") != INVENTORY_VERSION:
        raise InventoryError(f"not a version {INVENTORY_VERSION} inventory of the {SBOM_ELEMENT} element")
    os_info = data.get("os") or {}
    if not isinstance(os_info, dict):
        raise InventoryError("'os' is not a mapping")
    debs: tuple[DebPackage, ...] | None = None
    if data.get("dpkg") is not None:
        debs = tuple(
            DebPackage(*(_str(p, k, f"dpkg[{i}]") for k in ("name", "version", "arch", "source", "source_version")))
            for i, p in enumerate(_list(data["dpkg"], "dpkg"))
        )
    python = []
    for i, env in enumerate(_list(data.get("python_environments", []), "python_environments")):
        path = _str(env, "path", f"python_environments[{i}]")
        for j, dist in enumerate(_list(env.get("distributions", []), f"python_environments[{i}].distributions")):
            where = f"python_environments[{i}].distributions[{j}]"
            python.append(PythonDistribution(path, _str(dist, "name", where), _str(dist, "version", where)))
    tarballs = []
    for i, tar in enumerate(_list(data.get("container_tarballs", []), "container_tarballs")):
        where = f"container_tarballs[{i}]"
        images = tuple(
            ContainerImage(tuple(str(t) for t in _list(img.get("repo_tags", []), f"{where}.images[{j}].repo_tags")),
                           _str(img, "config_digest", f"{where}.images[{j}]"))
            for j, img in enumerate(_list(tar.get("images", []), f"{where}.images"))
        )
        size = tar.get("size")
        if not isinstance(size, int):
            raise InventoryError(f"{where}: 'size' is {size!r}, not a number")
        tarballs.append(ContainerTarball(_str(tar, "file", where), _str(tar, "sha256", where), size, images))
    licensed = tuple(
        LicensedPackage(*(_str(p, k, f"licensed_packages[{i}]")
                          for k in ("file", "sha256", "type", "name", "version", "arch")))
        for i, p in enumerate(_list(data.get("licensed_packages", []), "licensed_packages"))
    )
    return Inventory(
        os={str(k): str(v) for k, v in os_info.items()},
        deb_packages=debs,
        python=tuple(python),
        container_tarballs=tuple(tarballs),
        licensed_packages=licensed,
    )


def load(path: str) -> Inventory:
    """The inventory at ``path``; raises :class:`InventoryError` when it is missing or malformed."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise InventoryError(
            f"the {SBOM_ELEMENT} element wrote no inventory ({path}); did its cleanup.d hook run?"
        ) from None
    except (OSError, ValueError) as exc:
        raise InventoryError(f"cannot read the inventory {path}: {exc}") from exc
    try:
        return parse(data)
    except InventoryError as exc:
        raise InventoryError(f"inventory {path}: {exc}") from None
