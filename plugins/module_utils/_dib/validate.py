# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Refuse bad ``dib_image`` input before DIB starts.

PRIVATE to the collection: no compatibility promise outside it.

Every check raises :class:`InvalidOption` naming the option and saying how
to fix it; a DIB run that would fail twenty minutes in for a typo is the
thing this module exists to prevent.
"""

from __future__ import annotations

import errno
import os
import re
import shutil

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import FileProblem, check_readable_file
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.names import image_name_problem
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.argv import FORMAT_SUFFIX
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.elements import (
    ElementError,
    find_all_elements,
    missing_elements,
)

DEFAULT_DIB_COMMAND = "/opt/dbaas-guest-images/dib/bin/disk-image-create"
GIB = 1024 ** 3
# A build without an explicit size still needs room for a minimal root file
# system, its raw image and the converted outputs.
DEFAULT_NEEDED_GIB = 3
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_ELEMENT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")


class InvalidOption(Exception):
    def __init__(self, option: str, message: str):
        super().__init__(f"{option}: {message}")
        self.option = option


def check_name(name: str) -> None:
    """The collection's one image-name rule; outputs are ``<dest>/<name>.<format>``."""
    problem = image_name_problem(name)
    if problem:
        raise InvalidOption("name", problem)


def check_environment(environment: dict[str, str]) -> None:
    for key, value in environment.items():
        if not _IDENTIFIER.match(key):
            raise InvalidOption(
                "environment",
                f"key '{key}' is not a shell variable name (letters, digits and '_', not starting with a digit)",
            )
        if not isinstance(value, str):
            raise InvalidOption("environment", f"value of '{key}' must be a string; quote it in YAML")
        if "\n" in value or "\0" in value or "\r" in value:
            raise InvalidOption(
                "environment", f"value of '{key}' contains a newline or NUL byte; DIB cannot pass it on"
            )


def check_inputs(inputs: dict[str, str], environment: dict[str, str], check_mode: bool = False) -> list[str]:
    """Refuse bad inputs; return the variables whose path does not exist yet (check mode only).

    A check-mode run predicts the whole playbook, in which an earlier task
    (the guest agent wheelhouse of the compose stage) creates an input this
    task uses; check mode therefore accepts a missing path and says the image
    would build. A real run still refuses it.
    """
    missing: list[str] = []
    for var, path in inputs.items():
        if not _IDENTIFIER.match(var):
            raise InvalidOption("inputs", f"key '{var}' is not a shell variable name; it is exported to DIB as is")
        if var in environment:
            raise InvalidOption(
                "inputs", f"'{var}' is set in both inputs and environment; keep it only in inputs"
            )
        if not path:
            raise InvalidOption("inputs", f"'{var}' has an empty path")
        if not os.path.exists(path):
            if check_mode:
                missing.append(var)
                continue
            raise InvalidOption("inputs", f"'{var}' points at '{path}', which does not exist on the build host")
        if not os.access(path, os.R_OK):
            raise InvalidOption("inputs", f"'{var}' points at '{path}', which is not readable")
        if os.path.isdir(path):
            if not os.access(path, os.X_OK):
                raise InvalidOption("inputs", f"'{var}': folder '{path}' cannot be listed (permissions)")
            if not any(files for _root, _dirs, files in os.walk(path)):
                raise InvalidOption("inputs", f"'{var}': folder '{path}' has no files in it")
        else:
            try:
                check_readable_file(path)
            except FileProblem as exc:
                raise InvalidOption("inputs", f"'{var}': {exc}") from None
    return missing


def check_formats(formats: list[str]) -> None:
    if not formats:
        raise InvalidOption("formats", "must list at least one of: {}".format(", ".join(sorted(FORMAT_SUFFIX))))
    unknown = [fmt for fmt in formats if fmt not in FORMAT_SUFFIX]
    if unknown:
        raise InvalidOption(
            "formats",
            f"unknown format(s) {', '.join(unknown)}; use any of: {', '.join(sorted(FORMAT_SUFFIX))}",
        )
    if len(set(formats)) != len(formats):
        raise InvalidOption("formats", "lists a format twice: {}".format(", ".join(formats)))


def check_numbers(size: int | None, timeout: int, lock_timeout: int, max_age: int) -> None:
    if size is not None and size <= 0:
        raise InvalidOption("size", f"must be a positive number of GiB (got {size}); leave it out to let DIB decide")
    if timeout <= 0:
        raise InvalidOption("timeout", f"must be a positive number of seconds (got {timeout})")
    if lock_timeout < 0:
        raise InvalidOption("lock_timeout", f"must be 0 or more seconds (got {lock_timeout})")
    if max_age < 0:
        raise InvalidOption("max_age", f"must be 0 (never expire) or a number of hours (got {max_age})")


def find_dib_command(dib_command: str | None, path_env: str | None = None) -> str:
    """Absolute path of ``disk-image-create``; option first, then PATH, then the build_host venv."""
    hint = "install diskimage-builder by running the dbaas.guest_images.build_host role, or set dib_command"
    if dib_command:
        if os.sep not in dib_command:
            found = shutil.which(dib_command, path=path_env)
            if not found:
                raise InvalidOption("dib_command", f"'{dib_command}' is not on PATH; {hint}")
            return found
        if not (os.path.isfile(dib_command) and os.access(dib_command, os.X_OK)):
            raise InvalidOption("dib_command", f"'{dib_command}' is not an executable file; {hint}")
        return os.path.abspath(dib_command)
    found = shutil.which("disk-image-create", path=path_env)
    if found:
        return found
    if os.path.isfile(DEFAULT_DIB_COMMAND) and os.access(DEFAULT_DIB_COMMAND, os.X_OK):
        return DEFAULT_DIB_COMMAND
    raise InvalidOption(
        "dib_command", f"disk-image-create was not found on PATH nor at {DEFAULT_DIB_COMMAND}; {hint}"
    )


def check_element_paths(element_paths: list[str]) -> None:
    for path in element_paths:
        if not os.path.isdir(path):
            raise InvalidOption(
                "element_paths",
                f"'{path}' is not a folder on the build host; fix the path"
                " (the action plugin ships controller folders)",
            )


def check_elements(elements: list[str], search_paths: list[str]) -> None:
    if not elements:
        raise InvalidOption("elements", "must list at least one DIB element (e.g. an OS element like debian-minimal)")
    for element in elements:
        if not _ELEMENT_NAME.match(element or ""):
            raise InvalidOption("elements", f"'{element}' is not a valid element name")
    try:
        missing = missing_elements(elements, search_paths)
    except ElementError as exc:
        raise InvalidOption("element_paths", str(exc)) from exc
    if missing:
        known = sorted(find_all_elements(search_paths))
        raise InvalidOption(
            "elements",
            f"element(s) {', '.join(missing)} not found on the element paths ({', '.join(search_paths)}); add the"
            f" folder holding them to element_paths or fix the name. Known elements: {', '.join(known)}",
        )


_READ_ONLY = "is on a read-only file system; choose a folder on a writable file system (or remount it read-write)"


def _read_only(path: str) -> bool:
    try:
        return bool(os.statvfs(path).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def check_dest_writable(dest: str) -> None:
    """Refuse an existing ``dest`` that cannot be written, saying whether the file system or the user is why."""
    if os.access(dest, os.W_OK | os.X_OK):
        return
    if _read_only(dest):
        raise InvalidOption("dest", f"'{dest}' {_READ_ONLY}")
    raise InvalidOption("dest", f"'{dest}' is not writable by this user; choose a writable folder or become root")


def ensure_dest(dest: str) -> None:
    """Create ``dest`` if missing; refuse it when it cannot be written."""
    if os.path.exists(dest) and not os.path.isdir(dest):
        raise InvalidOption("dest", f"'{dest}' exists and is not a folder")
    try:
        os.makedirs(dest, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.EROFS:
            raise InvalidOption("dest", f"cannot create '{dest}': it {_READ_ONLY}") from exc
        raise InvalidOption("dest", f"cannot create '{dest}': {exc.strerror}; choose a writable folder") from exc
    check_dest_writable(dest)


def needed_bytes(size: int | None, formats: list[str]) -> int:
    """Space a build needs in ``dest``: the raw image plus one copy per output format (worst case)."""
    gib = size if size else DEFAULT_NEEDED_GIB
    return gib * GIB * (1 + len(formats))


def check_free_space(dest: str, size: int | None, formats: list[str]) -> None:
    stats = os.statvfs(dest)
    free = stats.f_bavail * stats.f_frsize
    needed = needed_bytes(size, formats)
    if free < needed:
        raise InvalidOption(
            "size" if size else "dest",
            f"only {free / GIB:.1f} GiB free in '{dest}' but a {f'{size} GiB' if size else 'default-size'} build"
            f" into {len(formats)} format(s) needs about {needed / GIB:.1f} GiB; free space or choose another dest",
        )
