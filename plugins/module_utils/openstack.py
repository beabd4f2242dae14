# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to an OpenStack cloud, shared by every OpenStack-facing module.

Interface used by modules (kept stable):

- ``openstack_argument_spec(**extra)``: the connection options (see the
  ``dbaas.guest_images.openstack`` doc fragment) merged with a module's own.
- ``openstack_connect(module)``: an authenticated ``openstack.connection.Connection``,
  or ``module.fail_json`` with a plain-words message (unknown cloud, wrong
  credentials, unreachable Keystone, ...), never a traceback.
- ``connect(params)``: the same without a module; raises ``OpenStackError``.
- ``describe_error(exc)``: plain words for an openstacksdk/keystoneauth error.
- ``is_transient(exc)`` and ``retry(func, ...)``: bounded retries with backoff
  for connection resets and 502/503/504 answers.
- ``has_service(conn, service_type)``: whether the catalog holds an endpoint.
"""

import copy
import os
import random
import time

from ansible.module_utils.basic import missing_required_lib

try:
    import keystoneauth1.exceptions as ksa_exc
    import openstack
    import openstack.exceptions as sdk_exc

    HAS_OPENSTACKSDK = True
    OPENSTACKSDK_IMPORT_ERROR = None
except ImportError as import_error:  # pragma: no cover - depends on the host
    ksa_exc = None
    openstack = None
    sdk_exc = None
    HAS_OPENSTACKSDK = False
    OPENSTACKSDK_IMPORT_ERROR = import_error

APP_NAME = "dbaas.guest_images"

# Kept in step with plugins/doc_fragments/openstack.py (a unit test compares them).
OPENSTACK_ARGUMENT_SPEC = dict(
    cloud=dict(type="raw"),
    auth=dict(type="dict", no_log=True),
    auth_type=dict(type="str"),
    region_name=dict(type="str"),
    interface=dict(type="str", default="public", choices=["admin", "internal", "public"], aliases=["endpoint_type"]),
    validate_certs=dict(type="bool", aliases=["verify"]),
    ca_cert=dict(type="path", aliases=["cacert"]),
    client_cert=dict(type="path", aliases=["cert"]),
    client_key=dict(type="path", aliases=["key"], no_log=False),
    api_timeout=dict(type="int"),
    wait=dict(type="bool", default=True),
    timeout=dict(type="int", default=180),
)

# HTTP answers worth another try: the service (or a proxy before it) is briefly unavailable.
TRANSIENT_HTTP_STATUS = frozenset([408, 429, 502, 503, 504])


class OpenStackError(Exception):
    """An error to show the user as is: ``str(exc)`` is the whole message."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


def openstack_argument_spec(**extra):
    """The connection options plus a module's own ``extra`` options (a fresh copy)."""
    spec = copy.deepcopy(OPENSTACK_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def connection_kwargs(params):
    """Keyword arguments for ``openstack.connect`` from module parameters (no secrets are logged)."""
    kwargs = {}
    cloud = params.get("cloud")
    if isinstance(cloud, dict):
        kwargs.update(copy.deepcopy(cloud))
    elif cloud is not None:
        if not isinstance(cloud, str) or not cloud.strip():
            raise OpenStackError("Option 'cloud' must be the name of a cloud in clouds.yaml or a dictionary, "
                                 f"got {cloud!r}.")
        kwargs["cloud"] = cloud
    if params.get("auth"):
        auth = dict(kwargs.get("auth") or {})
        auth.update(params["auth"])
        kwargs["auth"] = auth
    mapping = (
        ("auth_type", "auth_type"),
        ("region_name", "region_name"),
        ("interface", "interface"),
        ("validate_certs", "verify"),
        ("ca_cert", "cacert"),
        ("client_cert", "cert"),
        ("client_key", "key"),
        ("api_timeout", "api_timeout"),
    )
    for option, key in mapping:
        value = params.get(option)
        if value is not None:
            kwargs[key] = value
    return kwargs


def _cloud_label(params):
    cloud = params.get("cloud")
    if isinstance(cloud, str):
        return f"cloud '{cloud}'"
    if params.get("auth") or isinstance(cloud, dict):
        return "the given auth options"
    return "the OS_* environment variables"


def _auth_url(conn_or_config):
    try:
        return conn_or_config.config.config["auth"].get("auth_url")
    except Exception:  # pragma: no cover - best effort for a message only
        return None


def describe_error(exc, params=None):
    """Plain words for an exception raised by openstacksdk or keystoneauth."""
    params = params or {}
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
            return (f"The service catalog of {where} has no such endpoint (check region_name and interface): {text}")
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
            cloud = params.get("cloud")
            if isinstance(cloud, str) and "not found" in text:
                return ("Cloud '{}' is not defined in any clouds.yaml (looked at OS_CLIENT_CONFIG_FILE and {}). "
                        "Check the 'cloud' option.".format(cloud, ", ".join(_clouds_yaml_paths())))
            return f"Cloud configuration error for {where}: {text}"
        if isinstance(exc, sdk_exc.HttpException):
            status = getattr(exc, "status_code", None)
            details = getattr(exc, "details", None) or text
            url = getattr(getattr(exc, "response", None), "url", None)
            return "HTTP {} from {}: {}".format(status, url or "the cloud", details)
    return text


def _clouds_yaml_paths():
    try:
        from openstack.config import loader

        return [os.path.join(d, "clouds.yaml") for d in dict.fromkeys(loader.CONFIG_SEARCH_PATH)]
    except Exception:  # pragma: no cover
        return ["clouds.yaml"]


def connect(params):
    """Return an authenticated Connection; raise ``OpenStackError`` with a plain message."""
    if not HAS_OPENSTACKSDK:
        raise OpenStackError("The openstacksdk Python library is required on the host that runs this task.")
    kwargs = connection_kwargs(params)
    try:
        conn = openstack.connect(app_name=APP_NAME, **kwargs)
    except Exception as exc:  # openstacksdk raises ConfigException and keystoneauth errors here
        raise OpenStackError(describe_error(exc, params)) from None
    try:
        # The connection is lazy; ask for a token now so that bad credentials fail here, plainly.
        conn.session.get_token()
    except Exception as exc:
        raise OpenStackError(describe_error(exc, params), auth_url=_auth_url(conn)) from None
    return conn


def openstack_connect(module):
    """``connect(module.params)`` or ``module.fail_json`` with the reason."""
    if not HAS_OPENSTACKSDK:
        module.fail_json(msg=missing_required_lib("openstacksdk"), exception=str(OPENSTACKSDK_IMPORT_ERROR))
    try:
        return connect(module.params)
    except OpenStackError as exc:
        module.fail_json(msg=exc.msg, **exc.details)


def is_transient(exc):
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


def backoff_delays(attempts, base=1.0, factor=2.0, maximum=30.0, jitter=0.1, rand=random.random):
    """Seconds to sleep before each retry: ``attempts - 1`` values, exponential, capped, jittered."""
    delays = []
    for number in range(max(attempts - 1, 0)):
        delay = min(maximum, base * (factor ** number))
        delays.append(delay * (1.0 + jitter * (2 * rand() - 1)))
    return delays


def retry(func, attempts=4, base_delay=1.0, max_delay=30.0, transient=is_transient, sleep=time.sleep,
          on_retry=None):
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


def has_service(conn, service_type, params=None):
    """Whether the catalog of ``conn`` has an endpoint for ``service_type`` (e.g. ``database``)."""
    params = params or {}
    try:
        catalog = conn.session.auth.get_access(conn.session).service_catalog
        url = catalog.url_for(service_type=service_type, interface=params.get("interface") or "public",
                              region_name=params.get("region_name") or None)
        return bool(url)
    except Exception:
        return False
