# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Compose matrix entries into ``dib_image`` option sets (the compose stage's one composition).

PRIVATE to the collection: no compatibility promise outside it.

A Trove guest image is three layers stacked in one DIB run:

* the OS layer (distribution, cloud-init, guest agent): elements and
  environment per os/release from ``releases``;
* the datastore layer: a container engine plus preloaded datastore container
  images (``mode: container``, current Trove) or the database server from the
  distribution (``mode: package``, older Trove and custom agents), from
  ``datastores``;
* optional licensed packages the operator supplies
  (``DATASTORE_PKG_LOCATION``, the documented Trove practice), checked by
  ``operator_files``.

An entry without ``os`` is a plain DIB image: checked here the same way
(known keys, name, lists, size) and given the collection's element folders.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.names import image_name_problem
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import datastores, releases
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.elements import collection_element_paths
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.operator_files import (
    check_container_images,
    check_package_location,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.inventory import SBOM_ELEMENT

# Our elements (each ships in roles/<role>/files/elements).
LAYER_ELEMENTS = {
    "container": "dbaas-datastore-container",
    "package": "dbaas-datastore-package",
    "licensed": "dbaas-licensed-packages",
}

# dib_image input variables (files/folders that enter the image from outside).
INPUT_PKG_LOCATION = "DATASTORE_PKG_LOCATION"
INPUT_CONTAINER_IMAGES = "DBAAS_CONTAINER_IMAGES"
INPUT_WHEELHOUSE = "DBAAS_GUEST_AGENT_WHEELHOUSE"
INPUT_EXTRA_CA_CERTS = "DBAAS_EXTRA_CA_CERTS"

DEFAULT_FORMATS = ["qcow2"]
# Room for the datastore (container images are unpacked at first boot);
# cloud-init grows the root disk to the flavor's size anyway.
DEFAULT_TROVE_SIZE = 4

TROVE_KEYS = (
    "os",
    "release",
    "datastore",
    "datastore_version",
    "mode",
    "name",
    "elements",
    "element_paths",
    "environment",
    "packages",
    "formats",
    "compress",
    "size",
    "arch",
    "container_images",
    "datastore_pkg_location",
    "datastore_pkg_sha256",
    "labels",
)
# labels: what a build host must carry to build the entry (the build plan reads it; DIB never sees it).
PLAIN_KEYS = ("name", "elements", "element_paths", "environment", "packages", "formats", "compress", "size", "arch",
              "inputs", "labels")
LAYER_KEYS = (
    "wheelhouse",
    "wheelhouses",
    "environment",
    "element_paths",
    "inputs",
    "pkg_location",
    "pkg_sha256",
    "container_images",
    "os_settings",
    "extra_ca_certs",
)
LAYERS_WHERE = "compose_guest_image layers"


def entry_label(entry: Any, option: str = "build_guest_images") -> str:
    """How messages name an entry: by its name, else by its os/release/datastore/version/mode."""
    if isinstance(entry, dict) and entry.get("name"):
        return "{} entry '{}'".format(option, entry["name"])
    if isinstance(entry, dict) and entry.get("os"):
        return "{} entry {}-{}-{}-{}-{}".format(option, *tuple(entry.get(k, "?") for k in datastores.TROVE_FIELDS))
    return f"{option} entry"


def default_image_name(os_name: str, release: str, datastore: str, version: str, mode: str) -> str:
    return f"trove-{os_name}-{release}-{datastore}-{version}-{mode}"


def _str_list(value: Any, field: str, where: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise GuestMatrixError(f"{where}: '{field}' must be a list, got {value!r}")
    return [str(v) for v in value]


def _str_dict(value: Any, field: str, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GuestMatrixError(f"{where}: '{field}' must be a mapping, got {value!r}")
    return {str(k): ("" if v is None else str(v)) for k, v in value.items()}


def _check_keys(entry: Mapping[str, Any], allowed: tuple, where: str) -> None:
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise GuestMatrixError("{}: unknown keys {}; known: {}".format(where, ", ".join(unknown), ", ".join(allowed)))


def _check_name(name: str, where: str) -> None:
    problem = image_name_problem(name)
    if problem:
        raise GuestMatrixError(f"{where}: name is not usable as a file name: {problem}")


def _size(value: Any, where: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise GuestMatrixError(f"{where}: 'size' must be a whole number of GiB, got {value!r}")
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise GuestMatrixError(f"{where}: 'size' must be a whole number of GiB, got {value!r}") from None
    if size < 1:
        raise GuestMatrixError(f"{where}: 'size' must be at least 1 (GiB), got {value!r}")
    return size


def _dedupe(items: list[str]) -> list[str]:
    seen = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


def _with_optional(spec: dict[str, Any], entry: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The entry's optional ``arch`` and ``compress``, when it gives them."""
    if entry.get("arch") not in (None, ""):
        spec["arch"] = str(entry["arch"])
    if entry.get("compress") is not None:
        compress = _bool_value(entry["compress"])
        if compress is None:
            raise GuestMatrixError(f"{where}: {_COMPRESS_PROBLEM.format(entry['compress'])}")
        spec["compress"] = compress
    return spec


_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")
_COMPRESS_PROBLEM = ("compress: {!r} is not true or false; write compress: false for an uncompressed qcow2"
                     " (or leave it out: compressed)")


def _bool_value(value: Any) -> bool | None:
    """True/False from a YAML boolean or its text (AWX passes text); None when it is neither."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    return True if text in _TRUE else False if text in _FALSE else None


def compose_guest_image(entry: Any, layers: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Return the ``dib_image`` option set for one matrix entry.

    ``layers`` carries what earlier stages computed on the build host:
    ``wheelhouses`` (guest agent wheelhouse folder by ``<os>-<release>``,
    from the os_layer role) or one ``wheelhouse`` for every entry,
    ``os_settings`` (``releases.SETTINGS``), ``extra_ca_certs`` (build-time
    CA certs), ``environment`` (merged under everything, e.g. mirrors),
    ``element_paths``, ``inputs``, and the datastore layer's defaults
    ``pkg_location`` / ``pkg_sha256`` / ``container_images`` which apply to
    entries that do not set their own.

    A Trove entry's result carries ``trove: {os, release, datastore,
    datastore_version, mode}`` besides the dib_image options.
    """
    if not isinstance(entry, dict):
        raise GuestMatrixError(f"build_guest_images: every entry must be a mapping, got {entry!r}")
    layers = dict(layers or {})
    _check_keys(layers, LAYER_KEYS, LAYERS_WHERE)
    where = entry_label(entry)
    base_env = _str_dict(layers.get("environment"), "environment", LAYERS_WHERE)
    base_paths = _str_list(layers.get("element_paths"), "element_paths", LAYERS_WHERE)
    base_inputs = _str_dict(layers.get("inputs"), "inputs", LAYERS_WHERE)

    if not entry.get("os"):
        return _compose_plain(entry, where, base_env, base_paths, base_inputs)

    _check_keys(entry, TROVE_KEYS, where)
    os_name, release, datastore, version, mode = datastores.validate_trove_entry(entry, where)
    os_settings = layers.get("os_settings") or {}
    if not isinstance(os_settings, dict):
        raise GuestMatrixError(f"{LAYERS_WHERE}: 'os_settings' must be a mapping")
    try:
        os_layer = releases.os_layer(os_name, release, os_settings)
    except releases.GuestOSError as exc:
        raise GuestMatrixError(f"{where}: {exc}") from None
    family = datastores.OS_FAMILIES.get(os_name, "dpkg")

    name = str(entry.get("name") or default_image_name(os_name, release, datastore, version, mode))
    _check_name(name, where)

    elements = [str(e) for e in os_layer["elements"]]
    environment = dict(base_env)
    environment.update({str(k): str(v) for k, v in os_layer["environment"].items()})
    inputs = dict(base_inputs)

    wheelhouses = layers.get("wheelhouses") or {}
    if not isinstance(wheelhouses, dict):
        raise GuestMatrixError(f"{LAYERS_WHERE}: 'wheelhouses' must be a mapping of <os>-<release> to folder")
    wheelhouse = wheelhouses.get(f"{os_name}-{release}") or layers.get("wheelhouse")
    if wheelhouses and not wheelhouse:
        raise GuestMatrixError(
            f"{where}: no guest agent wheelhouse for {os_name}-{release} "
            f"(prepared: {datastores.fmt_choices(sorted(wheelhouses))}); "
            f"add {{os: {os_name}, release: '{release}'}} to os_layer_releases"
        )
    if wheelhouse:
        inputs[INPUT_WHEELHOUSE] = str(wheelhouse)
    if layers.get("extra_ca_certs"):
        inputs[INPUT_EXTRA_CA_CERTS] = str(layers["extra_ca_certs"])

    environment["DBAAS_DATASTORE"] = datastore
    environment["DBAAS_DATASTORE_VERSION"] = version
    if mode == "container":
        engine = datastores.CONTAINER_ENGINES[os_name]
        elements.append(LAYER_ELEMENTS["container"])
        environment["DBAAS_CONTAINER_ENGINE"] = engine["engine"]
        environment["DBAAS_CONTAINER_ENGINE_PACKAGES"] = " ".join(engine["packages"])
        environment["DBAAS_CONTAINER_ENGINE_SERVICE"] = engine["service"]
        images = entry.get("container_images")
        if images is None:
            images = layers.get("container_images")
        found = check_container_images(images, option=f"{where}: container_images")
        if found:
            # dib_image inputs are one path per variable: the first goes in
            # DBAAS_CONTAINER_IMAGES, further ones in DBAAS_CONTAINER_IMAGES_<n>.
            sources = images if isinstance(images, (list, tuple)) else [images]
            for index, path in enumerate(sources):
                var = INPUT_CONTAINER_IMAGES if index == 0 else f"{INPUT_CONTAINER_IMAGES}_{index + 1}"
                inputs[var] = str(path)
    else:
        if entry.get("container_images"):
            raise GuestMatrixError(f"{where}: 'container_images' only applies to mode: container")
        spec = datastores.package_datastore(os_name, release, datastore, version)
        elements.append(LAYER_ELEMENTS["package"])
        environment["DBAAS_DATASTORE_PACKAGES"] = " ".join(spec["packages"])
        environment["DBAAS_DATASTORE_SERVICE"] = spec["service"]
        environment["DBAAS_DATASTORE_DATA_DIR"] = spec["data_dir"]
        environment["DBAAS_DATASTORE_USER"] = spec["user"]

    if "datastore_pkg_location" in entry:
        location = entry.get("datastore_pkg_location")
        pins = entry.get("datastore_pkg_sha256")
    else:
        location = layers.get("pkg_location")
        pins = entry.get("datastore_pkg_sha256", layers.get("pkg_sha256"))
    packages_found = check_package_location(
        location, pins, family=family, option=f"{where}: datastore_pkg_location", verify_content=True
    )
    if packages_found:
        elements.append(LAYER_ELEMENTS["licensed"])
        inputs[INPUT_PKG_LOCATION] = str(location)
        # The element re-checks the copied files against these sums, so a file
        # replaced between this check and the build is refused too.
        environment["DATASTORE_PKG_SHA256SUMS"] = ";".join(f"{p['sha256']}  {p['name']}" for p in packages_found)

    elements.extend(_str_list(entry.get("elements"), "elements", where))
    # Every image records its contents for its SBOM.
    elements.append(SBOM_ELEMENT)
    environment.update(_str_dict(entry.get("environment"), "environment", where))
    element_paths = collection_element_paths() + base_paths
    element_paths.extend(_str_list(entry.get("element_paths"), "element_paths", where))
    formats = _str_list(entry.get("formats"), "formats", where) or list(DEFAULT_FORMATS)
    size = _size(entry.get("size"), where)

    return _with_optional(
        {
            "name": name,
            "elements": _dedupe(elements),
            "element_paths": _dedupe(element_paths),
            "environment": environment,
            "packages": _str_list(entry.get("packages"), "packages", where),
            "formats": formats,
            "size": size if size is not None else DEFAULT_TROVE_SIZE,
            "inputs": inputs,
            "trove": {
                "os": os_name,
                "release": release,
                "datastore": datastore,
                "datastore_version": version,
                "mode": mode,
            },
        },
        entry,
        where,
    )


def _compose_plain(
    entry: Mapping[str, Any], where: str, base_env: dict[str, str], base_paths: list[str], base_inputs: dict[str, str]
) -> dict[str, Any]:
    _check_keys(entry, PLAIN_KEYS, where + " (no 'os': a plain DIB image)")
    if not entry.get("name"):
        raise GuestMatrixError(f"{where}: an entry without 'os' is a plain DIB image and needs 'name'")
    name = str(entry["name"])
    _check_name(name, where)
    elements = _str_list(entry.get("elements"), "elements", where)
    if not elements:
        raise GuestMatrixError(f"{where}: an entry without 'os' is a plain DIB image and needs 'elements'")
    environment = dict(base_env)
    environment.update(_str_dict(entry.get("environment"), "environment", where))
    inputs = dict(base_inputs)
    inputs.update(_str_dict(entry.get("inputs"), "inputs", where))
    return _with_optional(
        {
            "name": name,
            "elements": _dedupe(elements + [SBOM_ELEMENT]),
            "element_paths": _dedupe(
                collection_element_paths() + base_paths + _str_list(entry.get("element_paths"), "element_paths", where)
            ),
            "environment": environment,
            "packages": _str_list(entry.get("packages"), "packages", where),
            "formats": _str_list(entry.get("formats"), "formats", where) or list(DEFAULT_FORMATS),
            "size": _size(entry.get("size"), where),
            "inputs": inputs,
        },
        entry,
        where,
    )


# --- the matrix check: every entry, before any stage runs -------------------

MATRIX_OPTION = "build_guest_images"
_LIST_KEYS = ("elements", "element_paths", "packages", "formats")
_MAP_KEYS = ("environment", "inputs")


def matrix_label(entry: Any, index: int, option: str = MATRIX_OPTION) -> str:
    """``build_guest_images[2] (name)``: where the user wrote the entry, and which one it is."""
    where = f"{option}[{index}]"
    if not isinstance(entry, dict):
        return where
    name = entry.get("name")
    if not name and entry.get("os") and all(entry.get(k) not in (None, "") for k in datastores.TROVE_FIELDS):
        name = default_image_name(*(str(entry[k]) for k in datastores.TROVE_FIELDS))
    return f"{where} ({name})" if name else where


def _unknown_key_problem(key: str, known: tuple, kind: str) -> str:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    return f"{key}: unknown key of {kind}; {hint}known keys: {', '.join(known)}"


def _size_problem(value: Any) -> str | None:
    if value in (None, ""):
        return None
    whole: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        whole = value
    elif isinstance(value, float) and value.is_integer():
        whole = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        whole = int(value.strip())
    if whole is None:
        return f"size: {value!r} is not a whole number of GiB; write a whole number such as 4 (no fraction, no unit)"
    if whole < 1:
        return f"size: {value!r} is less than 1 GiB; give at least 1, or leave size out for the default"
    return None


def _trove_problems(entry: Mapping[str, Any]) -> list[str]:
    missing = [key for key in datastores.TROVE_FIELDS if entry.get(key) in (None, "")]
    if missing:
        return [
            f"{key}: missing; a Trove entry (one with 'os') needs {', '.join(datastores.TROVE_FIELDS)}"
            for key in missing
        ]
    os_name, release, datastore, version, mode = (str(entry[key]) for key in datastores.TROVE_FIELDS)
    fmt = datastores.fmt_choices
    oses = releases.supported_os_releases()
    if os_name not in oses:
        return [f"os: os '{os_name}' is not supported; supported: {fmt(oses)}"]
    if release not in oses[os_name]:
        return [f"release: release '{release}' of {os_name} is not supported; supported: {fmt(oses[os_name])}"]
    if mode not in datastores.MODES:
        return [f"mode: mode '{mode}' is not supported; supported: {fmt(datastores.MODES)}"]
    table: Mapping[str, Any]
    if mode == "container":
        if os_name not in datastores.CONTAINER_ENGINES:
            return [f"mode: container mode is not supported on {os_name}; use mode package, or an os of:"
                    f" {fmt(sorted(datastores.CONTAINER_ENGINES))}"]
        table = datastores.CONTAINER_VERSIONS
    else:
        table = datastores.PACKAGE_DATASTORES.get((os_name, release), {})
    if datastore not in table:
        return [f"datastore: datastore '{datastore}' is not supported in {mode} mode on {os_name} {release};"
                f" supported: {fmt(sorted(table))}"]
    if version not in table[datastore]:
        return [f"datastore_version: {datastore} version '{version}' is not supported in {mode} mode on"
                f" {os_name} {release}; supported: {fmt(table[datastore])}"]
    return []


def entry_problems(entry: Any) -> list[str]:
    """What is wrong with one matrix entry, each as ``<key>: <what is wrong>; <what to do>``."""
    if not isinstance(entry, dict):
        return [f"must be a mapping (a Trove entry with os/release/datastore/datastore_version/mode, or a plain"
                f" one with name/elements), got {entry!r}"]
    trove = bool(entry.get("os"))
    known = TROVE_KEYS if trove else PLAIN_KEYS
    kind = "a Trove entry" if trove else "a plain entry (no 'os')"
    problems = [_unknown_key_problem(str(key), known, kind) for key in sorted(map(str, entry)) if key not in known]
    if trove:
        problems += _trove_problems(entry)
    else:
        for key in ("name", "elements"):
            if not entry.get(key):
                problems.append(f"{key}: missing; a plain entry (no 'os') needs name and elements,"
                                " or give os/release/datastore/datastore_version/mode for a Trove image")
    if entry.get("name") not in (None, ""):
        name_problem = image_name_problem(entry.get("name"))
        if name_problem:
            problems.append(f"name: {name_problem}")
    for key in _LIST_KEYS:
        value = entry.get(key)
        if value is not None and (isinstance(value, str) or not isinstance(value, (list, tuple))):
            problems.append(f"{key}: {value!r} is not a list; write it as a YAML list, e.g. [{value!r}]")
    for key in _MAP_KEYS:
        value = entry.get(key)
        if value is not None and not isinstance(value, dict):
            problems.append(f"{key}: {value!r} is not a mapping; write it as KEY: value lines")
    size = _size_problem(entry.get("size"))
    if size:
        problems.append(size)
    if entry.get("compress") is not None and _bool_value(entry.get("compress")) is None:
        problems.append(_COMPRESS_PROBLEM.format(entry.get("compress")))
    return problems


def check_matrix(entries: Any, option: str = MATRIX_OPTION) -> list[dict[str, Any]]:
    """Refuse every bad matrix entry at once, before any stage runs; return the entries.

    Each problem is one line ``build_guest_images[2] (name): <key>: <what is wrong>; <what to do>``.
    """
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise GuestMatrixError(f"{option}: must be a list of entries, got {type(entries).__name__}")
    lines = [
        f"{matrix_label(entry, index, option)}: {problem}"
        for index, entry in enumerate(entries)
        for problem in entry_problems(entry)
    ]
    if lines:
        raise GuestMatrixError("\n".join(lines))
    return list(entries)
