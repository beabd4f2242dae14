# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``dbaas.guest_images.guest_verify`` and the typed request read from them.

PRIVATE to the collection: no compatibility promise outside it.

Defaults are written only in :func:`argument_spec`; everything after
:meth:`VerifyRequest.from_params` takes typed fields.
"""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases

MODES = ("required", "warn", "skip")
ACCELERATORS = ("auto", "kvm", "tcg")
# Well under Trove's usage_timeout (1800 s): what a guest gets before it is called broken.
DEFAULT_TIMEOUT = {"tcg": 900, "kvm": 180}
RECORD_SUFFIX = ".verify.json"


class VerifyInputError(ValueError):
    """An option is wrong; the message names it, what was given and the fix."""


def argument_spec() -> dict[str, Any]:
    """The options of ``dbaas.guest_images.guest_verify``."""
    return {
        "image": {"type": "path", "required": True},
        "fingerprint": {"type": "str", "default": ""},
        "sha256": {"type": "str", "default": ""},
        "datastore_manager": {"type": "str", "required": True},
        "datastore_version": {"type": "str", "required": True},
        "mode": {"type": "str", "default": "required", "choices": list(MODES)},
        "broker_url": {"type": "str", "default": "", "no_log": True},
        "accelerator": {"type": "str", "default": "auto", "choices": list(ACCELERATORS)},
        "timeout": {"type": "int", "default": 0},
        "kvm_probe_timeout": {"type": "int", "default": 30},
        "memory_mib": {"type": "int", "default": 2048},
        "cpus": {"type": "int", "default": 2},
        "volume_gib": {"type": "int", "default": 2},
        "trove_version": {"type": "str", "default": ""},
        "trove_venv": {"type": "path", "default": ""},
        "wheelhouse": {"type": "path", "default": ""},
        "pip_args": {"type": "list", "elements": "str", "default": []},
        "python": {"type": "str", "default": "python3"},
        "guest_config_extra": {"type": "dict", "default": {}},
        "work_dir": {"type": "path", "default": ""},
        "force": {"type": "bool", "default": False},
    }


@dataclass(frozen=True)
class BrokerAddress:
    """An operator's broker: where the host reaches it, and the account the guest uses there."""

    host: str
    port: int
    user: str
    password: str
    vhost: str

    def url(self, host: str, port: int) -> str:
        """The same account at another address (the guest's view of the broker)."""
        return transport_url(self.user, self.password, self.vhost, host, port)


def transport_url(user: str, password: str, vhost: str, host: str, port: int) -> str:
    """oslo.messaging's ``rabbit://user:password@host:port/vhost``, each part quoted."""
    quote = urllib.parse.quote
    return f"rabbit://{quote(user, safe='')}:{quote(password, safe='')}@{host}:{int(port)}/{quote(vhost, safe='')}"


def parse_broker_url(url: str) -> BrokerAddress:
    """``rabbit://user:password@host:port/vhost`` -> :class:`BrokerAddress`; the message never shows the password."""
    parsed = urllib.parse.urlsplit(url)
    shown = f"rabbit://{parsed.username or ''}:***@{parsed.hostname or ''}" + (
        f":{parsed.port}" if parsed.port else "")
    if parsed.scheme != "rabbit":
        raise VerifyInputError(
            f"broker_url must be rabbit://USER:PASSWORD@HOST:PORT/VHOST (the transport_url the guest gets), "
            f"got scheme {parsed.scheme!r} in {shown}")
    if not parsed.hostname or not parsed.username or parsed.password is None:
        raise VerifyInputError(
            f"broker_url needs a host, a user and a password (rabbit://USER:PASSWORD@HOST:PORT/VHOST), got {shown}")
    try:
        port = parsed.port or 5672
    except ValueError as error:
        raise VerifyInputError(f"broker_url has an invalid port: {error}") from None
    vhost = urllib.parse.unquote(parsed.path[1:]) if parsed.path.startswith("/") else ""
    return BrokerAddress(host=parsed.hostname, port=port, user=urllib.parse.unquote(parsed.username),
                         password=urllib.parse.unquote(parsed.password), vhost=vhost or "/")


@dataclass(frozen=True)
class VerifyRequest:
    """The module's options, read once and checked before any long work."""

    image: str
    fingerprint: str
    sha256: str
    datastore_manager: str
    datastore_version: str
    mode: str
    broker: BrokerAddress | None
    accelerator: str
    timeout: int
    kvm_probe_timeout: int
    memory_mib: int
    cpus: int
    volume_gib: int
    trove_version: str
    trove_venv: str
    wheelhouse: str
    pip_args: tuple[str, ...]
    python: str
    guest_config_extra: Mapping[str, Mapping[str, str]]
    work_dir: str
    force: bool

    @property
    def record_path(self) -> str:
        """``<image>.verify.json`` beside the image (``x.qcow2`` -> ``x.verify.json``)."""
        base, _ext = os.path.splitext(self.image)
        return base + RECORD_SUFFIX

    def timeout_for(self, accelerator: str) -> int:
        """The boot-to-answer budget: the option, else the accelerator's default."""
        return self.timeout or DEFAULT_TIMEOUT[accelerator]

    @classmethod
    def from_params(cls, params: Mapping[str, Any], cache_dir: str) -> VerifyRequest:
        """Read and check the options; ``cache_dir`` is where the Trove client venv goes by default."""
        for name in ("timeout", "kvm_probe_timeout"):
            if int(params[name]) < 0:
                raise VerifyInputError(f"{name}={params[name]} is negative: give seconds (0 for the default)")
        for name, low in (("memory_mib", 512), ("cpus", 1), ("volume_gib", 1)):
            if int(params[name]) < low:
                raise VerifyInputError(f"{name}={params[name]} is too small: at least {low}")
        manager = str(params["datastore_manager"]).strip()
        if not manager:
            raise VerifyInputError("datastore_manager is empty: give the Trove datastore manager (e.g. mysql)")
        extra: dict[str, dict[str, str]] = {}
        for section, values in (params.get("guest_config_extra") or {}).items():
            if not isinstance(values, Mapping):
                raise VerifyInputError(
                    f"guest_config_extra[{section!r}] must be a mapping of option: value "
                    f"(a section of trove-guestagent.conf), got {type(values).__name__}")
            extra[str(section)] = {str(key): str(value) for key, value in values.items()}
        version = str(params["trove_version"] or releases.AGENT_VERSION)
        venv = params["trove_venv"] or os.path.join(cache_dir, "trove-client", f"trove-{version}")
        broker_url = str(params["broker_url"] or "")
        return cls(
            image=str(params["image"]),
            fingerprint=str(params["fingerprint"] or ""),
            sha256=str(params["sha256"] or ""),
            datastore_manager=manager,
            datastore_version=str(params["datastore_version"]),
            mode=str(params["mode"]),
            broker=parse_broker_url(broker_url) if broker_url else None,
            accelerator=str(params["accelerator"]),
            timeout=int(params["timeout"]),
            kvm_probe_timeout=int(params["kvm_probe_timeout"]),
            memory_mib=int(params["memory_mib"]),
            cpus=int(params["cpus"]),
            volume_gib=int(params["volume_gib"]),
            trove_version=version,
            trove_venv=str(venv),
            wheelhouse=str(params["wheelhouse"] or ""),
            pip_args=tuple(str(arg) for arg in params["pip_args"] or ()),
            python=str(params["python"]),
            guest_config_extra=extra,
            work_dir=str(params["work_dir"] or ""),
            force=bool(params["force"]),
        )
