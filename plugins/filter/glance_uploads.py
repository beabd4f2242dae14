# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the publish stage: build results and composed specs in, glance_image option sets out.

``build_results | dbaas.guest_images.glance_uploads(specs, settings)``
    one dbaas.guest_images.glance_image option set per output file to upload.
``glance_results | dbaas.guest_images.glance_publish_results``
    the publish stage's result rows (the register stage's input) from the
    registered results of a glance_image loop over those option sets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document as sbom_document
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain

# diskimage-builder's distribution elements: the one an image uses names its os_distro.
OS_ELEMENT = re.compile(
    r"^(debian|ubuntu|centos|centos-stream|rocky|fedora|rhel|almalinux|opensuse|openeuler)(-minimal)?$"
)
# diskimage-builder builds for this architecture unless told otherwise (dib_image's ``arch``).
DIB_ARCH = "amd64"
# The output format that keeps the image's name; other formats get "-<format>" appended.
NAMED_FORMAT = "qcow2"

# Glance image properties of the image's CycloneDX SBOM (the build report names its path).
SBOM_SHA256_PROPERTY = "dbaas_sbom_sha256"
SBOM_SUMMARY_PROPERTY = "dbaas_sbom_summary"

SETTINGS = ("formats", "image_overrides", "keep", "visibility", "protected", "tags", "properties", "os_versions")


def _codenames(extra: Mapping[str, Any]) -> dict[str, str]:
    """DIB_RELEASE code names to os_version: the collection's release table, then ``extra`` over it."""
    names = {str(row["codename"]): str(release) for (_os, release), row in releases.RELEASES.items()
             if row.get("codename")}
    names.update({str(k): str(v) for k, v in extra.items()})
    return names


def _os_element(elements: Any) -> str:
    for element in elements or []:
        match = OS_ELEMENT.match(str(element))
        if match:
            return match.group(1)
    return ""


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _upload(row: Mapping[str, Any], output: Mapping[str, Any], spec: Mapping[str, Any],
            settings: Mapping[str, Any], codenames: Mapping[str, str]) -> dict[str, Any]:
    override: Mapping[str, Any] = (settings.get("image_overrides") or {}).get(row["name"]) or {}
    env: Mapping[str, Any] = spec.get("environment") or {}
    trove: Mapping[str, Any] = spec.get("trove") or {}
    fmt = str(output["format"])
    name = str(row["name"]) if fmt == NAMED_FORMAT else f"{row['name']}-{fmt}"

    def pick(key: str, derived: Any) -> Any:
        return override.get(key, derived)

    release = _text(env.get("DIB_RELEASE"))
    os_distro = pick("os_distro", trove.get("os") or _os_element(spec.get("elements")))
    os_version = pick("os_version", trove.get("release") if trove.get("release") is not None
                      else codenames.get(release, release))
    upload: dict[str, Any] = {
        "name": name,
        "filename": output["path"],
        "disk_format": fmt,
        "family": pick("family", name),
        "architecture": spec.get("arch") or DIB_ARCH,
        "tags": list(settings.get("tags") or []) + list(override.get("tags") or []),
        "properties": dict(settings.get("properties") or {}, **(override.get("properties") or {})),
        "os_distro": _text(os_distro),
        "os_version": _text(os_version),
        "trove_datastore": _text(pick("trove_datastore", trove.get("datastore") or env.get("DBAAS_DATASTORE"))),
        "trove_datastore_version": _text(pick("trove_datastore_version", trove.get("datastore_version")
                                              or env.get("DBAAS_DATASTORE_VERSION"))),
        "visibility": _text(pick("visibility", settings.get("visibility"))),
    }
    if output.get("sha256"):
        upload["checksum"] = f"sha256:{output['sha256']}"
    if row.get("fingerprint"):
        upload["build_fingerprint"] = str(row["fingerprint"])
    sbom = row.get("sbom") or {}
    if sbom.get("sha256"):
        # What is inside, where people look: the SBOM's hash and its package counts (operator values win).
        upload["properties"] = dict({SBOM_SHA256_PROPERTY: str(sbom["sha256"]),
                                     SBOM_SUMMARY_PROPERTY: sbom_document.summary_text(sbom.get("summary") or {})},
                                    **upload["properties"])
    for key, derived in (("min_disk", spec.get("size")), ("min_ram", None)):
        value = pick(key, derived)
        if value is not None and value != "":
            upload[key] = value
    if _truthy(pick("protected", settings.get("protected"))):
        upload["protected"] = True
    where = (f"image_overrides['{row['name']}'].keep (publish_image_overrides)" if "keep" in override
             else "keep (publish_keep)")
    keep = _count(pick("keep", settings.get("keep")), where)
    if keep > 0:
        upload["keep"] = keep
    # Options left empty are not given to glance_image (its own defaults apply).
    return {k: v for k, v in upload.items() if v != ""}


def _count(value: Any, where: str) -> int:
    """``value`` as a whole number, 0 when it is none or empty (the role's "keep all")."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return 0
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0 or isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise AnsibleFilterError(f"glance_uploads: {where} is {value!r}; write 0 (or leave it empty) to keep "
                                 "every image of the family, or the number of newest images to keep (1 or more)")
    return number


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on", "y", "t")
    return bool(value)


def glance_uploads(build_results: Any, specs: Any = None, settings: Any = None) -> list[dict[str, Any]]:
    """The glance_image option sets of every built output whose format is in ``settings.formats``."""
    rows = _plain(build_results or [])
    spec_list = _plain(specs or [])
    given = _plain(settings or {})
    unknown = sorted(set(given) - set(SETTINGS))
    if unknown:
        raise AnsibleFilterError(f"glance_uploads: unknown setting(s) {', '.join(unknown)}; "
                                 f"known: {', '.join(SETTINGS)}")
    formats = given.get("formats")
    if formats is None:
        formats = [NAMED_FORMAT]
    codenames = _codenames(given.get("os_versions") or {})
    by_name: dict[str, Mapping[str, Any]] = {}
    for spec in spec_list:
        if isinstance(spec, dict) and spec.get("name") is not None:
            by_name.setdefault(str(spec["name"]), spec)
    uploads = []
    for row in rows:
        if not isinstance(row, dict) or row.get("status", "built") == "failed":
            continue
        if "name" not in row:
            raise AnsibleFilterError(f"glance_uploads: a build result has no 'name': {row!r}")
        for output in row.get("outputs") or []:
            if not isinstance(output, dict) or "format" not in output or "path" not in output:
                raise AnsibleFilterError(
                    f"glance_uploads: an output of build result '{row['name']}' lacks 'path' or 'format': {output!r}")
            if output["format"] not in formats:
                continue
            uploads.append(_upload(row, output, by_name.get(str(row["name"]), {}), given, codenames))
    return uploads


def glance_publish_results(glance_results: Any) -> list[dict[str, Any]]:
    """One publish_results row per glance_image result of a loop over ``glance_uploads`` option sets."""
    rows = []
    for result in _plain(glance_results or []):
        upload: Mapping[str, Any] | None = result.get(result.get("ansible_loop_var") or "item")
        if not isinstance(upload, dict):
            raise AnsibleFilterError("glance_publish_results: a result does not carry its glance_uploads option set")
        image = result.get("image") or {}
        row = {
            "name": upload["name"],
            "image_id": image.get("id"),
            "image_name": image.get("name"),
            "path": upload["filename"],
            "disk_format": upload["disk_format"],
            "trove_datastore": _text(upload.get("trove_datastore")),
            "trove_datastore_version": _text(upload.get("trove_datastore_version")),
            "os_hash_value": image.get("os_hash_value"),
            "uploaded": result.get("uploaded"),
            "changed": result.get("changed"),
            "deleted": [d.get("id") for d in result.get("deleted") or []],
            "duration": result.get("duration"),
        }
        if result.get("would_upload"):
            # Check mode: this image has no id yet; register predicts the version pointing at it.
            row["would_upload"] = True
        rows.append(row)
    return rows


class FilterModule:
    """dbaas.guest_images publish stage filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "glance_uploads": glance_uploads,
            "glance_publish_results": glance_publish_results,
        }
