# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest OS releases the collection builds, the pinned guest agent, and the OS-layer settings.

PRIVATE to the collection: no compatibility promise outside it.

One table says, per supported ``os``/``release``, which diskimage-builder
elements and environment the OS layer needs and which Python the guest runs
(the guest agent wheelhouse is built for it). The composition, the
``guest_release`` filter (used by the os_layer role) and the
``guest_agent_wheelhouse`` module read it; nothing else restates it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# The Trove guest agent release (PyPI package "trove") the collection pins.
AGENT_VERSION = "26.0.0"

# Elements every guest image gets, after the base OS element. Order matters
# only for readability: DIB orders hooks by their own numbers. No DIB
# "growroot": cloud-init's growpart and resizefs grow the root file system at
# first boot already, and growroot's unit waits for the deprecated
# systemd-udev-settle, which costs the first boot tens of seconds of CPU under
# emulation (dbaas-guest-os installs growpart itself).
COMMON_ELEMENTS = (
    "vm",
    "cloud-init",
    "cloud-init-datasources",
    "dbaas-guest-os",
    "dbaas-guest-agent",
)

# Trove injects its guest settings through Nova's config drive; the OpenStack
# metadata service is the fallback when a cloud does not offer config drives.
CLOUD_INIT_DATASOURCES = "ConfigDrive, OpenStack"

SERIAL_CONSOLE = "ttyS0,115200"

# python: the guest's python3 (X.Y); the wheelhouse is built for it.
# glibc: the guest's C library; binary wheels must not need a newer one.
# tested: a boot test of this release runs in CI.
RELEASES: dict[tuple[str, str], dict[str, Any]] = {
    ("debian", "12"): {
        "base_element": "debian-minimal",
        "codename": "bookworm",
        "python": "3.11",
        "glibc": "2.36",
        "tested": True,
    },
    ("ubuntu", "22.04"): {
        "base_element": "ubuntu-minimal",
        "codename": "jammy",
        "python": "3.10",
        "glibc": "2.35",
        "tested": False,
    },
    ("ubuntu", "24.04"): {
        "base_element": "ubuntu-minimal",
        "codename": "noble",
        "python": "3.12",
        "glibc": "2.39",
        "tested": False,
    },
}

# OS-layer settings and what an unset (None or empty) one means.
# injected_config_owner/_group must equal the Trove taskmanager's
# [DEFAULT] injected_config_owner / injected_config_group (trove.conf): Trove
# writes the guest's injected files (guest_info.conf, trove-guestagent.conf)
# with that owner, and cloud-init refuses to write them when the account is
# missing. These defaults are Trove's own.
SETTING_DEFAULTS: dict[str, str] = {
    "agent_version": AGENT_VERSION,
    "timezone": "Etc/UTC",
    "locale": "C.UTF-8",
    "ssh_key": "",
    "injected_config_owner": "ubuntu",
    "injected_config_group": "root",
}
SETTINGS = tuple(SETTING_DEFAULTS)

_SSH_KEY = re.compile(
    r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/=]+( [^\n]*)?$"
)
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")
_LOCALE = re.compile(r"^[A-Za-z0-9_.@-]+$")
# POSIX portable user/group names (no leading '-' or digit), at most 32 characters (useradd's limit).
_ACCOUNT = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,31}$")


class GuestOSError(ValueError):
    """An os/release or OS layer setting the collection cannot build."""


def supported_releases() -> list[str]:
    """``["debian 12", "ubuntu 22.04", ...]`` for error messages and docs."""
    return [f"{os_name} {release}" for os_name, release in sorted(RELEASES)]


def release_keys() -> list[str]:
    """``["debian-12", "ubuntu-22.04", ...]``: the ``<os>-<release>`` keys of the table."""
    return [f"{os_name}-{release}" for os_name, release in sorted(RELEASES)]


def supported_os_releases() -> dict[str, list[str]]:
    """``{os: [release, ...]}`` of the guest OS layer."""
    result: dict[str, list[str]] = {}
    for os_name, release in RELEASES:
        result.setdefault(os_name, []).append(release)
    return {k: sorted(v) for k, v in sorted(result.items())}


def release_info(os_name: object, release: object) -> dict[str, Any]:
    """The table row of ``os_name``/``release``, or a GuestOSError naming what is supported."""
    key = (str(os_name).lower(), str(release))
    if key not in RELEASES:
        raise GuestOSError(
            f"os {os_name!r} release {str(release)!r} is not supported by the OS layer;"
            f" supported: {', '.join(supported_releases())}"
        )
    return RELEASES[key]


def python_tag(python_version: object) -> str:
    """``"3.11"`` -> ``"cp311"`` (the CPython wheel tag of the guest's interpreter)."""
    match = re.match(r"^3\.([0-9]+)$", str(python_version))
    if not match:
        raise GuestOSError(f"guest Python version must look like 3.X, got {python_version!r}")
    return f"cp3{match.group(1)}"


def agent_version(version: object = None) -> str:
    """The agent release to install: ``version``, or the pinned one when it is empty."""
    if version in (None, ""):
        return AGENT_VERSION
    if not _VERSION.match(str(version)):
        raise GuestOSError(f"agent_version must be a release number like {AGENT_VERSION}, got {version!r}")
    return str(version)


def wheelhouse_name(version: object, python_version: object) -> str:
    """Cache folder name of a guest agent wheelhouse: ``trove-<version>-cp311``."""
    return f"trove-{agent_version(version)}-{python_tag(python_version)}"


def guest_release(
    os_name: object, release: object, version: object = None, where: str = "os_layer_releases"
) -> dict[str, Any]:
    """What the build host needs to know of one guest release (for the os_layer role).

    Returns ``{os, release, key, python, glibc, tag, codename, agent_version,
    wheelhouse}``; an unknown or incomplete os/release is refused naming
    ``where`` (the variable, and entry, the user wrote it in) and what is supported.
    """
    missing = [name for name, value in (("os", os_name), ("release", release)) if value in (None, "")]
    if missing:
        raise GuestOSError(
            f"{where}: {' and '.join(repr(m) for m in missing)} missing; "
            f"give os and release, one of: {', '.join(supported_releases())}"
        )
    key = (str(os_name).lower(), str(release))
    if key not in RELEASES:
        raise GuestOSError(
            f"{where}: os={os_name} release={release} is not supported; supported: {', '.join(release_keys())}"
        )
    row = RELEASES[key]
    version_ = agent_version(version)
    return {
        "os": key[0],
        "release": key[1],
        "key": f"{key[0]}-{key[1]}",
        "python": row["python"],
        "glibc": row["glibc"],
        "tag": python_tag(row["python"]),
        "codename": row["codename"],
        "agent_version": version_,
        "wheelhouse": wheelhouse_name(version_, row["python"]),
    }


def check_settings(settings: Mapping[str, Any], prefix: str = "") -> None:
    """Refuse unknown OS-layer settings and values the elements cannot use.

    Messages name each setting as ``<prefix><setting>`` (the os_layer role
    passes ``os_layer_``, the name of its variables).
    """
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise GuestOSError(f"unknown OS layer setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
    version = settings.get("agent_version")
    if version not in (None, "") and not _VERSION.match(str(version)):
        raise GuestOSError(f"{prefix}agent_version must be a release number like {AGENT_VERSION}, got {version!r}")
    timezone = settings.get("timezone")
    if timezone is not None and not _TIMEZONE.match(str(timezone)):
        raise GuestOSError(
            f"{prefix}timezone must be a tz database name like Etc/UTC or Europe/Berlin, got {timezone!r}"
        )
    locale = settings.get("locale")
    if locale is not None and not _LOCALE.match(str(locale)):
        raise GuestOSError(f"{prefix}locale must be a locale name like C.UTF-8 or en_US.UTF-8, got {locale!r}")
    key = settings.get("ssh_key")
    if key and not _SSH_KEY.match(str(key).strip()):
        raise GuestOSError(
            f"{prefix}ssh_key must be ONE OpenSSH public key line (e.g. 'ssh-ed25519 AAAA... operator');"
            " never a private key"
        )
    for name, what in (("injected_config_owner", "user"), ("injected_config_group", "group")):
        value = settings.get(name)
        if value not in (None, "") and not _ACCOUNT.match(str(value)):
            raise GuestOSError(
                f"{prefix}{name} must be a POSIX {what} name (letters, digits, '_', '.', '-', not starting with a"
                f" digit or '-', at most 32 characters) equal to Trove's [DEFAULT] {name}, got {value!r}"
            )


def resolve_settings(settings: Mapping[str, Any] | None = None, prefix: str = "") -> dict[str, str]:
    """Every OS-layer setting, checked, with unset (None or empty) ones at SETTING_DEFAULTS."""
    settings = dict(settings or {})
    check_settings(settings, prefix)
    return {name: _setting(settings, name) for name in SETTINGS}


def _setting(settings: Mapping[str, Any], name: str) -> str:
    value = settings.get(name)
    return SETTING_DEFAULTS[name] if value in (None, "") else str(value).strip()


def os_layer(os_name: object, release: object, settings: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Elements, environment and guest Python of the OS layer for one release.

    ``settings`` may carry any of SETTINGS; unset ones take SETTING_DEFAULTS.
    Returns ``{"elements": [...], "environment": {...}, "python": "3.11",
    "tested": bool}``; the guest agent wheelhouse is an input the caller adds
    (``DBAAS_GUEST_AGENT_WHEELHOUSE``).
    """
    settings = dict(settings or {})
    info = release_info(os_name, release)
    check_settings(settings)
    environment = {
        "DIB_RELEASE": info["codename"],
        "DIB_CLOUD_INIT_DATASOURCES": CLOUD_INIT_DATASOURCES,
        "DIB_BOOTLOADER_SERIAL_CONSOLE": SERIAL_CONSOLE,
        # debootstrap would add ifupdown DHCP stanzas for eth0/eth1, names
        # that do not exist under systemd's predictable naming (boot waits a
        # minute for them); cloud-init renders the cloud's network config.
        "DIB_APT_MINIMAL_CREATE_INTERFACES": "0",
        "DBAAS_GUEST_TIMEZONE": _setting(settings, "timezone"),
        "DBAAS_GUEST_LOCALE": _setting(settings, "locale"),
        "DBAAS_GUEST_AGENT_VERSION": _setting(settings, "agent_version"),
        "DBAAS_GUEST_PYTHON_VERSION": info["python"],
        "DBAAS_GUEST_CONFIG_OWNER": _setting(settings, "injected_config_owner"),
        "DBAAS_GUEST_CONFIG_GROUP": _setting(settings, "injected_config_group"),
    }
    if settings.get("ssh_key"):
        environment["DBAAS_GUEST_SSH_KEY"] = str(settings["ssh_key"]).strip()
    return {
        "elements": [info["base_element"]] + list(COMMON_ELEMENTS),
        "environment": environment,
        "python": info["python"],
        "tested": info["tested"],
    }
