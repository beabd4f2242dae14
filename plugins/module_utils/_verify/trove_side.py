# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run with the Python of the Trove client venv: Trove's own code, as its control plane runs it.

PRIVATE to the collection: no compatibility promise outside it.

This file is copied next to the venv's interpreter and run as a script
(stdlib imports only at the top: the module's own imports are not there).
One command a run, JSON on stdin, JSON on stdout:

``taskmanager-files``
    ``{guest_id, tenant_id, datastore_manager, datastore_version, guest_config_text}`` ->
    ``{files, user_data, instance_rpc_encr_key, defaults}``: the files of
    ``trove.instance.models.BaseInstance.get_injected_files`` made into
    cloud-config ``write_files`` by ``BaseInstance.prepare_cloud_config``
    (what ``FreshInstanceTasks._create_server`` hands Nova), every option at
    Trove's default, called unbound on a stand-in for the instance.
``check-broker``
    ``{url}`` -> ``{ok, error}``: one AMQP login with the guest's account.
``control-plane``
    ``{config_file, guest_id, rpc_key, deadline, call_timeout}`` -> one JSON
    object a line (``t`` epoch s, ``event``): ``rpc_ping`` (answered;
    ``attempts``), ``ping_error``, ``filesystem_stats`` (``stats``),
    ``timeout``, ``error``. Trove's client ``trove.guestagent.api.API`` over
    ``trove.rpc``: ``rpc_ping`` with a short timeout until it answers True (a
    ping sent before the agent's queue exists is dropped), then
    ``get_volume_info`` (the agent's ``get_filesystem_stats``).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
import types
from typing import Any


def _emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps({"t": time.time(), **fields}) + "\n")
    sys.stdout.flush()


def taskmanager_files(request: dict[str, Any]) -> dict[str, Any]:
    """Trove's injected files and cloud-config user-data for a new instance on one network."""
    from trove.common import cfg, crypto_utils
    from trove.instance import models

    conf = cfg.CONF
    cfg.parse_args(["taskmanager-files"], default_config_files=[])
    # DBInstance.__init__ makes one key per instance when secure RPC is on (the default).
    key = crypto_utils.generate_random_key() if conf.enable_secure_rpc_messaging else None
    models._instance_encryption_key._func = lambda _instance_id: key
    manager = request["datastore_manager"]
    instance = types.SimpleNamespace(
        id=request["guest_id"],
        tenant_id=request["tenant_id"],
        ds_version=types.SimpleNamespace(manager=manager, registry_ext=None, repl_strategy=None),
        db_info=types.SimpleNamespace(ssl_mode=None),
        addresses=[],
    )
    instance.datastore_registry_ext = models.BaseInstance.datastore_registry_ext.fget(instance)
    instance.datastore_repl_strategy = models.BaseInstance.datastore_repl_strategy.fget(instance)
    with tempfile.NamedTemporaryFile("w", prefix="trove-guestagent-", suffix=".conf") as guest_config:
        guest_config.write(request["guest_config_text"])
        guest_config.flush()
        # The controller-side file the taskmanager copies into the guest.
        conf.set_override("guest_config", guest_config.name)
        files = models.BaseInstance.get_injected_files(
            instance, manager, request["datastore_version"], networks=[{"net-id": "management"}])
    user_data = models.BaseInstance.prepare_cloud_config(instance, files)
    defaults = {
        "injected_config_owner": conf.injected_config_owner,
        "injected_config_group": conf.injected_config_group,
        "injected_config_location": conf.injected_config_location,
        "use_nova_server_config_drive": conf.use_nova_server_config_drive,
        "enable_secure_rpc_messaging": conf.enable_secure_rpc_messaging,
    }
    return {"files": files, "user_data": user_data, "instance_rpc_encr_key": key, "defaults": defaults}


def check_broker(request: dict[str, Any]) -> dict[str, Any]:
    """One AMQP login with the account of ``url`` (rabbit://...); the error says why it failed."""
    import kombu

    url = "amqp://" + request["url"].split("://", 1)[1]
    connection = kombu.Connection(url, connect_timeout=10)
    try:
        connection.ensure_connection(max_retries=1)
    except Exception as error:  # noqa: BLE001 - every failure is reported, in words
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        connection.release()
    return {"ok": True, "error": ""}


def control_plane(request: dict[str, Any]) -> int:
    """Ask the guest ``rpc_ping`` until it answers (or the deadline), then its filesystem stats."""
    from trove.common import cfg, context, exception

    cfg.parse_args(["control-plane", "--config-file", request["config_file"]], default_config_files=[])
    conf = cfg.CONF
    conf.set_override("agent_call_low_timeout", int(request["call_timeout"]))
    from trove import rpc

    rpc.init(conf)
    from trove.guestagent import api
    from trove.instance import models

    models._instance_encryption_key._func = lambda _instance_id: request["rpc_key"]
    guest = api.API(context.TroveContext(), request["guest_id"])
    attempts = 0
    last_error = None
    answered = False
    while time.time() < request["deadline"]:
        attempts += 1
        try:
            answer = guest.rpc_ping()
        except exception.GuestTimeout:
            continue
        except exception.GuestError as error:
            if str(error) != last_error:
                _emit(event="ping_error", error=str(error), attempts=attempts)
                last_error = str(error)
            time.sleep(2)
            continue
        if answer is True:
            _emit(event="rpc_ping", attempts=attempts)
            answered = True
            break
        _emit(event="ping_error", error=f"rpc_ping answered {answer!r}", attempts=attempts)
    if not answered:
        _emit(event="timeout", attempts=attempts)
        return 1
    try:
        _emit(event="filesystem_stats", stats=guest.get_volume_info())
    except exception.TroveError as error:
        _emit(event="error", error=f"get_filesystem_stats: {error}")
        return 1
    return 0


def main(argv: list[str]) -> int:
    request = json.load(sys.stdin)
    if argv[1] == "taskmanager-files":
        json.dump(taskmanager_files(request), sys.stdout)
        return 0
    if argv[1] == "check-broker":
        json.dump(check_broker(request), sys.stdout)
        return 0
    if argv[1] == "control-plane":
        return control_plane(request)
    sys.stderr.write(f"unknown command {argv[1]!r}\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
