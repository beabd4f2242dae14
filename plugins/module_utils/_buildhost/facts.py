# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a build host has, found in one pass (the build_host role's inspection).

PRIVATE to the collection: no compatibility promise outside it.

The build_host role runs on every playbook run. Each Ansible task costs time
even when it changes nothing, so the role asks one module
(``build_host_facts``) everything at once and only runs a fixing task where
something is missing. The pure logic of that inspection lives here.
"""

from __future__ import annotations

import glob
import hashlib
import os
import re
from collections.abc import Container, Iterable, Mapping
from typing import Any

FALLBACK_MARKER = "# dbaas.guest_images device-mapper fallback: "
FALLBACK_TOOLS = ("kpartx", "dmsetup")

_DEBIAN_LIKE = ("debian", "ubuntu")
_REDHAT_LIKE = ("rhel", "centos", "fedora", "rocky", "almalinux", "ol")


def parse_os_release(text: str) -> dict[str, str]:
    """``/etc/os-release`` as a dict (quotes removed)."""
    values: dict[str, str] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip().strip("\"'")
    return values


def os_family(release: Mapping[str, str]) -> str:
    """Ansible's os_family name (``Debian``, ``RedHat``) from os-release values; "" when unknown."""
    ids = [release.get("ID", "").lower()] + release.get("ID_LIKE", "").lower().split()
    if any(value in _DEBIAN_LIKE for value in ids):
        return "Debian"
    if any(value in _REDHAT_LIKE for value in ids):
        return "RedHat"
    return ""


def installed_from_dpkg_query(output: str) -> set[str]:
    """Package names dpkg reports as installed, from ``dpkg-query -W -f '${db:Status-Abbrev} ${Package}\\n'``."""
    installed: set[str] = set()
    for line in output.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "ii":
            installed.add(fields[-1].split(":", 1)[0])
    return installed


def installed_from_rpm_query(output: str) -> set[str]:
    """Package names installed, from ``rpm -q --qf '%{NAME}\\n' ...`` (lines of missing ones say 'not installed')."""
    return {line.strip() for line in output.splitlines() if line.strip() and " " not in line.strip()}


def missing_packages(wanted: Iterable[str], installed: Container[str]) -> list[str]:
    """``wanted`` minus ``installed``, in the order given, without duplicates."""
    missing: list[str] = []
    for name in wanted:
        if name not in installed and name not in missing:
            missing.append(name)
    return missing


def dib_version_in_venv(venv: str) -> str:
    """diskimage-builder's version installed in a virtualenv (from its dist-info folder), "" when absent."""
    pattern = os.path.join(venv, "lib", "python3*", "site-packages", "diskimage_builder-*.dist-info")
    versions = []
    for folder in glob.glob(pattern):
        match = re.match(r"diskimage_builder-(?P<version>[^-]+)\.dist-info$", os.path.basename(folder))
        if match and os.path.exists(os.path.join(venv, "bin", "disk-image-create")):
            versions.append(match.group("version"))
    return versions[0] if len(versions) == 1 else ""


def inspect_fallback(folder: str, tools: Iterable[str] = FALLBACK_TOOLS) -> dict[str, dict[str, Any]]:
    """State of the fallback scripts in ``folder``: per tool ``exists``, ``ours`` (has the marker), ``sha1``."""
    state: dict[str, dict[str, Any]] = {}
    for tool in tools:
        path = os.path.join(folder, tool)
        info: dict[str, Any] = {"path": path, "exists": os.path.lexists(path), "ours": False, "sha1": ""}
        if os.path.isfile(path):
            with open(path, "rb") as handle:
                data = handle.read()
            info["sha1"] = hashlib.sha1(data).hexdigest()
            head = data[:512].decode("utf-8", "replace").splitlines()
            info["ours"] = any(line.startswith(FALLBACK_MARKER) for line in head[:3])
        state[tool] = info
    return state
