# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trove datastores and datastore versions, through Trove's management API.

openstacksdk has no proxy for Trove's admin calls, so they are made with the
connection's keystoneauth session against the catalog's ``database`` endpoint
(``{endpoint}`` is ``.../v1.0/{project_id}``):

- ``GET    {endpoint}/mgmt/datastore-versions``        every version, active or not
- ``POST   {endpoint}/mgmt/datastore-versions``        ``{"version": {...}}``; creates the datastore too
- ``PATCH  {endpoint}/mgmt/datastore-versions/{id}``   changed fields only
- ``DELETE {endpoint}/mgmt/datastore-versions/{id}``

A version is identified, as Trove does, by datastore name, version name and
version number (the number defaults to the name).

Pure logic (``want_from_params``, ``find_version``, ``plan``, payload
builders) is separate from the HTTP calls (``TroveAdmin``) so it can be unit
tested without a cloud. ``referenced_image_ids(session)`` tells image rotation
which Glance images must be kept.
"""

import json
import re

DATABASE_SERVICE_TYPE = "database"
VERSIONS_PATH = "/mgmt/datastore-versions"

# Fields of a version that this collection manages, in the order shown in diffs.
# Trove's API schema for image tags: 1-20 characters with a letter or digit; tags are
# stored comma-separated, so a comma would split one.
TAG_PATTERN = re.compile(r"^[^,]*[0-9a-zA-Z][^,]*$")

# Datastore managers Trove 26 has configuration groups for. Trove answers an unknown
# manager with an internal error (HTTP 500), so a manager is never guessed outside these.
KNOWN_MANAGERS = ("cassandra", "couchbase", "couchdb", "db2", "mariadb", "mongodb", "mysql", "percona",
                  "postgresql", "pxc", "redis", "vertica")

MANAGED_FIELDS = ("datastore_manager", "image", "image_tags", "active", "default", "packages",
                  "registry_ext", "repl_strategy")


class TroveError(Exception):
    """An error to show the user as is: ``str(exc)`` is the whole message."""

    def __init__(self, msg, status=None, **details):
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.details = details


def endpoint_filter(interface=None, region_name=None):
    """keystoneauth ``endpoint_filter`` for the Trove endpoint of the catalog."""
    flt = {"service_type": DATABASE_SERVICE_TYPE, "interface": interface or "public"}
    if region_name:
        flt["region_name"] = region_name
    return flt


def version_path(version_id=None):
    """Path, relative to the Trove endpoint, of the version list or of one version."""
    if version_id is None:
        return VERSIONS_PATH
    if not version_id or "/" in str(version_id):
        raise TroveError(f"Invalid datastore version id {version_id!r}.")
    return f"{VERSIONS_PATH}/{version_id}"


def _list_field(value):
    """Trove shows an unset list as ``['']`` (and stores it comma-separated): make it a list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [item for item in value if item]


def normalize_version(raw):
    """A version as the management API shows it, with empty markers made plain."""
    version = dict(raw)
    version["image"] = raw.get("image") or None
    version["image_tags"] = _list_field(raw.get("image_tags"))
    version["packages"] = _list_field(raw.get("packages"))
    version["active"] = bool(raw.get("active"))
    version["default"] = bool(raw.get("default"))
    return version


def want_from_params(params, image_id=None):
    """The wanted state of a version from module parameters.

    ``image_id`` is the Glance id ``params['image']`` resolved to (Trove's API takes ids only).
    Keys with a ``None`` value are not managed (Trove's current value is kept).
    """
    datastore = (params.get("datastore") or "").strip()
    name = (params.get("name") or "").strip()
    if not datastore:
        raise TroveError("Option 'datastore' must be a non-empty datastore name, for example 'mysql'.")
    if not name:
        raise TroveError("Option 'name' must be a non-empty datastore version name, for example '8.0'.")
    if params.get("default") and params.get("active") is False:
        raise TroveError("Options 'default: true' and 'active: false' do not go together: Trove makes only an "
                         "active version the default of its datastore.")
    number = params.get("version")
    number = name if number in (None, "") else str(number)
    want = {
        "datastore_name": datastore,
        "name": name,
        "version": number,
        "datastore_manager": params.get("manager"),
        "active": params.get("active"),
        "default": params.get("default"),
        "packages": None if params.get("packages") is None else list(params["packages"]),
        "registry_ext": params.get("registry_ext"),
        "repl_strategy": params.get("repl_strategy"),
        "image": None,
        "image_tags": None,
    }
    if params.get("image_tags"):
        tags = [str(tag) for tag in params["image_tags"]]
        bad = [tag for tag in tags if not TAG_PATTERN.match(tag) or len(tag) > 20]
        if bad:
            raise TroveError(f"Option 'image_tags' holds invalid tags {bad!r}: Trove takes tags of 1 to 20 "
                             "characters, with a letter or digit and without ','.")
        if len(tags) > 5:
            raise TroveError("Option 'image_tags' holds more than 5 tags, the most Trove accepts.")
        want["image_tags"] = sorted(set(tags))
    elif image_id:
        want["image"] = image_id
    return want


def find_version(versions, datastore, name, number=None):
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


def _differs(field, current, wanted):
    if field in ("image_tags", "packages"):
        return sorted(current or []) != sorted(wanted or [])
    return current != wanted


def update_payload(current, want):
    """The PATCH body that brings ``current`` to ``want``; empty when nothing differs."""
    body = {}
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


def create_payload(want):
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
    version = {
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


def predicted(current, want, body):
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


def diff_view(version):
    """The part of a version shown in ``diff`` (before/after)."""
    if version is None:
        return {}
    view = {"datastore": version.get("datastore_name"), "name": version.get("name"),
            "version": version.get("version")}
    for field in MANAGED_FIELDS:
        value = version.get(field)
        view[field] = sorted(value) if isinstance(value, list) else value
    return view


def plan(current, want, state="present"):
    """What to do: ``(action, body)`` with action one of ``create``, ``update``, ``delete``, ``none``."""
    if state == "absent":
        return ("delete", None) if current else ("none", None)
    if current is None:
        return "create", create_payload(want)
    body = update_payload(current, want)
    return ("update", body) if body else ("none", None)


def error_message(response):
    """The message of a Trove error answer (``{"badRequest": {"message": ...}}``) or its text."""
    text = getattr(response, "text", "") or ""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip()[:500] or getattr(response, "reason", "") or "no details"
    if isinstance(data, dict):
        for value in data.values():
            if isinstance(value, dict) and value.get("message"):
                return str(value["message"])
    return text.strip()[:500]


class TroveAdmin:
    """The management calls, over a keystoneauth session (``conn.session`` of openstacksdk)."""

    def __init__(self, session, interface=None, region_name=None, retry=None):
        self.session = session
        self.filter = endpoint_filter(interface, region_name)
        # retry(func) -> func(); the shared OpenStack connection provides one with backoff.
        self._retry = retry or (lambda func: func())

    def _request(self, method, path, what, body=None, expect=(200, 202, 204)):
        kwargs = {"endpoint_filter": self.filter, "raise_exc": False}
        if body is not None:
            kwargs["json"] = body

        def call():
            response = self.session.request(path, method, **kwargs)
            if response.status_code in (502, 503, 504):
                raise _TransientHttp(response)
            return response

        try:
            response = self._retry(call) if method == "GET" else call()
        except _TransientHttp as exc:
            response = exc.response
        if response.status_code not in expect:
            raise TroveError(f"Trove refused to {what} (HTTP {response.status_code}): {error_message(response)}",
                             status=response.status_code, url=getattr(response, "url", None))
        return response

    def endpoint(self):
        return self.session.get_endpoint(**self.filter)

    def list_versions(self):
        response = self._request("GET", version_path(), "list datastore versions")
        return [normalize_version(v) for v in response.json().get("versions", [])]

    def get_version(self, version_id):
        response = self._request("GET", version_path(version_id), f"show datastore version {version_id}")
        return normalize_version(response.json()["version"])

    def create_version(self, body):
        version = body["version"]
        self._request("POST", version_path(), f"create datastore version "
                      f"{version['datastore_name']}/{version['name']}", body=body)

    def update_version(self, version_id, body, label):
        self._request("PATCH", version_path(version_id), f"update datastore version {label}", body=body)

    def delete_version(self, version_id, label):
        self._request("DELETE", version_path(version_id), f"delete datastore version {label}")


class _TransientHttp(Exception):
    def __init__(self, response):
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.status_code = response.status_code


def ensure_version(admin, want, state="present", check_mode=False):
    """Bring one datastore version to ``want``; returns the module result (``changed``, ``diff``, ...)."""
    label = f"{want['datastore_name']}/{want['name']}"
    number = want.get("version")
    current = find_version(admin.list_versions(), want["datastore_name"], want["name"], number)
    action, body = plan(current, want, state)
    if action == "none":
        return {"changed": False, "action": action, "version": current,
                "diff": {"before": diff_view(current), "after": diff_view(current)}}
    if action == "delete":
        if not check_mode:
            admin.delete_version(current["id"], label)
        return {"changed": True, "action": action, "version": None,
                "diff": {"before": diff_view(current), "after": {}}}
    after = predicted(current, want, body)
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
            admin.update_version(current["id"], body, label)
            after = admin.get_version(current["id"])
    return {"changed": True, "action": action, "version": after, "request": body,
            "diff": {"before": diff_view(current), "after": diff_view(after)}}


def referenced_image_ids(session, interface=None, region_name=None):
    """Ids of the Glance images that Trove datastore versions point at (never delete these).

    A cloud without a ``database`` endpoint in its catalog references none.
    Versions selecting their image by tags are not listed: Trove picks the newest
    active image with those tags when it launches an instance.
    """
    admin = TroveAdmin(session, interface=interface, region_name=region_name)
    if not admin.endpoint():
        # No Trove in this cloud: nothing can reference an image.
        return []
    return sorted({v["image"] for v in admin.list_versions() if v.get("image")})
