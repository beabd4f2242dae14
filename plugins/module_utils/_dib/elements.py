# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find diskimage-builder elements and expand their dependencies.

PRIVATE to the collection: no compatibility promise outside it.

DIB itself expands ``element-deps`` / ``element-provides`` when a build
starts; we need the same answer *before* the build, to refuse an unknown
element early and to fingerprint the content of every element the build
will use.  The rules follow DIB's documented behaviour:

* ``ELEMENTS_PATH`` is searched in order and DIB's own element folder comes
  last; an element found earlier on the path hides one of the same name
  found later.
* ``element-deps`` lists further elements (one a line); ``element-provides``
  lists virtual elements an element stands for (``operating-system``).
  A provided name is never looked up as a folder.
"""

from __future__ import annotations

import os
import subprocess


class ElementError(Exception):
    """An element (or element folder) cannot be found or resolved."""


def dib_elements_dir(dib_command: str) -> str | None:
    """Locate the ``elements`` folder of the DIB install behind ``dib_command``.

    ``disk-image-create`` is a console script inside a virtualenv; its
    ``diskimage_builder`` package sits in that venv's ``site-packages``.
    We look there first (cheap, no process), and ask the venv's Python as a
    fallback (covers unusual layouts such as system installs).
    """
    real = os.path.realpath(dib_command)
    venv = os.path.dirname(os.path.dirname(real))
    for libdir in ("lib", "lib64"):
        base = os.path.join(venv, libdir)
        if not os.path.isdir(base):
            continue
        for entry in sorted(os.listdir(base)):
            if not entry.startswith("python"):
                continue
            candidate = os.path.join(base, entry, "site-packages", "diskimage_builder", "elements")
            if os.path.isdir(candidate):
                return candidate
    python = _script_interpreter(real)
    if python:
        try:
            out = subprocess.run(
                [python, "-c", "import diskimage_builder.paths as p; print(p.get_path('elements'))"],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                timeout=60,
                check=False,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        path = out.stdout.decode("utf-8", "replace").strip()
        if out.returncode == 0 and os.path.isdir(path):
            return path
    return None


def _script_interpreter(path: str) -> str | None:
    """Return the interpreter named on a script's ``#!`` line, if any."""
    try:
        with open(path, "rb") as handle:
            first = handle.readline(4096)
    except OSError:
        return None
    if not first.startswith(b"#!"):
        return None
    parts = first[2:].decode("utf-8", "replace").split()
    if not parts:
        return None
    if os.path.basename(parts[0]) == "env" and len(parts) > 1:
        return parts[1]
    return parts[0]


def _read_list(path: str) -> set[str]:
    try:
        with open(path) as handle:
            return {line.strip() for line in handle if line.strip() and not line.strip().startswith("#")}
    except FileNotFoundError:
        return set()


def find_all_elements(paths: list[str]) -> dict[str, str]:
    """Map element name -> element folder; earlier ``paths`` win."""
    found: dict[str, str] = {}
    for path in reversed(paths):
        if not os.path.isdir(path):
            raise ElementError(f"element path '{path}' is not a directory")
        for entry in os.listdir(path):
            full = os.path.join(path, entry)
            if os.path.isdir(full) and not entry.startswith((".", "__")):
                found[entry] = os.path.realpath(full)
    return found


def with_dib_defaults(elements: list[str], arch: str = "amd64") -> list[str]:
    """The element list as DIB itself will build it.

    DIB puts its ``base`` element in front (we never pass ``-n``) and, for
    backwards compatibility, gives ``vm`` a partition layout when the caller
    names none: ``block-device-efi`` on arm64, ``block-device-mbr`` elsewhere.
    """
    result = ["base"] + [name for name in elements if name != "base"]
    if "vm" in result and not any(name.startswith("block-device-") for name in result):
        result.append("block-device-efi" if arch in ("arm64", "aarch64") else "block-device-mbr")
    return result


def resolve_elements(wanted: list[str], paths: list[str]) -> dict[str, str]:
    """Expand ``wanted`` with all their dependencies.

    Returns an ordered dict of element name -> folder: the requested
    elements first (in the order given), then their dependencies in the
    order they were discovered, which keeps the result stable for
    fingerprinting.  Raises :class:`ElementError` naming the first element
    that is not on any path.
    """
    available = find_all_elements(paths)
    provides = {name: _read_list(os.path.join(folder, "element-provides")) for name, folder in available.items()}
    resolved: dict[str, str] = {}
    provided: set[str] = set()
    queue = list(wanted)
    requested_by: dict[str, str] = {}
    while queue:
        name = queue.pop(0)
        if name in resolved or name in provided:
            continue
        if name not in available:
            if name in requested_by:
                raise ElementError(
                    f"element '{name}' (a dependency of '{requested_by[name]}') is not on any element path"
                )
            raise ElementError(f"element '{name}' is not on any element path")
        folder = available[name]
        resolved[name] = folder
        provided.update(provides[name])
        for dep in sorted(_read_list(os.path.join(folder, "element-deps"))):
            if dep not in resolved and dep not in provided:
                requested_by.setdefault(dep, name)
                queue.append(dep)
    for name in list(resolved):
        if name in provided and name not in wanted:
            del resolved[name]
    return resolved


def missing_elements(wanted: list[str], paths: list[str]) -> list[str]:
    """Names in ``wanted`` that no path has and no element provides."""
    available = find_all_elements(paths)
    provided: set[str] = set()
    for folder in available.values():
        provided.update(_read_list(os.path.join(folder, "element-provides")))
    return [name for name in wanted if name not in available and name not in provided]
