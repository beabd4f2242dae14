# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The datastore layer as data: modes, container versions and engines, package-mode servers.

PRIVATE to the collection: no compatibility promise outside it.

The tables below are the one place that says which datastore, version and
mode each supported guest release can carry; ``validate_trove_entry`` refuses
anything else, listing what is supported at the level that failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.releases import supported_os_releases

MODES = ("container", "package")

# Container mode: the datastore runs from a container image, so its version
# does not depend on the guest OS. Versions follow what the Trove guest agent
# knows how to drive.
CONTAINER_VERSIONS: dict[str, tuple[str, ...]] = {
    "mysql": ("5.7", "8.0", "8.4"),
    "mariadb": ("10.4", "10.5", "10.6", "10.11", "11.4"),
    "postgresql": ("12", "13", "14", "15", "16", "17"),
}

# Container engine per guest OS family: the distribution's own package.
CONTAINER_ENGINES: dict[str, dict[str, Any]] = {
    "debian": {"engine": "docker", "packages": ("docker.io",), "service": "docker"},
    "ubuntu": {"engine": "docker", "packages": ("docker.io",), "service": "docker"},
}

# Package mode: the database server the distribution ships, so the version
# is the distribution's. (os, release) -> datastore -> version -> spec.
_MYSQL_DATA = {"service": "mysql", "data_dir": "/var/lib/mysql", "user": "mysql"}
_MARIADB_DATA = {"service": "mariadb", "data_dir": "/var/lib/mysql", "user": "mysql"}
_PG_DATA = {"service": "postgresql", "data_dir": "/var/lib/postgresql", "user": "postgres"}

PACKAGE_DATASTORES: dict[tuple[str, str], dict[str, dict[str, dict[str, Any]]]] = {
    ("debian", "12"): {
        "mariadb": {"10.11": dict(_MARIADB_DATA, packages=("mariadb-server",))},
        "postgresql": {"15": dict(_PG_DATA, packages=("postgresql-15",))},
    },
    ("ubuntu", "22.04"): {
        "mysql": {"8.0": dict(_MYSQL_DATA, packages=("mysql-server-8.0",))},
        "mariadb": {"10.6": dict(_MARIADB_DATA, packages=("mariadb-server",))},
        "postgresql": {"14": dict(_PG_DATA, packages=("postgresql-14",))},
    },
    ("ubuntu", "24.04"): {
        "mysql": {"8.0": dict(_MYSQL_DATA, packages=("mysql-server-8.0",))},
        "mariadb": {"10.11": dict(_MARIADB_DATA, packages=("mariadb-server",))},
        "postgresql": {"16": dict(_PG_DATA, packages=("postgresql-16",))},
    },
}

# Package kind of each guest OS (which licensed package files it installs).
OS_FAMILIES = {"debian": "dpkg", "ubuntu": "dpkg", "centos": "rpm", "rhel": "rpm", "rocky": "rpm"}

TROVE_FIELDS = ("os", "release", "datastore", "datastore_version", "mode")


def _row(os_name: str, release: str, datastore: str, version: str, mode: str) -> dict[str, str]:
    return {"os": os_name, "release": release, "datastore": datastore, "datastore_version": version, "mode": mode}


def supported_table() -> list[dict[str, str]]:
    """Every supported combination, one dict each (for docs and error messages)."""
    rows = []
    for os_name, releases in supported_os_releases().items():
        for release in releases:
            if os_name in CONTAINER_ENGINES:
                for datastore, versions in sorted(CONTAINER_VERSIONS.items()):
                    for version in versions:
                        rows.append(_row(os_name, release, datastore, version, "container"))
            for datastore, package_versions in sorted(PACKAGE_DATASTORES.get((os_name, release), {}).items()):
                for version in package_versions:
                    rows.append(_row(os_name, release, datastore, version, "package"))
    return rows


def fmt_choices(values: Iterable[Any]) -> str:
    listed = [str(v) for v in values]
    return ", ".join(listed) if listed else "(none)"


def validate_trove_entry(entry: Mapping[str, Any], where: str) -> tuple[str, str, str, str, str]:
    """Check os/release/datastore/mode/version of a Trove entry; return them as strings.

    Each refusal starts with ``where`` and lists what *is* supported at the level that failed.
    """
    for key in TROVE_FIELDS:
        if entry.get(key) in (None, ""):
            raise GuestMatrixError(f"{where}: '{key}' is required for a Trove guest image")
    os_name = str(entry["os"])
    release = str(entry["release"])
    datastore = str(entry["datastore"])
    version = str(entry["datastore_version"])
    mode = str(entry["mode"])

    oses = supported_os_releases()
    if os_name not in oses:
        raise GuestMatrixError(f"{where}: os '{os_name}' is not supported; supported: {fmt_choices(oses)}")
    if release not in oses[os_name]:
        raise GuestMatrixError(
            f"{where}: release '{release}' of {os_name} is not supported; supported: {fmt_choices(oses[os_name])}"
        )
    if mode not in MODES:
        raise GuestMatrixError(f"{where}: mode '{mode}' is not supported; supported: {fmt_choices(MODES)}")

    datastores: Mapping[str, Iterable[str]]
    if mode == "container":
        if os_name not in CONTAINER_ENGINES:
            raise GuestMatrixError(
                f"{where}: container mode is not supported on {os_name}; "
                f"it is on: {fmt_choices(sorted(CONTAINER_ENGINES))}"
            )
        datastores = CONTAINER_VERSIONS
    else:
        datastores = PACKAGE_DATASTORES.get((os_name, release), {})
    if datastore not in datastores:
        raise GuestMatrixError(
            f"{where}: datastore '{datastore}' is not supported in {mode} mode on {os_name} {release}; "
            f"supported: {fmt_choices(sorted(datastores))}"
        )
    if version not in datastores[datastore]:
        hint = f" (package mode installs the version {os_name} {release} ships)" if mode == "package" else ""
        raise GuestMatrixError(
            f"{where}: {datastore} version '{version}' is not supported in {mode} mode on {os_name} {release}; "
            f"supported: {fmt_choices(datastores[datastore])}{hint}"
        )
    return os_name, release, datastore, version, mode


def package_datastore(os_name: str, release: str, datastore: str, version: str) -> dict[str, Any]:
    """The package-mode spec (packages, service, data_dir, user) of a validated entry."""
    return PACKAGE_DATASTORES[(os_name, release)][datastore][version]
