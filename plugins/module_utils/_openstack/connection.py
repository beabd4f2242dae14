# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The connection to an OpenStack cloud: its options, their typed form, and an authenticated session.

PRIVATE to the collection: no compatibility promise outside it.

- ``openstack_argument_spec(**extra)``: the connection options (documented by the
  ``dbaas.guest_images.openstack`` doc fragment) merged with a module's own.
- ``CloudOptions.from_params(params)``: those options read once, typed.
- ``OpenStackModule``: an ``AnsibleModule`` that masks those secrets before validating.
- ``openstack_connect(module)``: an authenticated ``openstack.connection.Connection``,
  or ``module.fail_json`` with a plain-words message, never a traceback; secrets inside
  a ``cloud`` dictionary are masked in the module's output first (``protect_secrets``).
- ``connect(options)``: the same without a module; raises ``OpenStackError``.
- ``has_service(conn, service_type, params)``: whether the catalog holds an endpoint.
- ``TLS_FILE_KEYS``, ``is_pem(value)``, ``write_inline_files(kwargs, folder)``: the TLS files
  (``cacert``, ``cert``, ``key``) of a ``cloud`` dictionary may be given as their PEM text, for a
  host that has no copy of the files (the ``cloud_config`` lookup inlines them); ``connect``
  writes such text to private files for the connection's lifetime.
"""

from __future__ import annotations

import atexit
import copy
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import describe_error

try:
    import openstack

    HAS_OPENSTACKSDK = True
    OPENSTACKSDK_IMPORT_ERROR: ImportError | None = None
except ImportError as import_error:  # pragma: no cover - depends on the host
    openstack = None  # type: ignore[assignment]
    HAS_OPENSTACKSDK = False
    OPENSTACKSDK_IMPORT_ERROR = import_error

APP_NAME = "dbaas.guest_images"

# Kept in step with plugins/doc_fragments/openstack.py (a unit test compares them).
OPENSTACK_ARGUMENT_SPEC: dict[str, dict[str, Any]] = dict(
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
    sdk_log_path=dict(type="path"),
    sdk_log_level=dict(type="str", default="INFO", choices=["INFO", "DEBUG"]),
)

# Keys whose values are secrets wherever they sit in a ``cloud`` dictionary (openstacksdk's
# auth plugins: password, token, application_credential_secret, totp passcode, ...).
SECRET_KEY_PARTS = ("password", "secret", "token", "passcode")

# The keys of a cloud entry that name files openstacksdk opens: the CA bundle, the client
# certificate and its private key. In a ``cloud`` dictionary each may hold the PEM text instead.
TLS_FILE_KEYS = ("cacert", "cert", "key")
PEM_MARK = "-----BEGIN "


class OpenStackError(Exception):
    """An error to show the user as is: ``str(exc)`` is the whole message."""

    def __init__(self, msg: str, **details: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.details = details


@dataclasses.dataclass(frozen=True)
class CloudOptions:
    """The connection options of one task, read once from the module's params."""

    cloud: str | dict[str, Any] | None = None
    auth: dict[str, Any] | None = None
    auth_type: str | None = None
    region_name: str | None = None
    interface: str | None = None
    validate_certs: bool | None = None
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    api_timeout: int | None = None
    sdk_log_path: str | None = None
    sdk_log_level: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> CloudOptions:
        """The connection options of ``params``; ``cloud`` must be a name or a dictionary."""
        cloud = params.get("cloud")
        if cloud is not None and not isinstance(cloud, dict) and (not isinstance(cloud, str) or not cloud.strip()):
            raise OpenStackError("Option 'cloud' must be the name of a cloud in clouds.yaml or a dictionary, "
                                 f"got {cloud!r}.")
        return cls(**{field.name: params.get(field.name) for field in dataclasses.fields(cls)})


def _options(params: CloudOptions | Mapping[str, Any]) -> CloudOptions:
    return params if isinstance(params, CloudOptions) else CloudOptions.from_params(params)


def openstack_argument_spec(**extra: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The connection options plus a module's own ``extra`` options (a fresh copy)."""
    spec = copy.deepcopy(OPENSTACK_ARGUMENT_SPEC)
    spec.update(extra)
    return spec


def connection_kwargs(params: CloudOptions | Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for ``openstack.connect`` (no secrets are logged)."""
    options = _options(params)
    kwargs: dict[str, Any] = {}
    if isinstance(options.cloud, dict):
        kwargs.update(copy.deepcopy(options.cloud))
    elif options.cloud is not None:
        kwargs["cloud"] = options.cloud
    if options.auth:
        auth = dict(kwargs.get("auth") or {})
        auth.update(options.auth)
        kwargs["auth"] = auth
    mapping = (
        ("auth_type", options.auth_type),
        ("region_name", options.region_name),
        ("interface", options.interface),
        ("verify", options.validate_certs),
        ("cacert", options.ca_cert),
        ("cert", options.client_cert),
        ("key", options.client_key),
        ("api_timeout", options.api_timeout),
    )
    for key, value in mapping:
        if value is not None:
            kwargs[key] = value
    return kwargs


def is_pem(value: Any) -> bool:
    """Whether ``value`` is PEM text (a certificate or key itself) rather than a file's path."""
    return isinstance(value, str) and PEM_MARK in value


def write_inline_files(kwargs: dict[str, Any], folder: str) -> dict[str, Any]:
    """``kwargs`` with each TLS file given as PEM text written to a file (mode 0600) in ``folder``."""
    written = dict(kwargs)
    for key in TLS_FILE_KEYS:
        if is_pem(kwargs.get(key)):
            path = os.path.join(folder, f"cloud-{key}.pem")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(kwargs[key])
            written[key] = path
    return written


def _private_folder() -> str:
    """A folder only this process's user can read, removed when the process ends."""
    folder = tempfile.mkdtemp(prefix="dbaas-guest-images-tls-")
    atexit.register(shutil.rmtree, folder, True)
    return folder


def secret_values(value: Any, secret: bool = False) -> Iterator[str]:
    """Every string in ``value`` that sits under a secret-looking key, at any depth, and every
    private key's PEM text (a cloud's inline ``key``) wherever it sits."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            lowered = str(key).lower()
            yield from secret_values(item, secret or any(part in lowered for part in SECRET_KEY_PARTS))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secret_values(item, secret)
    elif isinstance(value, str) and value and (secret or (is_pem(value) and "PRIVATE KEY" in value)):
        yield value


def protect_secrets(module: Any) -> None:
    """Mask the secrets of a ``cloud`` dictionary in everything the module returns or logs.

    ``auth`` is ``no_log`` in the argument spec; ``cloud`` cannot be (a cloud name is no secret),
    so the passwords, tokens and application credential secrets inside a dictionary given there
    are added to ``module.no_log_values``, which Ansible removes from the result (the
    ``invocation`` shown at -vvv included) on success and on failure.
    """
    module.no_log_values.update(secret_values(module.params.get("cloud")))


class OpenStackModule(AnsibleModule):
    """An AnsibleModule that masks the secrets of a ``cloud`` dictionary from the very start.

    The params are read before Ansible validates them, so even a failed validation
    (an unknown option, a bad choice) returns and logs no password given in ``cloud``.
    """

    def _load_params(self) -> None:
        super()._load_params()
        protect_secrets(self)


def _auth_url(conn: Any) -> str | None:
    try:
        return conn.config.config["auth"].get("auth_url")
    except Exception:  # pragma: no cover - best effort for a message only
        return None


def connect(params: CloudOptions | Mapping[str, Any], files_folder: Callable[[], str] | None = None) -> Any:
    """Return an authenticated Connection; raise ``OpenStackError`` with a plain message.

    TLS files given as PEM text are written to the folder ``files_folder()`` returns (asked only
    then; by default a private folder of the process, removed at its exit); they must outlive
    the connection.
    """
    if not HAS_OPENSTACKSDK:
        raise OpenStackError("The openstacksdk Python library is required on the host that runs this task.")
    options = _options(params)
    kwargs = connection_kwargs(options)
    if any(is_pem(kwargs.get(key)) for key in TLS_FILE_KEYS):
        kwargs = write_inline_files(kwargs, (files_folder or _private_folder)())
    if options.sdk_log_path:
        # openstacksdk's own log (keystoneauth masks passwords and hashes tokens in it).
        openstack.enable_logging(debug=options.sdk_log_level == "DEBUG", path=options.sdk_log_path)
    try:
        conn = openstack.connect(app_name=APP_NAME, **kwargs)
    except Exception as exc:  # openstacksdk raises ConfigException and keystoneauth errors here
        raise OpenStackError(describe_error(exc, options)) from None
    try:
        # The connection is lazy; ask for a token now so that bad credentials fail here, plainly.
        conn.session.get_token()
    except Exception as exc:
        raise OpenStackError(describe_error(exc, options), auth_url=_auth_url(conn)) from None
    return conn


def openstack_connect(module: Any, options: CloudOptions | None = None) -> Any:
    """``connect(options or module.params)`` or ``module.fail_json`` with the reason."""
    protect_secrets(module)
    if not HAS_OPENSTACKSDK:
        module.fail_json(msg=missing_required_lib("openstacksdk"), exception=str(OPENSTACKSDK_IMPORT_ERROR))
    try:
        # Inline TLS files go to the module's own temporary folder: private, removed when the module ends.
        return connect(options if options is not None else module.params, files_folder=lambda: module.tmpdir)
    except OpenStackError as exc:
        module.fail_json(msg=exc.msg, **exc.details)


def has_service(conn: Any, service_type: str, params: CloudOptions | Mapping[str, Any] | None = None) -> bool:
    """Whether the catalog of ``conn`` has an endpoint for ``service_type`` (e.g. ``database``)."""
    options = _options(params or {})
    where: dict[str, Any] = {}
    if options.interface:
        where["interface"] = options.interface
    if options.region_name:
        where["region_name"] = options.region_name
    try:
        catalog = conn.session.auth.get_access(conn.session).service_catalog
        return bool(catalog.url_for(service_type=service_type, **where))
    except Exception:
        return False
