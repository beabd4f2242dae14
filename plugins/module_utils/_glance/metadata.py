# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glance image metadata as pure logic: defaults, comparison, JSON patches, rotation choice.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Sequence
from typing import Any

Image = dict[str, Any]

# Attributes Glance owns or that are not free-form properties.
CORE_ATTRIBUTES = frozenset([
    "id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo", "os_hash_value", "owner",
    "size", "virtual_size", "min_ram", "min_disk", "created_at", "updated_at", "disk_format",
    "container_format", "tags", "self", "file", "schema", "direct_url", "locations", "os_hidden", "stores",
])
# Attributes the module may set and later change.
MUTABLE_ATTRIBUTES = ("name", "visibility", "protected", "min_disk", "min_ram")

FAMILY_TAG_PREFIX = "family:"

# Set on every record this collection creates, at create time: ``<host>:<pid>`` of the task that
# uploads into it. A record that is not active and carries it is an upload of this collection; one
# whose task is gone (same host, process ended; other host, older than STALE_FOREIGN_UPLOAD) is
# left over from an outage and a later run of the family deletes it. Records without it (an
# operator's own queued image) are never touched.
UPLOAD_MARKER = "dbaas_guest_images_upload"
STALE_FOREIGN_UPLOAD = 3600
# Statuses of a record whose data is not (or not yet) usable.
UNFINISHED_STATUSES = frozenset(["queued", "saving", "uploading", "importing", "killed"])

# Python 3.9 has no datetime.UTC.
UTC = datetime.timezone(datetime.timedelta(0))

# ``<name>-<UTC creation time>``: the unique name of an image within its family (option unique_name).
UNIQUE_SUFFIX = re.compile(r"-(\d{14})$")

# Glance's own hashing_algorithm default: the one of images that carry no os_hash_algo.
GLANCE_HASH_ALGORITHM = "sha512"

# What Glance 33 gives a new image for the attributes a create request leaves out
# (check mode predicts the image with them).
GLANCE_CREATE_DEFAULTS = {"visibility": "shared", "min_disk": 0, "min_ram": 0, "protected": False}

# Debian-style architecture names (DIB's ``-a``) to the names Nova's filters and libosinfo use.
ARCHITECTURES = {
    "amd64": "x86_64", "x86_64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64",
    "ppc64el": "ppc64le", "ppc64le": "ppc64le", "s390x": "s390x", "i386": "i686",
}

# Hints for a KVM cloud booting a DIB-built Linux guest (virtio everywhere, BIOS boot as the
# `vm` element builds it, a virtio RNG so database guests do not starve for entropy early on).
HARDWARE_DEFAULTS = {
    "hw_disk_bus": "virtio",
    "hw_vif_model": "virtio",
    "hw_scsi_model": "virtio-scsi",
    "hw_rng_model": "virtio",
    "hw_video_model": "virtio",
    "hw_firmware_type": "bios",
    "hw_qemu_guest_agent": "no",
    "os_type": "linux",
}


def family_tag(family: str | None) -> str | None:
    return FAMILY_TAG_PREFIX + family if family else None


def property_value(value: Any) -> str:
    """Glance stores extra properties as strings; booleans in the lower-case form Nova reads."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def default_properties(os_distro: str | None = None, os_version: str | None = None, arch: str | None = None,
                       datastore: str | None = None, datastore_version: str | None = None,
                       fingerprint: str | None = None, hardware: bool = True,
                       qemu_guest_agent: bool | None = None) -> dict[str, str]:
    """Properties a Trove guest image should carry; ``None`` inputs are left out."""
    props = dict(HARDWARE_DEFAULTS) if hardware else {}
    if qemu_guest_agent is not None:
        props["hw_qemu_guest_agent"] = "yes" if qemu_guest_agent else "no"
    if arch:
        props["architecture"] = ARCHITECTURES.get(arch, arch)
        props["hw_architecture"] = props["architecture"]
    if os_distro:
        props["os_distro"] = os_distro.lower()
    if os_version is not None:
        props["os_version"] = str(os_version)
    if datastore:
        props["trove_datastore"] = datastore
    if datastore_version is not None:
        props["trove_datastore_version"] = str(datastore_version)
    if fingerprint:
        props["build_fingerprint"] = fingerprint
    return props


def split_image(raw: Image) -> tuple[Image, Image]:
    """Glance's flat image JSON -> ``(core attributes, extra properties)``."""
    core = {k: v for k, v in raw.items() if k in CORE_ATTRIBUTES}
    props = {k: v for k, v in raw.items() if k not in CORE_ATTRIBUTES}
    return core, props


def normalize_image(raw: Image) -> Image:
    """The image as the modules return it: core attributes plus a ``properties`` dict."""
    core, props = split_image(raw)
    result = {key: core.get(key) for key in (
        "id", "name", "status", "visibility", "protected", "disk_format", "container_format", "size",
        "virtual_size", "min_disk", "min_ram", "checksum", "os_hash_algo", "os_hash_value", "owner",
        "created_at", "updated_at")}
    result["tags"] = sorted(core.get("tags") or [])
    result["properties"] = dict(sorted(props.items()))
    return result


def desired_attributes(name: str | None = None, visibility: str | None = None, protected: bool | None = None,
                       min_disk: int | None = None, min_ram: int | None = None) -> dict[str, Any]:
    attrs = dict(name=name, visibility=visibility, protected=protected, min_disk=min_disk, min_ram=min_ram)
    return {k: v for k, v in attrs.items() if v is not None}


def metadata_patch(image: Image, attributes: dict[str, Any], properties: dict[str, Any],
                   tags: Sequence[str]) -> list[dict[str, Any]]:
    """JSON-patch operations turning ``image`` (Glance's flat JSON) into the wanted metadata.

    Only what is given is managed: other properties and tags are left alone.
    """
    ops: list[dict[str, Any]] = []
    for key in MUTABLE_ATTRIBUTES:
        if key in attributes and image.get(key) != attributes[key]:
            ops.append({"op": "replace", "path": "/" + key, "value": attributes[key]})
    for key in sorted(properties):
        value = property_value(properties[key])
        if key not in image:
            ops.append({"op": "add", "path": "/" + key, "value": value})
        elif image[key] != value:
            ops.append({"op": "replace", "path": "/" + key, "value": value})
    have = list(image.get("tags") or [])
    want = have + [t for t in tags if t not in have]
    if want != have:
        ops.append({"op": "replace", "path": "/tags", "value": want})
    return ops


def apply_patch(image: Image, ops: Iterable[dict[str, Any]]) -> Image:
    """What ``image`` looks like after ``ops`` (for check mode and diffs)."""
    result = dict(image)
    for op in ops:
        result[op["path"][1:]] = op["value"]
    return result


def diff_view(image: Image | None) -> Image:
    """A stable, secret-free view of an image's metadata for Ansible's diff output."""
    if not image:
        return {}
    view = normalize_image(image)
    for key in ("status", "created_at", "updated_at", "owner", "virtual_size", "checksum"):
        view.pop(key, None)
    return view


def created_stamp(created_at: str | None, now: datetime.datetime | None = None) -> str:
    """``YYYYmmddHHMMSS`` (UTC) of Glance's ``created_at`` (``2026-01-02T03:04:05Z``), else of ``now``."""
    if created_at:
        digits = re.sub(r"\D", "", str(created_at))[:14]
        if len(digits) == 14:
            return digits
    moment = now or datetime.datetime.now(UTC)
    return moment.strftime("%Y%m%d%H%M%S")


def unique_name(base: str, image: Image | None = None, now: datetime.datetime | None = None) -> str:
    """The name of ``image`` (or of one created ``now``) in a family whose images are named ``base-<time>``.

    An image already named ``base-<14 digits>`` keeps its name; any other (an image published before
    unique names, or under another name) gets ``base-`` and its own creation time.
    """
    if image is not None:
        current = str(image.get("name") or "")
        if current.startswith(base + "-") and UNIQUE_SUFFIX.fullmatch(current[len(base):]):
            return current
        return f"{base}-{created_stamp(image.get('created_at'), now)}"
    return f"{base}-{created_stamp(None, now)}"


def upload_marker(host: str, pid: int) -> str:
    return f"{host}:{pid}"


def stale_uploads(images: Iterable[Image], host: str, alive: Any, now: datetime.datetime | None = None,
                  ) -> tuple[list[Image], list[tuple[Image, str]]]:
    """Unfinished records this collection created whose task is gone: ``(stale, busy)``.

    ``alive(pid)`` tells whether a process of this host still runs. ``busy`` lists the unfinished
    records of a task that may still be uploading, with the reason. Records without the marker are
    in neither list.
    """
    moment = now or datetime.datetime.now(UTC)
    stale: list[Image] = []
    busy: list[tuple[Image, str]] = []
    for image in images:
        marker = image.get(UPLOAD_MARKER)
        if not marker or image.get("status") not in UNFINISHED_STATUSES:
            continue
        owner_host, _sep, pid_text = str(marker).rpartition(":")
        if owner_host == host and pid_text.isdigit():
            if alive(int(pid_text)):
                busy.append((image, f"upload in progress (process {pid_text} of this host)"))
            else:
                stale.append(image)
            continue
        age = _age_seconds(image.get("updated_at") or image.get("created_at"), moment)
        if age is None or age >= STALE_FOREIGN_UPLOAD:
            stale.append(image)
        else:
            busy.append((image, f"upload from {owner_host or 'another host'} started {int(age)}s ago"))
    return stale, busy


def _age_seconds(stamp: Any, now: datetime.datetime) -> float | None:
    try:
        moment = datetime.datetime.strptime(str(stamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return (now - moment).total_seconds()


def spare_reason(image: Image, referenced_ids: Iterable[str] = (), owner: str | None = None) -> str | None:
    """Why rotation (or a rollback) must not delete ``image``; ``None`` when it may."""
    if image.get("protected"):
        return "protected"
    if image.get("id") in set(referenced_ids or ()):
        return "referenced by a Trove datastore version"
    if owner and image.get("owner") and image.get("owner") != owner:
        return "owned by another project"
    if image.get("status") not in (None, "active"):
        return "not active"
    return None


def newest_active(images: Iterable[Image]) -> Image | None:
    """The image Trove's ``image_tags`` selection would pick among ``images``: newest active first."""
    active = [i for i in images if i.get("status") == "active"]
    return max(active, key=lambda i: (i.get("created_at") or "", i.get("id") or ""), default=None)


def select_for_rotation(images: Iterable[Image], keep: int | None, current_id: str | None = None,
                        referenced_ids: Iterable[str] = (), owner: str | None = None,
                        ) -> tuple[list[Image], list[tuple[Image, str]]]:
    """Which images of one family to delete so that the ``keep`` newest remain.

    Returns ``(delete, spared)``; ``spared`` lists ``(image, reason)`` for old images kept anyway:
    protected, still referenced (by Trove or the caller), owned by another project, or not active.
    The image just published (``current_id``) is always kept and counts towards ``keep``; only
    active images count, and an image that is not active is never deleted here (an operator's
    queued image is not ours to judge; this collection's own unfinished uploads are cleaned by
    ``stale_uploads``).
    """
    if keep is None:
        return [], []
    referenced = set(referenced_ids or ())
    ordered = sorted(images, key=lambda i: (i.get("created_at") or "", i.get("id") or ""), reverse=True)
    if current_id:
        ordered = ([i for i in ordered if i.get("id") == current_id]
                   + [i for i in ordered if i.get("id") != current_id])
    delete: list[Image] = []
    spared: list[tuple[Image, str]] = []
    kept = 0
    for image in ordered:
        if image.get("id") == current_id:
            kept += 1
            continue
        if image.get("status") not in (None, "active"):
            spared.append((image, "not active"))
            continue
        if kept < keep:
            kept += 1
            continue
        reason = spare_reason(image, referenced, owner)
        if reason:
            spared.append((image, reason))
        else:
            delete.append(image)
    return delete, spared


def referenced_by_tags(images: Iterable[Image], tag_sets: Iterable[Iterable[str]]) -> set[str]:
    """Image ids Trove would pick for datastore versions that name images by tags:
    the newest active image carrying all tags of a set."""
    ids: set[str] = set()
    images = list(images)
    for tags in tag_sets:
        wanted = set(tags or [])
        if not wanted:
            continue
        matches = [i for i in images if i.get("status") == "active" and wanted <= set(i.get("tags") or [])]
        if matches:
            ids.add(max(matches, key=lambda i: i.get("created_at") or "")["id"])
    return ids
