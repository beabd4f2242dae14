# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The errors of the Glance code and their plain words, the module's failure message included.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import describe_error


class GlanceError(Exception):
    """An error to show the user as is; ``details`` go into the module's result (``orphan_id``)."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


class HttpStatusError(Exception):
    """A non-2xx answer; ``status_code`` lets ``is_transient`` decide on retries."""

    def __init__(self, method: str, url: str, status_code: int, detail: str) -> None:
        super().__init__(f"{method} {url} -> HTTP {status_code}: {detail}")
        self.method = method
        self.url = url
        self.status_code = status_code
        self.detail = detail


HTTP_HINTS = {
    401: "the token was refused; check the credentials",
    403: "the user's role does not allow this (public images and 'protected' need the admin role)",
    404: "not found",
    409: "conflict with the image's current state",
    413: "the image is larger than Glance accepts (image_size_cap or quota)",
}


def explain(exc: BaseException, params: Any = None, action: str = "talking to Glance") -> str:
    """Plain words for any error raised while talking to Glance (``params`` names the cloud)."""
    if isinstance(exc, GlanceError):
        return exc.msg
    if isinstance(exc, HttpStatusError):
        hint = HTTP_HINTS.get(exc.status_code)
        return "Glance answered HTTP {} while {}: {}{}".format(
            exc.status_code, action, exc.detail, f" ({hint})" if hint else "")
    return f"Error while {action}: {describe_error(exc, params)}"


def failure(exc: BaseException, action: str, cloud: Any = None, filename: str | None = None,
            disk_format: str | None = None) -> dict[str, Any]:
    """The keyword arguments of ``module.fail_json`` for an error of a Glance module's run."""
    if isinstance(exc, GlanceError):
        return dict(exc.details, msg=exc.msg)
    if isinstance(exc, HttpStatusError) and exc.status_code == 415 and filename:
        # Glance's text starts with the generic webob sentence; its own reason follows.
        reason = exc.detail.split("by this server.")[-1].strip().rstrip(".") or exc.detail
        return {"msg": f"Glance refused the data of {filename} as disk_format '{disk_format}' (HTTP 415): {reason}. "
                       f"Check the file's real format with 'qemu-img info {filename}' and set 'disk_format' to it; "
                       "nothing was left in Glance."}
    return {"msg": explain(exc, cloud, action=action)}
