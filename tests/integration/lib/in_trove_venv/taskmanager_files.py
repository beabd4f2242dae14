# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run with the trove package's python: a new guest's files and user-data, made by Trove's own code.

Trove's taskmanager creates a server with the files of
``trove.instance.models.BaseInstance.get_injected_files`` turned into
cloud-config ``write_files`` by ``BaseInstance.prepare_cloud_config`` (see
``trove.taskmanager.models.FreshInstanceTasks._create_server``). Both are
called here, unbound, on a stand-in for the instance that carries only the
attributes they read; every option keeps Trove's default unless the request
names an override.

stdin:  JSON ``{guest_id, tenant_id, datastore_manager, datastore_version,
        guest_config_text, overrides: {group: {option: value}}}``
        (``guest_config_text``: what the controller's ``guest_config`` file,
        /etc/trove/trove-guestagent.conf, holds; ``DEFAULT`` is the default group).
stdout: JSON ``{files, user_data, instance_rpc_encr_key, defaults}``.
"""

import json
import sys
import tempfile
import types


def main():
    request = json.load(sys.stdin)
    from trove.common import cfg, crypto_utils
    from trove.instance import models

    conf = cfg.CONF
    # No config file: every option at Trove's default.
    cfg.parse_args(["taskmanager-files"], default_config_files=[])
    for group, options in (request.get("overrides") or {}).items():
        for name, value in options.items():
            conf.set_override(name, value, group=None if group == "DEFAULT" else group)

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
        # The controller-side path only: the host running the test has no /etc/trove.
        conf.set_override("guest_config", guest_config.name)
        # One network (the management one): the instance has no separate user port.
        files = models.BaseInstance.get_injected_files(
            instance, manager, request["datastore_version"], networks=[{"net-id": "management"}]
        )
    user_data = models.BaseInstance.prepare_cloud_config(instance, files)
    defaults = {
        "injected_config_owner": conf.injected_config_owner,
        "injected_config_group": conf.injected_config_group,
        "injected_config_location": conf.injected_config_location,
        "use_nova_server_config_drive": conf.use_nova_server_config_drive,
        "network_isolation": conf.network.network_isolation,
        "enable_secure_rpc_messaging": conf.enable_secure_rpc_messaging,
    }
    json.dump({"files": files, "user_data": user_data, "instance_rpc_encr_key": key, "defaults": defaults},
              sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
