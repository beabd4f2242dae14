# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The OS layer of a Trove guest image, as data.

One table says, per supported ``os``/``release``, which diskimage-builder
elements and environment the OS layer needs and which Python the guest
runs (the guest agent wheelhouse must be built for it). The composition
filter (``compose_guest_image``) and the ``os_layer`` role both read it, so
the supported releases are written down once.
"""

import re

# Elements every guest image gets, after the base OS element. Order matters
# only for readability: DIB orders hooks by their own numbers.
COMMON_ELEMENTS = (
    "vm",
    "cloud-init",
    "cloud-init-datasources",
    "growroot",
    "dbaas-guest-os",
    "dbaas-guest-agent",
)

# Trove injects its guest settings through Nova's config drive; the OpenStack
# metadata service is the fallback when a cloud does not offer config drives.
CLOUD_INIT_DATASOURCES = "ConfigDrive, OpenStack"

SERIAL_CONSOLE = "ttyS0,115200"

DEFAULT_AGENT_VERSION = "26.0.0"
DEFAULT_TIMEZONE = "Etc/UTC"
DEFAULT_LOCALE = "C.UTF-8"

# python: the guest's python3 (X.Y); the wheelhouse is built for it.
# glibc: the guest's C library; binary wheels must not need a newer one.
# tested: a boot test of this release runs in CI.
RELEASES = {
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

SETTINGS = ("agent_version", "timezone", "locale", "ssh_key")

_SSH_KEY = re.compile(
    r"^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)"
    r" [A-Za-z0-9+/=]+( [^\n]*)?$"
)
_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([a-z]+[0-9]*)?$")
_TIMEZONE = re.compile(r"^[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*$")
_LOCALE = re.compile(r"^[A-Za-z0-9_.@-]+$")


class GuestOSError(ValueError):
    """An os/release or OS layer setting the collection cannot build."""


def supported_releases():
    """``["debian 12", "ubuntu 22.04", ...]`` for error messages and docs."""
    return [f"{os_name} {release}" for os_name, release in sorted(RELEASES)]


def release_info(os_name, release):
    """The table row of ``os_name``/``release``, or a GuestOSError naming what is supported."""
    key = (str(os_name).lower(), str(release))
    if key not in RELEASES:
        raise GuestOSError(
            f"os {os_name!r} release {str(release)!r} is not supported by the OS layer;"
            f" supported: {', '.join(supported_releases())}"
        )
    return RELEASES[key]


def python_tag(python_version):
    """``"3.11"`` -> ``"cp311"`` (the CPython wheel tag of the guest's interpreter)."""
    match = re.match(r"^3\.([0-9]+)$", str(python_version))
    if not match:
        raise GuestOSError(f"guest Python version must look like 3.X, got {python_version!r}")
    return f"cp3{match.group(1)}"


def wheelhouse_name(agent_version, python_version):
    """Cache folder name of a guest agent wheelhouse: ``trove-26.0.0-cp311``."""
    if not _VERSION.match(str(agent_version)):
        raise GuestOSError(f"agent_version must be a release number like 26.0.0, got {agent_version!r}")
    return f"trove-{agent_version}-{python_tag(python_version)}"


def _check_settings(settings):
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise GuestOSError(
            f"unknown OS layer setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}"
        )
    version = settings.get("agent_version")
    if version is not None and not _VERSION.match(str(version)):
        raise GuestOSError(f"agent_version must be a release number like 26.0.0, got {version!r}")
    timezone = settings.get("timezone")
    if timezone is not None and not _TIMEZONE.match(str(timezone)):
        raise GuestOSError(f"timezone must be a tz database name like Etc/UTC or Europe/Berlin, got {timezone!r}")
    locale = settings.get("locale")
    if locale is not None and not _LOCALE.match(str(locale)):
        raise GuestOSError(f"locale must be a locale name like C.UTF-8 or en_US.UTF-8, got {locale!r}")
    key = settings.get("ssh_key")
    if key and not _SSH_KEY.match(str(key).strip()):
        raise GuestOSError(
            "ssh_key must be ONE OpenSSH public key line (e.g. 'ssh-ed25519 AAAA... operator'); "
            "never a private key"
        )


def os_layer(os_name, release, settings=None):
    """Elements, environment and guest Python of the OS layer for one release.

    ``settings`` may carry ``agent_version``, ``timezone``, ``locale`` and
    ``ssh_key`` (one public key line). Returns ``{"elements": [...],
    "environment": {...}, "python": "3.11", "tested": bool}``; the guest
    agent wheelhouse is an input the caller adds (``DBAAS_GUEST_AGENT_WHEELHOUSE``).
    """
    settings = dict(settings or {})
    info = release_info(os_name, release)
    _check_settings(settings)
    environment = {
        "DIB_RELEASE": info["codename"],
        "DIB_CLOUD_INIT_DATASOURCES": CLOUD_INIT_DATASOURCES,
        "DIB_BOOTLOADER_SERIAL_CONSOLE": SERIAL_CONSOLE,
        # debootstrap would add ifupdown DHCP stanzas for eth0/eth1, names
        # that do not exist under systemd's predictable naming (boot waits a
        # minute for them); cloud-init renders the cloud's network config.
        "DIB_APT_MINIMAL_CREATE_INTERFACES": "0",
        "DBAAS_GUEST_TIMEZONE": str(settings.get("timezone") or DEFAULT_TIMEZONE),
        "DBAAS_GUEST_LOCALE": str(settings.get("locale") or DEFAULT_LOCALE),
        "DBAAS_GUEST_AGENT_VERSION": str(settings.get("agent_version") or DEFAULT_AGENT_VERSION),
        "DBAAS_GUEST_PYTHON_VERSION": info["python"],
    }
    if settings.get("ssh_key"):
        environment["DBAAS_GUEST_SSH_KEY"] = str(settings["ssh_key"]).strip()
    return {
        "elements": [info["base_element"]] + list(COMMON_ELEMENTS),
        "environment": environment,
        "python": info["python"],
        "tested": info["tested"],
    }
