# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What to do to one Trove datastore version, and doing it: find, plan, payloads, predicted result.

PRIVATE to the collection: no compatibility promise outside it.

A version is identified, as Trove does, by datastore name, version name and
version number (the number defaults to the name). The wanted state (``want``)
comes from ``request.DatastoreVersionRequest.want``; keys whose value is
``None`` are not managed (Trove's current value is kept).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.admin import TroveAdmin, TroveError

# Datastore managers Trove 26 has configuration groups for. Trove answers an unknown
# manager with an internal error (HTTP 500), so a manager is never guessed outside these.
KNOWN_MANAGERS = ("cassandra", "couchbase", "couchdb", "db2", "mariadb", "mongodb", "mysql", "percona",
                  "postgresql", "pxc", "redis", "vertica")

# Fields of a version that this collection manages, in the order shown in diffs.
MANAGED_FIELDS = ("datastore_manager", "image", "image_tags", "active", "default", "packages",
                  "registry_ext", "repl_strategy")

Version = dict[str, Any]


def find_version(versions: list[Version], datastore: str, name: str, number: str | None = None) -> Version | None:
    """The version of ``datastore`` named ``name`` (and numbered ``number``), or ``None``.

    Trove allows one name with several numbers; without ``number``, a name that
    matches more than one version is an error naming the numbers to choose from.
    """
    matches = [v for v in versions if v.get("datastore_name") == datastore and v.get("name") == name]
    if number is not None:
        matches = [v for v in matches if (v.get("version") or v.get("name")) == number]
    if len(matches) > 1:
        numbers = sorted(str(v.get("version")) for v in matches)
        raise TroveError(f"Datastore '{datastore}' has {len(matches)} versions named '{name}' (numbers "
                         f"{', '.join(numbers)}): set option 'version' to the one to manage.")
    return matches[0] if matches else None


def _differs(field: str, current: Any, wanted: Any) -> bool:
    if field in ("image_tags", "packages"):
        return sorted(current or []) != sorted(wanted or [])
    return bool(current != wanted)


def update_payload(current: Version, want: Version) -> dict[str, Any]:
    """The PATCH body that brings ``current`` to ``want``; empty when nothing differs."""
    body: dict[str, Any] = {}
    for field in ("datastore_manager", "active", "packages", "registry_ext", "repl_strategy"):
        if want.get(field) is not None and _differs(field, current.get(field), want[field]):
            body[field] = want[field]
    if want.get("image"):
        if current.get("image") != want["image"]:
            body["image"] = want["image"]
    elif want.get("image_tags") and (
            current.get("image") or _differs("image_tags", current.get("image_tags"), want["image_tags"])):
        # Trove clears the image id when only tags are sent: tags then decide.
        body["image_tags"] = want["image_tags"]
    if want.get("default") is not None and bool(current.get("default")) != want["default"]:
        body["default"] = want["default"]
    return body


def create_payload(want: Version) -> dict[str, Any]:
    """The POST body that creates ``want`` (and its datastore, when Trove has none of that name)."""
    if not want.get("image") and not want.get("image_tags"):
        raise TroveError(f"Datastore version {want['datastore_name']}/{want['name']} does not exist yet: give "
                         "'image' (Glance id or name) or 'image_tags' to create it.")
    manager = want.get("datastore_manager")
    if not manager:
        # Trove's manager names match the usual datastore names (mysql, mariadb, postgresql, ...).
        if want["datastore_name"] not in KNOWN_MANAGERS:
            raise TroveError(f"Option 'manager' is required to create datastore version {want['datastore_name']}/"
                             f"{want['name']}: the datastore name is not a Trove datastore manager; give one of "
                             f"{', '.join(KNOWN_MANAGERS)}.")
        manager = want["datastore_name"]
    version: dict[str, Any] = {
        "datastore_name": want["datastore_name"],
        "name": want["name"],
        "version": want["version"],
        "datastore_manager": manager,
        "active": True if want.get("active") is None else want["active"],
        "default": bool(want.get("default")),
    }
    if want.get("image"):
        version["image"] = want["image"]
    else:
        version["image_tags"] = want["image_tags"]
    for field in ("packages", "registry_ext", "repl_strategy"):
        if want.get(field):
            version[field] = want[field]
    return {"version": version}


def predicted(current: Version | None, want: Version, body: dict[str, Any]) -> Version:
    """How a version will look after ``body`` (create body or PATCH body) is applied."""
    after = dict(current or {})
    if current is None:
        after.update(body["version"])
        after.setdefault("image", None)
        after.setdefault("image_tags", [])
        after.setdefault("packages", [])
        after.setdefault("registry_ext", None)
        after.setdefault("repl_strategy", None)
        return after
    after.update(body)
    if "image_tags" in body and "image" not in body:
        after["image"] = None
    return after


def diff_view(version: Version | None) -> dict[str, Any]:
    """The part of a version shown in ``diff`` (before/after)."""
    if version is None:
        return {}
    view = {"datastore": version.get("datastore_name"), "name": version.get("name"),
            "version": version.get("version")}
    for field in MANAGED_FIELDS:
        value = version.get(field)
        view[field] = sorted(value) if isinstance(value, list) else value
    return view


def plan(current: Version | None, want: Version, state: str = "present") -> tuple[str, dict[str, Any] | None]:
    """What to do: ``(action, body)`` with action one of ``create``, ``update``, ``delete``, ``none``."""
    if state == "absent":
        return ("delete", None) if current else ("none", None)
    if current is None:
        return "create", create_payload(want)
    body = update_payload(current, want)
    return ("update", body) if body else ("none", None)


def ensure_version(admin: TroveAdmin, want: Version, state: str = "present",
                   check_mode: bool = False) -> dict[str, Any]:
    """Bring one datastore version to ``want``; returns the module result (``changed``, ``diff``, ...)."""
    label = f"{want['datastore_name']}/{want['name']}"
    number = want.get("version")
    current = find_version(admin.list_versions(), want["datastore_name"], want["name"], number)
    action, body = plan(current, want, state)
    if action == "none":
        return {"changed": False, "action": action, "version": current,
                "diff": {"before": diff_view(current), "after": diff_view(current)}}
    if action == "delete":
        if current is None:  # plan() deletes only what exists
            raise AssertionError(f"no version {label} to delete")
        if not check_mode:
            admin.delete_version(current["id"], label)
        return {"changed": True, "action": action, "version": None,
                "diff": {"before": diff_view(current), "after": {}}}
    if body is None:  # plan() gives a body for create and update
        raise AssertionError(f"no request body for {action} of {label}")
    after: Version | None = predicted(current, want, body)
    if not check_mode:
        if action == "create":
            try:
                admin.create_version(body)
            except TroveError as exc:
                if exc.status == 500:
                    # Trove's usual internal error here is a manager it has no configuration for.
                    raise TroveError(f"{exc.msg} Check that manager '{body['version']['datastore_manager']}' is "
                                     "a datastore manager this Trove is configured for (see its log).",
                                     status=exc.status, **exc.details) from None
                raise
            after = find_version(admin.list_versions(), want["datastore_name"], want["name"], number)
            if after is None:
                raise TroveError(f"Trove accepted datastore version {label} but does not list it afterwards.")
        else:
            if current is None:  # plan() updates only what exists
                raise AssertionError(f"no version {label} to update")
            admin.update_version(current["id"], body, label)
            after = admin.get_version(current["id"])
    return {"changed": True, "action": action, "version": after, "request": body,
            "diff": {"before": diff_view(current), "after": diff_view(after)}}
