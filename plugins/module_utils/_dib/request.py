# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``dib_image`` options: their argument spec and the typed request read from them.

PRIVATE to the collection: no compatibility promise outside it.

:func:`argument_spec` is the only place the options' defaults live; the
module hands it to ``AnsibleModule`` and the action plugin reads the
defaults it needs from it.  :meth:`DibImageRequest.from_params` reads the
validated ``module.params`` once; everything after it takes the request's
typed fields.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.argv import FORMAT_SUFFIX


def argument_spec() -> dict[str, dict[str, Any]]:
    """The ``dib_image`` argument spec (fresh dicts on every call: callers may change them)."""
    return dict(
        name=dict(type="str", required=True),
        elements=dict(type="list", elements="str", required=True),
        element_paths=dict(type="list", elements="path", default=[]),
        dest=dict(type="path", required=True),
        formats=dict(type="list", elements="str", default=["qcow2"], choices=sorted(FORMAT_SUFFIX)),
        compress=dict(type="bool", default=True),
        size=dict(type="int"),
        arch=dict(type="str", default="amd64"),
        environment=dict(type="dict", default={}),
        packages=dict(type="list", elements="str", default=[]),
        inputs=dict(type="dict", default={}),
        cache_dir=dict(type="path"),
        dib_command=dict(type="path"),
        timeout=dict(type="int", default=3600),
        lock_timeout=dict(type="int", default=1800),
        force=dict(type="bool", default=False),
        max_age=dict(type="int", default=720),
        heartbeat_path=dict(type="path"),
        heartbeat_interval=dict(type="float", default=0.0),
        heartbeat_misses=dict(type="int", default=3),
    )


# DIB's own image cache when neither cache_dir nor DIB_IMAGE_CACHE names one.
DEFAULT_CACHE_DIR = "~/.cache/image-create"


def slot_cache_dir(cache_dir: str | None, environment: Mapping[str, Any] | None, slot: int) -> str:
    """The image cache of build slot ``slot`` (1 ..) of a host: slot 1 the build's own, slot N ``<that>-slotN``.

    Builds that share a cache run one after another (its lock); side by side each slot needs its own.
    """
    base = str(cache_dir or (environment or {}).get("DIB_IMAGE_CACHE") or DEFAULT_CACHE_DIR).rstrip("/")
    return base if slot <= 1 else f"{base}-slot{slot}"


def option_default(option: str) -> Any:
    """The default of one option, as the argument spec declares it."""
    return argument_spec()[option].get("default")


def _environment_value(value: object) -> str:
    # dict options arrive with whatever YAML made of the values; DIB gets strings.
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class DibImageRequest:
    """One ``dib_image`` call, its options read once.

    Paths are absolute: relative element paths and inputs would otherwise be
    read from DIB's own working folder.
    """

    name: str
    elements: list[str]
    element_paths: list[str]
    dest: str
    formats: list[str]
    compress: bool
    size: int | None
    arch: str
    environment: dict[str, str]
    packages: list[str]
    inputs: dict[str, str]
    cache_dir: str | None
    dib_command: str | None
    timeout: int
    lock_timeout: int
    force: bool
    max_age: int
    heartbeat_path: str | None
    heartbeat_interval: float
    heartbeat_misses: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> DibImageRequest:
        """The request from validated module parameters (``module.params``)."""
        return cls(
            name=str(params["name"]),
            elements=[str(element) for element in params["elements"]],
            element_paths=[os.path.abspath(path) for path in params["element_paths"]],
            dest=os.path.abspath(params["dest"]),
            formats=[str(fmt) for fmt in params["formats"]],
            compress=bool(params.get("compress", True)),
            size=params["size"],
            arch=str(params["arch"]),
            environment={str(key): _environment_value(value) for key, value in params["environment"].items()},
            packages=[str(package) for package in params["packages"]],
            inputs={
                str(key): os.path.abspath(os.path.expanduser(str(value))) for key, value in params["inputs"].items()
            },
            cache_dir=params["cache_dir"],
            dib_command=params["dib_command"],
            timeout=int(params["timeout"]),
            lock_timeout=int(params["lock_timeout"]),
            force=bool(params["force"]),
            max_age=int(params["max_age"]),
            heartbeat_path=params["heartbeat_path"],
            heartbeat_interval=float(params["heartbeat_interval"]),
            heartbeat_misses=int(params["heartbeat_misses"]),
        )
