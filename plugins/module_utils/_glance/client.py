# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small Glance v2 REST client over the authenticated openstacksdk session.

PRIVATE to the collection: no compatibility promise outside it.

The upload streams from a file-like reader (read once, memory flat) and every
step (create, upload, verify, clean up) stays under the caller's control.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.errors import GlanceError, HttpStatusError
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import retry

__all__ = ["GlanceClient", "HttpStatusError", "response_detail"]

PATCH_CONTENT_TYPE = "application/openstack-images-v2.1-json-patch"
# Seconds one socket operation may stall (not the whole upload) when api_timeout is not given:
# a hung server must not hang the task.
SOCKET_TIMEOUT = 300


def response_detail(response: Any) -> str:
    """The human part of an error answer: the JSON message, or the text of Glance's HTML page."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "title", "error", "badRequest", "itemNotFound", "conflictingRequest"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("title")
            if value:
                return str(value)
    text = " ".join((response.text or "").split())
    # Glance's webob errors are small HTML pages: keep the human part.
    for marker in ("<body>", "<h1>"):
        if marker in text:
            text = text.split(marker, 1)[1]
    for tag in ("</body>", "</html>", "<h1>", "</h1>", "<br />", "<br/>"):
        text = text.replace(tag, " ")
    return " ".join(text.split())[:500] or response.reason or ""


class GlanceClient:
    """Glance v2 calls over an openstacksdk Connection (no secrets kept or logged)."""

    def __init__(self, conn: Any, attempts: int = 4, sleep: Callable[[float], Any] = time.sleep,
                 warn: Callable[[str], Any] | None = None, timeout: int | None = None) -> None:
        self.conn = conn
        self.timeout = SOCKET_TIMEOUT if timeout is None else timeout
        self.attempts = attempts
        self.sleep = sleep
        self.warn: Callable[[str], Any] = warn or (lambda msg: None)
        self._base: str | None = None

    def base_url(self) -> str | None:
        """Glance's v2 root from the catalog (or the cloud's image endpoint override), without asking
        Glance for its versions: one round trip less per task. ``None``: let openstacksdk find it."""
        if self._base is None:
            try:
                config = self.conn.config
                url = config.get_endpoint("image") or self.conn.session.get_endpoint(
                    service_type="image", interface=config.get_interface("image"),
                    region_name=config.get_region_name("image"))
            except Exception:
                url = None
            if not url:
                self._base = ""
            else:
                url = str(url).rstrip("/")
                self._base = url if url.endswith("/v2") else url + "/v2"
        return self._base or None

    def _send(self, path: str, method: str, seconds: float, **kwargs: Any) -> Any:
        base = self.base_url()
        if base is None:
            return self.conn.image.request(path, method, raise_exc=False, connect_retries=0, timeout=seconds,
                                           **kwargs)
        return self.conn.session.request(base + path, method, raise_exc=False, connect_retries=0, timeout=seconds,
                                         **kwargs)

    def _call(self, method: str, path: str, idempotent: bool = True, ok: Iterable[int] = (200, 201, 204),
              timeout: float | None = None, **kwargs: Any) -> Any:
        accepted = tuple(ok)
        seconds = self.timeout if timeout is None else timeout

        def once() -> Any:
            response = self._send(path, method, seconds, **kwargs)
            if response.status_code not in accepted:
                raise HttpStatusError(method, path, response.status_code, response_detail(response))
            return response

        if not idempotent:
            return once()
        return retry(once, attempts=self.attempts, sleep=self.sleep,
                     on_retry=lambda exc, n, d: self.warn(
                         f"Glance {method} {path} failed ({exc.__class__.__name__}); retry {n} in {d:.1f}s"))

    def list_images(self, name: str | None = None, tags: Iterable[str] | None = None,
                    visibility: str | None = "all", limit: int = 200) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": limit}
        if name is not None:
            params["name"] = name
        if visibility:
            params["visibility"] = visibility
        if tags:
            params["tag"] = list(tags)
        images: list[dict[str, Any]] = []
        while True:
            body = self._call("GET", "/images", params=params).json()
            batch = body.get("images") or []
            images.extend(batch)
            if not body.get("next") or not batch:
                return images
            params["marker"] = batch[-1]["id"]

    def get_image(self, image_id: str) -> dict[str, Any] | None:
        try:
            image: dict[str, Any] = self._call("GET", "/images/" + image_id).json()
            return image
        except HttpStatusError as exc:
            if exc.status_code == 404:
                return None
            raise

    def create_image(self, body: dict[str, Any]) -> dict[str, Any]:
        # Not retried blindly: a lost answer could leave a second record; the caller retries whole.
        image: dict[str, Any] = self._call("POST", "/images", idempotent=False, json=body).json()
        return image

    def upload(self, image_id: str, reader: Any, size: int) -> None:
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        self._call("PUT", f"/images/{image_id}/file", idempotent=False, data=reader, headers=headers)

    def patch(self, image_id: str, ops: list[dict[str, Any]]) -> dict[str, Any]:
        image: dict[str, Any] = self._call("PATCH", "/images/" + image_id, json=ops,
                                           headers={"Content-Type": PATCH_CONTENT_TYPE}).json()
        return image

    def delete(self, image_id: str, once: bool = False, timeout: float | None = None) -> None:
        """Delete an image (gone already is fine). ``once``: a single try, whose socket operations wait
        at most ``timeout`` seconds (the caller has its own patience, e.g. cleaning up after a failure)."""
        try:
            self._call("DELETE", "/images/" + image_id, idempotent=not once, timeout=timeout)
        except HttpStatusError as exc:
            if exc.status_code != 404:
                raise

    def wait_status(self, image_id: str, timeout: int, wanted: Iterable[str] = ("active",),
                    poll: float = 1.0) -> dict[str, Any]:
        """The image once its status is in ``wanted``; a GlanceError after ``timeout`` seconds."""
        goal = tuple(wanted)
        deadline = time.monotonic() + timeout
        while True:
            image = self.get_image(image_id)
            if image is None:
                raise GlanceError(f"Image {image_id} disappeared while waiting for it to become active.")
            if image.get("status") in goal:
                return image
            if image.get("status") in ("killed", "deleted", "pending_delete"):
                raise GlanceError("Image {} ended in status '{}'.".format(image_id, image.get("status")))
            if time.monotonic() >= deadline:
                raise GlanceError("Image {} still '{}' after {}s (option 'timeout').".format(
                    image_id, image.get("status"), timeout))
            self.sleep(poll)
