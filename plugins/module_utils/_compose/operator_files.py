# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pre-build checks of the files operators hand in: licensed packages and container image tarballs.

PRIVATE to the collection: no compatibility promise outside it.

The checks read the files where they are: on the controller, where the
filter plugins run and from where ``dib_image`` ships its inputs. A bad file
stops the play before any image is built, naming the path.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import FileProblem, check_readable_file
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import file_digest
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError

# Package file types per OS package family.
PACKAGE_SUFFIXES: dict[str, tuple[str, ...]] = {"dpkg": (".deb",), "rpm": (".rpm",)}

CONTAINER_TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst")

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A Debian package is an ar archive whose first member is debian-binary.
_AR_MAGIC = b"!<arch>\n"
_DEB_FIRST_MEMBER = b"debian-binary"


def _readable(path: str, option: str) -> int:
    try:
        return check_readable_file(path)
    except FileProblem as exc:
        raise GuestMatrixError(f"{option}: {exc}") from None


def ar_deb_problem(path: str) -> str | None:
    """Without dpkg-deb: why ``path`` is not an ar archive whose first member is ``debian-binary``, or None."""
    with open(path, "rb") as handle:
        head = handle.read(len(_AR_MAGIC) + 16)
    member = head[len(_AR_MAGIC):].rstrip(b" ").rstrip(b"/")
    if not head.startswith(_AR_MAGIC) or member != _DEB_FIRST_MEMBER:
        return "it is not an ar archive starting with debian-binary, as every .deb is"
    return None


def deb_problem(path: str) -> str | None:
    """Why ``path`` is not a Debian package, or None: ``dpkg-deb --info`` decides, else :func:`ar_deb_problem`."""
    tool = shutil.which("dpkg-deb")
    if not tool:
        return ar_deb_problem(path)
    try:
        done = subprocess.run(
            [tool, "--info", path], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, timeout=60, check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"dpkg-deb --info could not read it ({exc})"
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        return "dpkg-deb --info refuses it: " + (lines[0] if lines else f"exit {done.returncode}")
    return None


def _package_family(name: str) -> str | None:
    for family, suffixes in PACKAGE_SUFFIXES.items():
        if name.endswith(suffixes):
            return family
    return None


def pins_option_of(option: str) -> str:
    """The pins' key beside a location's: ``datastore_pkg_location`` -> ``datastore_pkg_sha256``."""
    base = option[: -len("_location")] if option.endswith("_location") else option
    return base + "_sha256"


def _normalise_pins(pins: Any, pins_option: str) -> dict[str, str]:
    if not pins:
        return {}
    if not isinstance(pins, dict):
        raise GuestMatrixError(f"{pins_option} must be a mapping of file name to sha256, got {type(pins).__name__}")
    result = {}
    for name, value in pins.items():
        digest = str(value).strip().lower()
        if not _SHA256.match(digest):
            raise GuestMatrixError(f"{pins_option}: pin for {name} is not a sha256 (64 hex digits): {digest}")
        result[str(name)] = digest
    return result


def check_package_location(
    location: Any,
    sha256_pins: Any = None,
    family: str = "dpkg",
    option: str = "datastore_pkg_location",
    verify_content: bool = False,
) -> list[dict[str, Any]]:
    """Validate the licensed packages at ``location`` before the build.

    ``location`` is a package file or a folder whose package files (by
    suffix, for the image's package ``family``) are all installed. Every
    package must exist, be readable and non-empty (``family="any"`` accepts
    every package kind, for checks before the image's OS is known);
    ``sha256_pins`` maps a file name (or full path) to the expected sha256.
    A pin that matches no package is refused too (a typo would silently
    unpin the file).

    With ``verify_content`` (the composition of an entry) every ``.deb``
    must also be a Debian package (:func:`deb_problem`), so a misnamed file
    is refused before the build instead of minutes into it.

    Messages name the pins by their real key, ``option`` with ``_location``
    replaced by ``_sha256`` (``datastore_pkg_sha256``, ``datastore_layer_pkg_sha256``).

    Returns ``[{path, name, size, sha256}]`` in install order (sorted names).
    """
    pins_option = pins_option_of(option)
    if location in (None, ""):
        if sha256_pins:
            raise GuestMatrixError(f"{pins_option} is set but {option} is not: set both or neither")
        return []
    if family == "any":
        suffixes = tuple(suffix for group in PACKAGE_SUFFIXES.values() for suffix in group)
    elif family in PACKAGE_SUFFIXES:
        suffixes = PACKAGE_SUFFIXES[family]
    else:
        raise GuestMatrixError(f"{option}: unknown package family '{family}'")
    location = str(location)
    pins = _normalise_pins(sha256_pins, pins_option)

    if not os.path.exists(location):
        raise GuestMatrixError(
            f"{option}: {location} does not exist (set it to a package file or a folder of packages)"
        )
    if os.path.isdir(location):
        if not os.access(location, os.R_OK | os.X_OK):
            raise GuestMatrixError(f"{option}: folder {location} cannot be read")
        names = sorted(os.listdir(location))
        others = [n for n in names if family != "any" and _package_family(n) not in (None, family)]
        if others:
            raise GuestMatrixError(
                "{}: {} holds {}, which cannot be installed on a {}-based image (wanted: {})".format(
                    option, location, ", ".join(others), family, " ".join(suffixes)
                )
            )
        files = [os.path.join(location, n) for n in names if n.endswith(suffixes)]
        if not files:
            raise GuestMatrixError("{}: folder {} holds no {} package".format(option, location, " or ".join(suffixes)))
    else:
        if not location.endswith(suffixes):
            raise GuestMatrixError(
                "{}: {} is not a {} package; a {}-based image installs {} files".format(
                    option, location, "/".join(suffixes), family, " ".join(suffixes)
                )
            )
        files = [location]

    result: list[dict[str, Any]] = []
    for path in files:
        size = _readable(path, option)
        if verify_content and path.endswith(".deb"):
            problem = deb_problem(path)
            if problem:
                raise GuestMatrixError(
                    f"{option}: {path} is not a Debian package: {problem}; replace it with the real .deb"
                    " (check it with 'dpkg-deb --info')"
                )
        digest = file_digest(path, "sha256")
        name = os.path.basename(path)
        by_name = pins.pop(name, None)
        by_path = pins.pop(path, None)
        expected = by_name or by_path
        if expected and expected != digest:
            raise GuestMatrixError(
                f"{option}: sha256 of {path} is {digest}, but {pins_option} pins {expected}; "
                "replace the file or update the pin"
            )
        result.append({"path": path, "name": name, "size": size, "sha256": digest})
    if pins:
        raise GuestMatrixError(
            "{} pins {}, which {} does not hold (it holds: {})".format(
                pins_option, ", ".join(sorted(pins)), location, ", ".join(r["name"] for r in result)
            )
        )
    return result


def check_container_images(paths: Any, option: str = "container_images") -> list[dict[str, Any]]:
    """Validate container image tarballs (files, or folders of them).

    Returns ``[{path, name, size}]`` of every tarball found.
    """
    if paths in (None, "", []):
        return []
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, (list, tuple)):
        raise GuestMatrixError(f"{option} must be a list of image tarballs or folders, got {type(paths).__name__}")
    result: list[dict[str, Any]] = []
    for item in paths:
        path = str(item)
        if os.path.isdir(path):
            tarballs = [
                os.path.join(path, n) for n in sorted(os.listdir(path)) if n.endswith(CONTAINER_TARBALL_SUFFIXES)
            ]
            if not tarballs:
                raise GuestMatrixError(
                    "{}: folder {} holds no image tarball ({})".format(
                        option, path, " ".join(CONTAINER_TARBALL_SUFFIXES)
                    )
                )
        else:
            if os.path.exists(path) and not path.endswith(CONTAINER_TARBALL_SUFFIXES):
                raise GuestMatrixError(
                    "{}: {} is not an image tarball ({}; make one with 'docker save -o')".format(
                        option, path, " ".join(CONTAINER_TARBALL_SUFFIXES)
                    )
                )
            tarballs = [path]
        for tarball in tarballs:
            size = _readable(tarball, option)
            result.append({"path": tarball, "name": os.path.basename(tarball), "size": size})
    names = [r["name"] for r in result]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GuestMatrixError("{}: two tarballs share the name {}; rename one".format(option, ", ".join(dupes)))
    return result
