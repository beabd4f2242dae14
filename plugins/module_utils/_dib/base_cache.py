# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The debootstrap base cache: DIB's own root tarball, reused only while its key holds.

PRIVATE to the collection: no compatibility promise outside it.

diskimage-builder's ``debootstrap`` element can keep the result of
debootstrap as ``$DIB_IMAGE_CACHE/debootstrap-<distro>-<release>-<arch>.tar.gz``
(``DIB_DEBOOTSTRAP_CACHE=1`` writes it, ``DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE=1``
reads it), but that name holds no mirror, component, keyring, extra argument
or tool version: on its own a stale tarball would be used silently.

This module turns the cache on for builds whose root comes from debootstrap
(``debian-minimal``, ``ubuntu-minimal``) and keys it: beside each tarball a
``.key`` file records a hash of everything that decides its content. A build
uses the tarball only when that key equals its own; otherwise the tarball is
deleted before DIB starts and DIB makes (and caches) a new one. The key is
written only after a successful build, so a tarball cut short by a killed
build is never used. A cached base is still brought up to date by DIB itself
(``debian-minimal`` runs ``apt-get dist-upgrade`` after the root is unpacked).

Operators stay in charge: when the build's ``environment`` sets any of
``DIB_DEBOOTSTRAP_CACHE``, ``DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE`` or
``DIB_OFFLINE``, the collection leaves the cache alone (``DIB_DEBOOTSTRAP_CACHE:
"0"`` turns it off). Clearing it: delete ``debootstrap-*.tar.gz*`` in the
image cache folder.

The build holds the cache lock (:func:`._dib.lock.cache_lock`) around
:func:`plan` ... :func:`commit`, so no other build of this cache touches the
tarball meanwhile.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import subprocess

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import file_digest, text_sha256

# Root elements whose root filesystem comes from DIB's debootstrap element.
DISTRO_OF_ROOT_ELEMENT = {"debian-minimal": "debian", "ubuntu-minimal": "ubuntu"}
# Set by the operator: the collection leaves the cache alone.
OPERATOR_VARIABLES = ("DIB_DEBOOTSTRAP_CACHE", "DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE", "DIB_OFFLINE")
# Everything the debootstrap element reads that decides the tarball's content.
KEY_VARIABLES = (
    "DIB_RELEASE",
    "DIB_DISTRIBUTION_MIRROR",
    "DIB_DEBIAN_COMPONENTS",
    "DIB_DEBOOTSTRAP_EXTRA_ARGS",
    "DIB_MMDEBSTRAP_EXTRA_ARGS",
    "DIB_DEBIAN_DEBOOTSTRAP_SCRIPT",
    "DIB_APT_KEYRING",
    "DIB_DEBIAN_KEYRING",
)
KEY_VERSION = 1


@dataclasses.dataclass(frozen=True)
class BasePlan:
    """What one build does with the base cache."""

    state: str  # "reused", "refreshed", "new", "operator" or "off"
    reason: str
    environment: dict[str, str]
    tarball: str = ""
    key: str = ""

    def as_result(self) -> dict[str, str]:
        return {"state": self.state, "reason": self.reason, "tarball": self.tarball}


def tarball_path(cache_dir: str, distro: str, release: str, arch: str) -> str:
    """The file name DIB's debootstrap element uses."""
    return os.path.join(cache_dir, f"debootstrap-{distro}-{release}-{arch}.tar.gz")


def key_path(tarball: str) -> str:
    return tarball + ".key"


def tool_version(command: str = "debootstrap") -> str:
    """``debootstrap --version`` (empty when it cannot run: DIB will fail on its own then)."""
    try:
        out = subprocess.run([command, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.decode("utf-8", "replace").strip()


def _file_sha256(path: str) -> str:
    try:
        return file_digest(path, "sha256")
    except OSError:
        return "(unreadable)"


def cache_key(
    environment: dict[str, str], *, distro: str, arch: str, dib_version: str, debootstrap_version: str,
    debootstrap_element_sha256: str,
) -> str:
    """A hash of everything that decides what debootstrap puts in the tarball."""
    values = {name: environment.get(name, "") for name in KEY_VARIABLES}
    for name in ("DIB_APT_KEYRING", "DIB_DEBIAN_KEYRING"):
        if values[name]:
            # A keyring is a path: what counts is its content.
            values[name] = f"{values[name]} sha256:{_file_sha256(values[name])}"
    document = {
        "version": KEY_VERSION,
        "distro": distro,
        "arch": arch,
        "dib": dib_version,
        "debootstrap": debootstrap_version,
        "element": debootstrap_element_sha256,
        "environment": values,
    }
    return text_sha256(json.dumps(document, sort_keys=True, separators=(",", ":")))


def _read_key(tarball: str) -> str:
    try:
        with open(key_path(tarball), encoding="ascii") as handle:
            return handle.read().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _remove(tarball: str) -> None:
    for path in (tarball, key_path(tarball)):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def plan(
    *,
    environment: dict[str, str],
    resolved_elements: dict[str, str],
    arch: str,
    cache_dir: str,
    dib_version: str,
    debootstrap_version: str,
    debootstrap_element_sha256: str,
) -> BasePlan:
    """Decide (and prepare the cache folder for) one build; ``environment`` is the build's own.

    Returns the variables to add to DIB's environment; a stale or unkeyed
    tarball is deleted here, before DIB can read it.
    """
    set_by_operator = [name for name in OPERATOR_VARIABLES if name in environment]
    if set_by_operator:
        return BasePlan("operator", f"{', '.join(set_by_operator)} set in environment: the cache is the"
                        " operator's", {})
    roots = [DISTRO_OF_ROOT_ELEMENT[name] for name in resolved_elements if name in DISTRO_OF_ROOT_ELEMENT]
    if "debootstrap" not in resolved_elements or len(set(roots)) != 1:
        return BasePlan("off", "the root filesystem does not come from debootstrap", {})
    release = environment.get("DIB_RELEASE", "")
    if not release:
        return BasePlan("off", "DIB_RELEASE is not set: the cached tarball's name would not be known",
                        {"DIB_DEBOOTSTRAP_CACHE": "0"})
    distro = roots[0]
    tarball = tarball_path(cache_dir, distro, release, arch)
    key = cache_key(environment, distro=distro, arch=arch, dib_version=dib_version,
                    debootstrap_version=debootstrap_version,
                    debootstrap_element_sha256=debootstrap_element_sha256)
    if os.path.isfile(tarball):
        recorded = _read_key(tarball)
        if recorded == key:
            return BasePlan("reused", f"{os.path.basename(tarball)} matches this build's key", {
                "DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE": "1", "DIB_DEBOOTSTRAP_CACHE": "0",
            }, tarball, key)
        _remove(tarball)
        why = "its key differs (mirror, release, components, keyring, extra arguments or tool versions changed)" \
            if recorded else "it has no key (made outside the collection or cut short)"
        return BasePlan("refreshed", f"{os.path.basename(tarball)} was deleted: {why}", {
            "DIB_DEBOOTSTRAP_CACHE": "1",
        }, tarball, key)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(key_path(tarball))
    return BasePlan("new", f"no {os.path.basename(tarball)} yet: this build caches it", {
        "DIB_DEBOOTSTRAP_CACHE": "1",
    }, tarball, key)


def commit(base: BasePlan) -> None:
    """After a successful build: key the tarball this build made (nothing to do otherwise)."""
    if base.state not in ("new", "refreshed") or not os.path.isfile(base.tarball):
        return
    write_atomically(key_path(base.tarball), base.key + "\n")


def abandon(base: BasePlan) -> None:
    """After a failed build: a tarball this build started may be incomplete; drop it."""
    if base.state in ("new", "refreshed"):
        _remove(base.tarball)
