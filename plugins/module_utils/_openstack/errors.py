# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain words for OpenStack errors, and bounded retries of the transient ones.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

try:
    import keystoneauth1.exceptions as ksa_exc
    import openstack.exceptions as sdk_exc
except ImportError:  # pragma: no cover - depends on the host
    ksa_exc = None  # type: ignore[assignment]
    sdk_exc = None  # type: ignore[assignment]

T = TypeVar("T")

# HTTP answers worth another try: the service (or a proxy before it) is briefly unavailable.
TRANSIENT_HTTP_STATUS = frozenset([408, 429, 502, 503, 504])


def _option(params: Any, name: str) -> Any:
    """One connection option from a params mapping or from a typed ``CloudOptions``."""
    if params is None:
        return None
    if isinstance(params, Mapping):
        return params.get(name)
    return getattr(params, name, None)


def _cloud_label(params: Any) -> str:
    cloud = _option(params, "cloud")
    if isinstance(cloud, str):
        return f"cloud '{cloud}'"
    if _option(params, "auth") or isinstance(cloud, dict):
        return "the given auth options"
    return "the OS_* environment variables"


def clouds_yaml_paths() -> list[str]:
    """Where openstacksdk looks for clouds.yaml, for messages."""
    try:
        from openstack.config import loader

        return [os.path.join(d, "clouds.yaml") for d in dict.fromkeys(loader.CONFIG_SEARCH_PATH)]
    except Exception:  # pragma: no cover
        return ["clouds.yaml"]


def describe_error(exc: BaseException, params: Any = None) -> str:
    """Plain words for an exception raised by openstacksdk or keystoneauth.

    ``params`` (module params or ``CloudOptions``) only names the cloud in the message; no
    secret of it is ever part of the text.
    """
    where = _cloud_label(params)
    text = str(exc).strip() or exc.__class__.__name__
    if ksa_exc is not None:
        if isinstance(exc, ksa_exc.MissingRequiredOptions):
            names = ", ".join(sorted(o.dest for o in getattr(exc, "options", []) or [])) or text
            return (f"Authentication options are missing for {where}: {names}. Give them in clouds.yaml or in the "
                    "'auth' option.")
        if isinstance(exc, ksa_exc.Unauthorized):
            return (f"Keystone refused the credentials of {where} (HTTP 401): check username, password, "
                    "project and domain names.")
        if isinstance(exc, ksa_exc.Forbidden):
            return f"Access denied for {where} (HTTP 403): the user lacks the role this action needs. {text}"
        if isinstance(exc, ksa_exc.EndpointNotFound):
            return f"The service catalog of {where} has no such endpoint (check region_name and interface): {text}"
        if isinstance(exc, ksa_exc.SSLError):
            return (f"TLS verification failed talking to {where}: {text}. Give the CA bundle with 'ca_cert' "
                    "(or set validate_certs=false for a test cloud).")
        if isinstance(exc, ksa_exc.ConnectTimeout):
            return f"Timed out connecting to an endpoint of {where}: {text}"
        if isinstance(exc, ksa_exc.ConnectFailure):
            return f"Could not connect to an endpoint of {where} (is it up, is the URL right?): {text}"
        if isinstance(exc, ksa_exc.DiscoveryFailure):
            return f"Could not find a usable Keystone API for {where} (check auth_url): {text}"
        if isinstance(exc, ksa_exc.NoMatchingPlugin):
            return f"Unknown auth_type for {where}: {text}"
    if sdk_exc is not None:
        if isinstance(exc, sdk_exc.ConfigException):
            cloud = _option(params, "cloud")
            if isinstance(cloud, str) and "not found" in text:
                return ("Cloud '{}' is not defined in any clouds.yaml (looked at OS_CLIENT_CONFIG_FILE and {}). "
                        "Check the 'cloud' option.".format(cloud, ", ".join(clouds_yaml_paths())))
            return f"Cloud configuration error for {where}: {text}"
        if isinstance(exc, sdk_exc.HttpException):
            status = getattr(exc, "status_code", None)
            details = getattr(exc, "details", None) or text
            url = getattr(getattr(exc, "response", None), "url", None)
            return "HTTP {} from {}: {}".format(status, url or "the cloud", details)
    return text


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is worth another try: a dropped connection or a 502/503/504-like answer."""
    status = getattr(exc, "status_code", None)
    if status is None:
        status = getattr(exc, "http_status", None)
    if status is None:
        status = getattr(getattr(exc, "response", None), "status_code", None)
    if status is not None:
        try:
            return int(status) in TRANSIENT_HTTP_STATUS
        except (TypeError, ValueError):
            return False
    if ksa_exc is not None and isinstance(exc, (ksa_exc.ConnectFailure, ksa_exc.ConnectTimeout)):
        return not isinstance(exc, ksa_exc.SSLError)
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    name = exc.__class__.__name__
    return name in ("ConnectionError", "ChunkedEncodingError", "ProtocolError", "RemoteDisconnected",
                    "ReadTimeout", "ConnectTimeout")


def backoff_delays(attempts: int, base: float = 1.0, factor: float = 2.0, maximum: float = 30.0,
                   jitter: float = 0.1, rand: Callable[[], float] = random.random) -> list[float]:
    """Seconds to sleep before each retry: ``attempts - 1`` values, exponential, capped, jittered."""
    delays = []
    for number in range(max(attempts - 1, 0)):
        delay = min(maximum, base * (factor ** number))
        delays.append(delay * (1.0 + jitter * (2 * rand() - 1)))
    return delays


def retry(func: Callable[[], T], attempts: int = 4, base_delay: float = 1.0, max_delay: float = 30.0,
          transient: Callable[[BaseException], bool] = is_transient, sleep: Callable[[float], Any] = time.sleep,
          on_retry: Callable[[BaseException, int, float], Any] | None = None) -> T:
    """Call ``func()``; on a transient error try again, at most ``attempts`` times in all.

    ``on_retry(exc, attempt, delay)`` is called before each sleep (for logging or cleanup).
    The last error is raised unchanged when no attempt is left or the error is not transient.
    """
    delays = backoff_delays(attempts, base=base_delay, maximum=max_delay)
    attempt = 0
    while True:
        attempt += 1
        try:
            return func()
        except Exception as exc:
            if attempt >= attempts or not transient(exc):
                raise
            delay = delays[attempt - 1]
            if on_retry is not None:
                on_retry(exc, attempt, delay)
            sleep(delay)
