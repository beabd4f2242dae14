# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cloud of the controller's clouds.yaml, as the dictionary a build host's module takes as ``cloud``.

PRIVATE to the collection: no compatibility promise outside it.

Publishing and registering run on the build host that holds the image, which
has no copy of the controller's ``clouds.yaml`` (nor should it). So a cloud
given by name is read here, on the controller, the way openstacksdk reads it
(``OS_CLIENT_CONFIG_FILE``, the standard places, ``secure.yaml`` merged in),
and handed on as a dictionary that the modules mask as a secret. The TLS
files the entry names (``cacert``, ``cert``, ``key``) are read here too and
handed on as their PEM text (``inline_files``): the build host needs no copy
of them either, and the modules write them to private files while they run.
"""

from __future__ import annotations

import copy
import os
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import TLS_FILE_KEYS, is_pem
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import clouds_yaml_paths


class CloudsYamlError(Exception):
    """The named cloud cannot be read from the controller's clouds.yaml."""


def cloud_entry(name: str, where: str = "build_guest_cloud", inline_files: bool = False) -> dict[str, Any]:
    """The merged ``clouds.yaml`` + ``secure.yaml`` entry of cloud ``name`` (a deep copy); with
    ``inline_files``, its TLS files' paths replaced by their PEM text."""
    if not isinstance(name, str) or not name.strip():
        raise CloudsYamlError(f"{where}: expected the name of a cloud in clouds.yaml, got {name!r}")
    try:
        from openstack.config import loader
    except ImportError as exc:
        raise CloudsYamlError(
            f"{where}: cloud '{name}' is read from clouds.yaml on the controller, which needs openstacksdk"
            f" there ({exc}); install it (pip install openstacksdk) or give a cloud dictionary"
        ) from None
    try:
        config = loader.OpenStackConfig()
    except Exception as exc:  # a malformed clouds.yaml or secure.yaml
        raise CloudsYamlError(f"{where}: the controller's clouds.yaml cannot be read: {exc}") from None
    overrides = [os.environ.get("OS_CLIENT_CONFIG_FILE", ""), os.environ.get("OS_CLIENT_SECURE_FILE", "")]
    _refuse_unreadable(where, overrides + clouds_yaml_paths())
    clouds = (config.cloud_config or {}).get("clouds") or {}
    entry = clouds.get(name)
    if not isinstance(entry, dict):
        # The cloud openstacksdk makes of OS_* variables is not in any file: not offered as a name.
        named = [str(key) for key in clouds if key not in ("defaults", getattr(config, "envvar_key", "envvars"))]
        known = ", ".join(sorted(named)) or "none"
        searched = ", ".join(clouds_yaml_paths())
        raise CloudsYamlError(
            f"{where}: no cloud '{name}' in the controller's clouds.yaml (clouds there: {known}; searched"
            f" OS_CLIENT_CONFIG_FILE and {searched}); fix the name, or give a cloud dictionary"
        )
    entry = copy.deepcopy(entry)
    if inline_files:
        for key in TLS_FILE_KEYS:
            if entry.get(key) not in (None, "") and not is_pem(entry[key]):
                entry[key] = _pem_text(where, name, key, entry[key])
    return entry


def _pem_text(where: str, name: str, key: str, value: Any) -> str:
    """The PEM text of the file ``value`` that cloud ``name`` gives as ``key``."""
    what = f"{where}: cloud '{name}' of the controller's clouds.yaml gives {key}: {value!r}"
    if not isinstance(value, str):
        raise CloudsYamlError(f"{what}, which is not a file's path; give the path of a PEM file")
    path = os.path.abspath(os.path.expanduser(value))
    try:
        with open(path, "rb") as handle:
            text = handle.read().decode("utf-8", errors="replace")
    except OSError as exc:
        raise CloudsYamlError(
            f"{what}, which cannot be read on the controller ({exc.strerror or exc}); fix the path there (it is"
            " read on the controller and handed to the build hosts, which need no copy)"
        ) from None
    if not is_pem(text) or "\ufffd" in text:
        raise CloudsYamlError(f"{what}, but {path} is not a PEM file (no '-----BEGIN' line); convert it to PEM")
    return text


def _refuse_unreadable(where: str, paths: list[str]) -> None:
    """openstacksdk skips a clouds.yaml it cannot parse; say which one it is instead."""
    import yaml

    for path in dict.fromkeys(path for path in paths if path):
        if not os.path.isfile(path):
            continue
        try:
            with open(path, encoding="utf-8") as handle:
                yaml.safe_load(handle)
        except (OSError, yaml.YAMLError) as exc:
            first = str(exc).strip().splitlines()[0]
            raise CloudsYamlError(f"{where}: the controller's {path} cannot be read: {first}; fix that file") from None
