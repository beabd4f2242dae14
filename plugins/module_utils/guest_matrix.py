# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Turn an image-matrix entry into the ``dib_image`` option set.

A Trove guest image is three layers stacked in one DIB run:

* the OS layer (distribution, cloud-init, guest agent) - its elements and
  environment per os/release come from ``guest_os`` (owned by the os_layer
  role);
* the datastore layer - either a container engine plus preloaded datastore
  container images (``mode: container``, current Trove) or the database
  server from the distribution (``mode: package``, older Trove and custom
  agents);
* optional licensed packages the operator supplies
  (``DATASTORE_PKG_LOCATION``, the documented Trove practice).

Everything here is pure logic except the pre-build checks of operator files
(existence, size, sha256), which read the files where they are: on the
controller, where the filter plugin runs and from where ``dib_image`` ships
its inputs.

The tables below are the one place that says what is supported.
"""

from __future__ import annotations

import hashlib
import os
import re

try:
    import jmespath
    from jmespath import exceptions as jmespath_exceptions

    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - exercised only without jmespath
    jmespath = None
    jmespath_exceptions = None
    HAS_JMESPATH = False

try:
    from ansible_collections.dbaas.guest_images.plugins.module_utils import guest_os
except ImportError:  # pragma: no cover - guest_os ships with the collection
    guest_os = None


class GuestMatrixError(ValueError):
    """A matrix entry, a selection or an operator file cannot be used."""


# --------------------------------------------------------------------------
# Supported table (the single source of truth for the datastore layer)
# --------------------------------------------------------------------------

MODES = ("container", "package")

# Container mode: the datastore runs from a container image, so its version
# does not depend on the guest OS. Versions follow what the Trove guest agent
# knows how to drive.
CONTAINER_VERSIONS = {
    "mysql": ("5.7", "8.0", "8.4"),
    "mariadb": ("10.4", "10.5", "10.6", "10.11", "11.4"),
    "postgresql": ("12", "13", "14", "15", "16", "17"),
}

# Container engine per guest OS family: the distribution's own package.
CONTAINER_ENGINES = {
    "debian": {"engine": "docker", "packages": ("docker.io",), "service": "docker"},
    "ubuntu": {"engine": "docker", "packages": ("docker.io",), "service": "docker"},
}

# Package mode: the database server the distribution ships, so the version
# is the distribution's. (os, release) -> datastore -> version -> spec.
_MYSQL_DATA = {"service": "mysql", "data_dir": "/var/lib/mysql", "user": "mysql"}
_MARIADB_DATA = {"service": "mariadb", "data_dir": "/var/lib/mysql", "user": "mysql"}
_PG_DATA = {"service": "postgresql", "data_dir": "/var/lib/postgresql", "user": "postgres"}

PACKAGE_DATASTORES = {
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

# Package file types per OS package family, and how the element installs them.
PACKAGE_SUFFIXES = {"dpkg": (".deb",), "rpm": (".rpm",)}
OS_FAMILIES = {"debian": "dpkg", "ubuntu": "dpkg", "centos": "rpm", "rhel": "rpm", "rocky": "rpm"}

CONTAINER_TARBALL_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst")

# Our elements and the role that ships each of them (roles/<role>/files/elements).
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
    "size",
    "container_images",
    "datastore_pkg_location",
    "datastore_pkg_sha256",
)
PLAIN_KEYS = ("name", "elements", "element_paths", "environment", "packages", "formats", "size", "inputs")
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

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


# --------------------------------------------------------------------------
# OS layer (delegated to guest_os, owned by the os_layer role)
# --------------------------------------------------------------------------


def _guest_os_table() -> dict:
    table = getattr(guest_os, "RELEASES", None) if guest_os is not None else None
    if not isinstance(table, dict) or not table:
        raise GuestMatrixError(
            "the OS layer table (plugins/module_utils/guest_os.py, RELEASES) is missing; the collection is incomplete"
        )
    return table


def supported_os_releases() -> dict:
    """``{os: [release, ...]}`` of the guest OS layer."""
    result: dict = {}
    for os_name, release in _guest_os_table():
        result.setdefault(os_name, []).append(release)
    return {k: sorted(v) for k, v in sorted(result.items())}


def _os_layer(os_name: str, release: str, settings: dict, where: str) -> dict:
    """Elements and environment of the OS layer (``guest_os.os_layer``)."""
    try:
        layer = guest_os.os_layer(os_name, release, settings)
    except ValueError as exc:  # guest_os.GuestOSError
        raise GuestMatrixError(f"{where}: {exc}") from None
    return {
        "elements": [str(e) for e in layer.get("elements", ())],
        "environment": {str(k): str(v) for k, v in dict(layer.get("environment", {})).items()},
        "family": OS_FAMILIES.get(os_name, "dpkg"),
    }


def supported_table() -> list:
    """Every supported combination, one dict each (for docs and error messages)."""
    rows = []
    for os_name, releases in supported_os_releases().items():
        for release in releases:
            if os_name in CONTAINER_ENGINES:
                for datastore, versions in sorted(CONTAINER_VERSIONS.items()):
                    for version in versions:
                        rows.append(_row(os_name, release, datastore, version, "container"))
            for datastore, versions in sorted(PACKAGE_DATASTORES.get((os_name, release), {}).items()):
                for version in versions:
                    rows.append(_row(os_name, release, datastore, version, "package"))
    return rows


def _row(os_name, release, datastore, version, mode):
    return {"os": os_name, "release": release, "datastore": datastore, "datastore_version": version, "mode": mode}


def _fmt_choices(values) -> str:
    return ", ".join(str(v) for v in values) if values else "(none)"


def validate_trove_entry(entry: dict) -> tuple:
    """Check os/release/datastore/mode/version; return them normalised.

    Each refusal lists what *is* supported at the level that failed.
    """
    where = _entry_label(entry)
    for key in ("os", "release", "datastore", "datastore_version", "mode"):
        if entry.get(key) in (None, ""):
            raise GuestMatrixError(f"{where}: '{key}' is required for a Trove guest image")
    os_name = str(entry["os"])
    release = str(entry["release"])
    datastore = str(entry["datastore"])
    version = str(entry["datastore_version"])
    mode = str(entry["mode"])

    oses = supported_os_releases()
    if os_name not in oses:
        raise GuestMatrixError(f"{where}: os '{os_name}' is not supported; supported: {_fmt_choices(oses)}")
    if release not in oses[os_name]:
        raise GuestMatrixError(
            f"{where}: release '{release}' of {os_name} is not supported; supported: {_fmt_choices(oses[os_name])}"
        )
    if mode not in MODES:
        raise GuestMatrixError(f"{where}: mode '{mode}' is not supported; supported: {_fmt_choices(MODES)}")

    if mode == "container":
        if os_name not in CONTAINER_ENGINES:
            raise GuestMatrixError(
                f"{where}: container mode is not supported on {os_name}; "
                f"it is on: {_fmt_choices(sorted(CONTAINER_ENGINES))}"
            )
        datastores = CONTAINER_VERSIONS
    else:
        datastores = PACKAGE_DATASTORES.get((os_name, release), {})
    if datastore not in datastores:
        raise GuestMatrixError(
            f"{where}: datastore '{datastore}' is not supported in {mode} mode on {os_name} {release}; "
            f"supported: {_fmt_choices(sorted(datastores))}"
        )
    if version not in datastores[datastore]:
        hint = f" (package mode installs the version {os_name} {release} ships)" if mode == "package" else ""
        raise GuestMatrixError(
            f"{where}: {datastore} version '{version}' is not supported in {mode} mode on {os_name} {release}; "
            f"supported: {_fmt_choices(datastores[datastore])}{hint}"
        )
    return os_name, release, datastore, version, mode


def _entry_label(entry) -> str:
    if isinstance(entry, dict) and entry.get("name"):
        return "build_guest_images entry '{}'".format(entry["name"])
    if isinstance(entry, dict) and entry.get("os"):
        return "build_guest_images entry {}-{}-{}-{}-{}".format(
            *tuple(entry.get(k, "?") for k in ("os", "release", "datastore", "datastore_version", "mode"))
        )
    return "build_guest_images entry"


# --------------------------------------------------------------------------
# Operator files: licensed packages and container image tarballs
# --------------------------------------------------------------------------


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _check_readable_file(path: str, what: str) -> int:
    """Return the size of ``path``; refuse missing, unreadable or empty files."""
    if not os.path.exists(path):
        raise GuestMatrixError(f"{what}: {path} does not exist")
    if not os.path.isfile(path):
        raise GuestMatrixError(f"{what}: {path} is not a regular file")
    try:
        with open(path, "rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise GuestMatrixError(f"{what}: {path} cannot be read ({exc.strerror or exc})") from None
    size = os.path.getsize(path)
    if size == 0:
        raise GuestMatrixError(f"{what}: {path} is empty")
    return size


def check_package_location(location, sha256_pins=None, family: str = "dpkg", option: str = "datastore_pkg_location"):
    """Validate the licensed packages at ``location`` before the build.

    ``location`` is a package file or a folder whose package files (by
    suffix, for the image's package ``family``) are all installed. Every
    package must exist, be readable and non-empty (``family="any"`` accepts
    every package kind, for checks before the image's OS is known);
    ``sha256_pins`` maps a
    file name (or full path) to the expected sha256. A pin that matches no
    package is refused too (a typo would silently unpin the file).

    Returns ``[{path, name, size, sha256}]`` in install order (sorted names).
    """
    if location in (None, ""):
        if sha256_pins:
            raise GuestMatrixError(f"{option}_sha256 is set but {option} is not: set both or neither")
        return []
    if family == "any":
        suffixes = tuple(suffix for group in PACKAGE_SUFFIXES.values() for suffix in group)
    elif family in PACKAGE_SUFFIXES:
        suffixes = PACKAGE_SUFFIXES[family]
    else:
        raise GuestMatrixError(f"{option}: unknown package family '{family}'")
    location = str(location)
    pins = _normalise_pins(sha256_pins, option)

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

    result = []
    for path in files:
        size = _check_readable_file(path, option)
        digest = _sha256(path)
        name = os.path.basename(path)
        expected = pins.pop(name, None)
        by_path = pins.pop(path, None)
        expected = expected or by_path
        if expected and expected != digest:
            raise GuestMatrixError(
                f"{option}: sha256 of {path} is {digest}, but {option}_sha256 pins {expected}; "
                "replace the file or update the pin"
            )
        result.append({"path": path, "name": name, "size": size, "sha256": digest})
    if pins:
        raise GuestMatrixError(
            "{}_sha256 pins {}, which {} does not hold (it holds: {})".format(
                option, ", ".join(sorted(pins)), location, ", ".join(r["name"] for r in result)
            )
        )
    return result


def _package_family(name: str):
    for fam, suffixes in PACKAGE_SUFFIXES.items():
        if name.endswith(suffixes):
            return fam
    return None


def _normalise_pins(pins, option) -> dict:
    if not pins:
        return {}
    if not isinstance(pins, dict):
        raise GuestMatrixError(f"{option}_sha256 must be a mapping of file name to sha256, got {type(pins).__name__}")
    result = {}
    for name, digest in pins.items():
        digest = str(digest).strip().lower()
        if not re.match(r"^[0-9a-f]{64}$", digest):
            raise GuestMatrixError(f"{option}_sha256: pin for {name} is not a sha256 (64 hex digits): {digest}")
        result[str(name)] = digest
    return result


def check_container_images(paths, option: str = "container_images") -> list:
    """Validate container image tarballs (files, or folders of them).

    Returns ``[{path, name, size}]`` of every tarball found.
    """
    if paths in (None, "", []):
        return []
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, (list, tuple)):
        raise GuestMatrixError(f"{option} must be a list of image tarballs or folders, got {type(paths).__name__}")
    result = []
    for path in paths:
        path = str(path)
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
            size = _check_readable_file(tarball, option)
            result.append({"path": tarball, "name": os.path.basename(tarball), "size": size})
    names = [r["name"] for r in result]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise GuestMatrixError("{}: two tarballs share the name {}; rename one".format(option, ", ".join(dupes)))
    return result


# --------------------------------------------------------------------------
# Element folders of this collection
# --------------------------------------------------------------------------


def collection_root() -> str:
    """The collection's folder (checkout or installed), from this file's place."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def collection_element_paths(root=None) -> list:
    """``roles/*/files/elements`` folders of the collection, sorted."""
    roles = os.path.join(root or collection_root(), "roles")
    if not os.path.isdir(roles):
        return []
    paths = []
    for role in sorted(os.listdir(roles)):
        candidate = os.path.join(roles, role, "files", "elements")
        if os.path.isdir(candidate):
            paths.append(candidate)
    return paths


# --------------------------------------------------------------------------
# Composition
# --------------------------------------------------------------------------


def _str_list(value, field, where) -> list:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise GuestMatrixError(f"{where}: '{field}' must be a list, got {value!r}")
    return [str(v) for v in value]


def _str_dict(value, field, where) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise GuestMatrixError(f"{where}: '{field}' must be a mapping, got {value!r}")
    return {str(k): ("" if v is None else str(v)) for k, v in value.items()}


def _check_keys(entry, allowed, where, what="keys"):
    unknown = sorted(set(entry) - set(allowed))
    if unknown:
        raise GuestMatrixError(
            "{}: unknown {} {}; known: {}".format(where, what, ", ".join(unknown), ", ".join(allowed))
        )


def _check_name(name, where):
    if not _NAME_RE.match(name) or ".." in name:
        raise GuestMatrixError(
            f"{where}: name '{name}' is not usable as a file name (letters, digits, '.', '_', '-'; no '/' or '..')"
        )


def _size(value, where):
    if value in (None, ""):
        return None
    try:
        size = int(value)
    except (TypeError, ValueError):
        raise GuestMatrixError(f"{where}: 'size' must be a whole number of GiB, got {value!r}") from None
    if size < 1:
        raise GuestMatrixError(f"{where}: 'size' must be at least 1 (GiB), got {value!r}")
    return size


def default_image_name(os_name, release, datastore, version, mode) -> str:
    return f"trove-{os_name}-{release}-{datastore}-{version}-{mode}"


def compose_guest_image(entry, layers=None) -> dict:
    """Return the ``dib_image`` option set for one matrix entry.

    ``layers`` carries what earlier stages computed on the build host:
    ``wheelhouses`` (guest agent wheelhouse folder by ``<os>-<release>``,
    fact ``os_layer_wheelhouses``) or one ``wheelhouse`` for every entry,
    ``os_settings`` (``guest_os.os_layer`` settings: agent_version,
    timezone, locale, ssh_key), ``extra_ca_certs`` (build-time CA certs),
    ``environment`` (merged under everything, e.g. mirrors),
    ``element_paths``, ``inputs``, and the datastore layer's defaults
    ``pkg_location`` / ``pkg_sha256`` / ``container_images`` which apply to
    entries that do not set their own.
    """
    if not isinstance(entry, dict):
        raise GuestMatrixError(f"build_guest_images: every entry must be a mapping, got {entry!r}")
    layers = dict(layers or {})
    _check_keys(layers, LAYER_KEYS, "compose_guest_image layers")
    where = _entry_label(entry)
    base_env = _str_dict(layers.get("environment"), "environment", "compose_guest_image layers")
    base_paths = _str_list(layers.get("element_paths"), "element_paths", "compose_guest_image layers")
    base_inputs = _str_dict(layers.get("inputs"), "inputs", "compose_guest_image layers")

    if not entry.get("os"):
        return _compose_plain(entry, where, base_env, base_paths, base_inputs)

    _check_keys(entry, TROVE_KEYS, where)
    os_name, release, datastore, version, mode = validate_trove_entry(entry)
    os_settings = layers.get("os_settings") or {}
    if not isinstance(os_settings, dict):
        raise GuestMatrixError("compose_guest_image layers: 'os_settings' must be a mapping")
    os_layer = _os_layer(os_name, release, os_settings, where)
    family = os_layer["family"]

    name = str(entry.get("name") or default_image_name(os_name, release, datastore, version, mode))
    _check_name(name, where)

    elements = list(os_layer["elements"])
    environment = dict(base_env)
    environment.update(os_layer["environment"])
    inputs = dict(base_inputs)

    wheelhouses = layers.get("wheelhouses") or {}
    if not isinstance(wheelhouses, dict):
        raise GuestMatrixError(
            "compose_guest_image layers: 'wheelhouses' must be a mapping of <os>-<release> to folder"
        )
    wheelhouse = wheelhouses.get(f"{os_name}-{release}") or layers.get("wheelhouse")
    if wheelhouses and not wheelhouse:
        raise GuestMatrixError(
            f"{where}: no guest agent wheelhouse for {os_name}-{release} "
            f"(prepared: {_fmt_choices(sorted(wheelhouses))}); "
            f"add {{os: {os_name}, release: '{release}'}} to os_layer_releases"
        )
    if wheelhouse:
        inputs[INPUT_WHEELHOUSE] = str(wheelhouse)
    if layers.get("extra_ca_certs"):
        inputs[INPUT_EXTRA_CA_CERTS] = str(layers["extra_ca_certs"])

    environment["DBAAS_DATASTORE"] = datastore
    environment["DBAAS_DATASTORE_VERSION"] = version
    if mode == "container":
        engine = CONTAINER_ENGINES[os_name]
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
        spec = PACKAGE_DATASTORES[(os_name, release)][datastore][version]
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
    packages_found = check_package_location(location, pins, family=family, option=f"{where}: datastore_pkg_location")
    if packages_found:
        elements.append(LAYER_ELEMENTS["licensed"])
        inputs[INPUT_PKG_LOCATION] = str(location)
        # The element re-checks the copied files against these sums, so a file
        # replaced between this check and the build is refused too.
        environment["DATASTORE_PKG_SHA256SUMS"] = ";".join(f"{p['sha256']}  {p['name']}" for p in packages_found)

    elements.extend(_str_list(entry.get("elements"), "elements", where))
    environment.update(_str_dict(entry.get("environment"), "environment", where))
    element_paths = collection_element_paths() + base_paths
    element_paths.extend(_str_list(entry.get("element_paths"), "element_paths", where))
    formats = _str_list(entry.get("formats"), "formats", where) or list(DEFAULT_FORMATS)
    size = _size(entry.get("size"), where)

    return {
        "name": name,
        "elements": _dedupe(elements),
        "element_paths": _dedupe(element_paths),
        "environment": environment,
        "packages": _str_list(entry.get("packages"), "packages", where),
        "formats": formats,
        "size": size if size is not None else DEFAULT_TROVE_SIZE,
        "inputs": inputs,
    }


def _compose_plain(entry, where, base_env, base_paths, base_inputs) -> dict:
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
    return {
        "name": name,
        "elements": elements,
        "element_paths": _dedupe(
            collection_element_paths() + base_paths + _str_list(entry.get("element_paths"), "element_paths", where)
        ),
        "environment": environment,
        "packages": _str_list(entry.get("packages"), "packages", where),
        "formats": _str_list(entry.get("formats"), "formats", where) or list(DEFAULT_FORMATS),
        "size": _size(entry.get("size"), where),
        "inputs": inputs,
    }


def _dedupe(items) -> list:
    seen = set()
    result = []
    for item in items:
        if item not in seen:
            seen.add(item)
            result.append(item)
    return result


# --------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------


def select_guest_images(entries, expression=None, option: str = "build_guest_select") -> list:
    """Filter the matrix with a JMESPath expression (empty: every entry).

    The expression must yield entries, e.g. ``[?datastore=='mysql']``.
    """
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise GuestMatrixError(f"build_guest_images must be a list of entries, got {type(entries).__name__}")
    if expression in (None, ""):
        return list(entries)
    if not HAS_JMESPATH:
        raise GuestMatrixError(f"{option} needs the Python library jmespath on the controller (pip install jmespath)")
    try:
        selected = jmespath.search(str(expression), entries)
    except jmespath_exceptions.JMESPathError as exc:
        detail = str(exc).replace("\n", " ")
        raise GuestMatrixError(
            f"{option}: '{expression}' is not a valid JMESPath expression ({detail}); example: [?datastore=='mysql']"
        ) from None
    if selected is None:
        return []
    if not isinstance(selected, list) or not all(isinstance(item, dict) for item in selected):
        raise GuestMatrixError(
            f"{option}: '{expression}' must select matrix entries (a list of mappings), got {selected!r}; "
            "example: [?datastore=='mysql']"
        )
    return selected
