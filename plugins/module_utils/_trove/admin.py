# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trove's management API for datastore versions, over the connection's keystoneauth session.

PRIVATE to the collection: no compatibility promise outside it.

openstacksdk has no proxy for Trove's admin calls, so they are made against the
catalog's ``database`` endpoint (``{endpoint}`` is ``.../v1.0/{project_id}``):

- ``GET    {endpoint}/mgmt/datastore-versions``        every version, active or not
- ``POST   {endpoint}/mgmt/datastore-versions``        ``{"version": {...}}``; creates the datastore too
- ``PATCH  {endpoint}/mgmt/datastore-versions/{id}``   changed fields only
- ``DELETE {endpoint}/mgmt/datastore-versions/{id}``
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

DATABASE_SERVICE_TYPE = "database"
VERSIONS_PATH = "/mgmt/datastore-versions"

Retry = Callable[[Callable[[], Any]], Any]


class TroveError(Exception):
    """An error to show the user as is: ``str(exc)`` is the whole message."""

    def __init__(self, msg: str, status: int | None = None, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.status = status
        self.details = details


def endpoint_filter(interface: str | None = None, region_name: str | None = None) -> dict[str, str]:
    """keystoneauth ``endpoint_filter`` for the Trove endpoint of the catalog."""
    flt = {"service_type": DATABASE_SERVICE_TYPE, "interface": interface or "public"}
    if region_name:
        flt["region_name"] = region_name
    return flt


def version_path(version_id: str | None = None) -> str:
    """Path, relative to the Trove endpoint, of the version list or of one version."""
    if version_id is None:
        return VERSIONS_PATH
    if not version_id or "/" in str(version_id):
        raise TroveError(f"Invalid datastore version id {version_id!r}.")
    return f"{VERSIONS_PATH}/{version_id}"


def _list_field(value: Any) -> list[str]:
    """Trove shows an unset list as ``['']`` (and stores it comma-separated): make it a list."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",")
    return [item for item in value if item]


def normalize_version(raw: dict[str, Any]) -> dict[str, Any]:
    """A version as the management API shows it, with empty markers made plain."""
    version = dict(raw)
    version["image"] = raw.get("image") or None
    version["image_tags"] = _list_field(raw.get("image_tags"))
    version["packages"] = _list_field(raw.get("packages"))
    version["active"] = bool(raw.get("active"))
    version["default"] = bool(raw.get("default"))
    return version


def error_message(response: Any) -> str:
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
    return str(text).strip()[:500]


class _TransientHttp(Exception):
    def __init__(self, response: Any) -> None:
        super().__init__(f"HTTP {response.status_code}")
        self.response = response
        self.status_code = response.status_code


class TroveAdmin:
    """The management calls, over a keystoneauth session (``conn.session`` of openstacksdk)."""

    def __init__(self, session: Any, interface: str | None = None, region_name: str | None = None,
                 retry: Retry | None = None) -> None:
        self.session = session
        self.filter = endpoint_filter(interface, region_name)
        # retry(func) -> func(); the shared OpenStack connection provides one with backoff.
        self._retry: Retry = retry or (lambda func: func())

    def _request(self, method: str, path: str, what: str, body: dict[str, Any] | None = None,
                 expect: tuple[int, ...] = (200, 202, 204)) -> Any:
        kwargs: dict[str, Any] = {"endpoint_filter": self.filter, "raise_exc": False}
        if body is not None:
            kwargs["json"] = body

        def call() -> Any:
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

    def endpoint(self) -> str | None:
        endpoint = self.session.get_endpoint(**self.filter)
        return None if endpoint is None else str(endpoint)

    def list_versions(self) -> list[dict[str, Any]]:
        response = self._request("GET", version_path(), "list datastore versions")
        return [normalize_version(v) for v in response.json().get("versions", [])]

    def get_version(self, version_id: str) -> dict[str, Any]:
        response = self._request("GET", version_path(version_id), f"show datastore version {version_id}")
        return normalize_version(response.json()["version"])

    def create_version(self, body: dict[str, Any]) -> None:
        version = body["version"]
        self._request("POST", version_path(), f"create datastore version "
                      f"{version['datastore_name']}/{version['name']}", body=body)

    def update_version(self, version_id: str, body: dict[str, Any], label: str) -> None:
        self._request("PATCH", version_path(version_id), f"update datastore version {label}", body=body)

    def delete_version(self, version_id: str, label: str) -> None:
        self._request("DELETE", version_path(version_id), f"delete datastore version {label}")
