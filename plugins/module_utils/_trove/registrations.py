# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Published images -> the trove_datastore_version option sets of the register stage.

PRIVATE to the collection: no compatibility promise outside it.

The input is the publish stage's ``publish_results`` (or a list of the same
shape); every refusal names the item, the key and what to write instead,
before Trove is asked anything.

In check mode the publish stage uploads nothing, so an image it would upload
has no id yet (``would_upload: true``, ``image_id: null``). Only then, and
only in check mode, an item may lack its id: its entry carries
``image_to_upload`` (the image's name) instead of ``image``, and
trove_datastore_version predicts the version pointing at that image without
looking it up in Glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# The one shape of an item: what the publish stage leaves, plus the optional
# register settings of one image.
REQUIRED_KEYS = ("image_id", "trove_datastore", "trove_datastore_version")
OPTIONAL_KEYS = ("disk_format", "trove_version", "trove_manager", "default", "active")
PUBLISH_KEYS = ("name", "image_name", "path", "os_hash_value", "uploaded", "would_upload", "changed", "deleted",
                "duration")
KNOWN_KEYS = REQUIRED_KEYS + OPTIONAL_KEYS + PUBLISH_KEYS

# Spellings older releases of the role took; named in the refusal so the fix is obvious.
RENAMED_KEYS = {
    "id": "image_id",
    "image": "image_id",
    "datastore": "trove_datastore",
    "datastore_version": "trove_datastore_version",
    "version": "trove_version",
    "manager": "trove_manager",
}


class RegistrationError(ValueError):
    """An item of ``register_images`` that cannot be registered."""


def _label(option: str, index: int, item: Any) -> str:
    name = item.get("name") if isinstance(item, dict) else None
    return f"{option}[{index}]" + (f" ({name})" if name else "")


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def _flag(value: Any, where: str, key: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise RegistrationError(f"{where}: {key}: {value!r} is not a boolean; write true or false")


def registrations(images: Sequence[Any], disk_formats: Sequence[str], default: bool, active: bool,
                  option: str = "register_images", check_mode: bool = False) -> list[dict[str, Any]]:
    """One ``{datastore, name, version, manager, image, default, active}`` per image to register.

    Items without ``trove_datastore`` (plain images) and items whose
    ``disk_format`` is not in ``disk_formats`` are left out; a datastore
    version gets at most one image. In check mode an item that would be
    uploaded (``would_upload``) and so has no id yet gets ``image: None`` and
    ``image_to_upload``: the name of the image the real run uploads.
    """
    if not isinstance(images, (list, tuple)):
        raise RegistrationError(f"{option} must be a list of published images (publish_results), "
                                f"got {type(images).__name__}")
    entries: list[dict[str, Any]] = []
    for index, item in enumerate(images):
        where = _label(option, index, item)
        if not isinstance(item, dict):
            raise RegistrationError(f"{where}: must be a mapping like the items of publish_results, got {item!r}")
        for key in sorted(item):
            if key in RENAMED_KEYS:
                raise RegistrationError(f"{where}: {key}: this key is spelled '{RENAMED_KEYS[key]}' now; "
                                        f"rename it")
            if key not in KNOWN_KEYS:
                raise RegistrationError(f"{where}: {key}: unknown key; known keys: {', '.join(KNOWN_KEYS)}")
        datastore = _text(item.get("trove_datastore"))
        if not datastore:
            continue
        disk_format = _text(item.get("disk_format"))
        if disk_format and disk_format not in disk_formats:
            continue
        image_id = _text(item.get("image_id"))
        name = _text(item.get("trove_datastore_version"))
        would_upload = item.get("would_upload") is not None and _flag(item["would_upload"], where, "would_upload")
        if would_upload and not image_id and name:
            if not check_mode:
                raise RegistrationError(
                    f"{where}: would_upload is true and image_id is empty: only a check-mode run of the publish "
                    "stage leaves such an item, and this run is not in check mode; register the publish_results "
                    "of a real run")
            image_id = ""
        elif not image_id or not name:
            missing = " and ".join(k for k, v in (("image_id", image_id), ("trove_datastore_version", name)) if not v)
            raise RegistrationError(
                f"{where}: the image for datastore '{datastore}' needs an image id (image_id) and a datastore "
                f"version name (trove_datastore_version); {missing} is empty")
        number = _text(item.get("trove_version")) or None
        manager = _text(item.get("trove_manager")) or None
        entry: dict[str, Any] = {
            "datastore": datastore,
            "name": name,
            "version": number,
            "manager": manager,
            "image": image_id or None,
            "default": default if item.get("default") is None else _flag(item["default"], where, "default"),
            "active": active if item.get("active") is None else _flag(item["active"], where, "active"),
        }
        if not image_id:
            entry["image_to_upload"] = _text(item.get("name")) or f"{datastore}/{name}"
        entries.append(entry)
    keys = [f"{e['datastore']}/{e['name']}" for e in entries]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise RegistrationError(
            f"{option}: several images for one datastore version ({', '.join(repeated)}) among "
            f"{', '.join(keys)}; a version points at one image: publish one disk format "
            "(register_disk_formats) or one image per datastore version")
    return entries


def registration_results(results: Sequence[Any], entry_key: str) -> list[dict[str, Any]]:
    """The role's ``register_results`` rows from the looped module results (each holds its entry at ``entry_key``)."""
    rows: list[dict[str, Any]] = []
    for result in results:
        entry = result.get(entry_key) or {}
        version = result.get("version") or {}
        row = {
            "datastore": entry.get("datastore"),
            "name": entry.get("name"),
            "version": version.get("version") or entry.get("version"),
            "image_id": result.get("image_id") or entry.get("image"),
            "version_id": version.get("id"),
            "action": result.get("action") or "none",
            "changed": bool(result.get("changed")),
            "duration": result.get("duration"),
        }
        if entry.get("image_to_upload"):
            # Check mode: the version would point at this image, uploaded by the real run.
            row["image_to_upload"] = entry["image_to_upload"]
        rows.append(row)
    return rows
