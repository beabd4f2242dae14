# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run with the trove package's python: ask a guest agent what Trove's control plane asks it.

Trove's own client (``trove.guestagent.api.API``) over ``trove.rpc``, after
the config is parsed (``rpc.init(CONF)`` reads ``transport_url`` and
``control_exchange``). The client's only database need, the instance's RPC
encryption key, is given (``trove.instance.models._instance_encryption_key``).

``rpc_ping`` is repeated with a short timeout until it answers True or the
deadline passes: a ping sent before the agent's queue exists is dropped, so
a long timeout only loses time. Then ``get_volume_info`` (the agent's
``get_filesystem_stats`` of its mount point).

stdin:  JSON ``{config_file, guest_id, rpc_key, deadline (epoch s), call_timeout (s)}``
stdout: one JSON object a line, each with ``t`` (epoch s) and ``event``:
        ``rpc_ping`` (answered; ``attempts``), ``ping_error`` (``error``),
        ``filesystem_stats`` (``stats``), ``timeout`` (``attempts``), ``error``.
"""

import json
import sys
import time


def emit(**fields):
    print(json.dumps({"t": time.time(), **fields}), flush=True)


def main():
    request = json.load(sys.stdin)
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
    while time.time() < request["deadline"]:
        attempts += 1
        try:
            answer = guest.rpc_ping()
        except exception.GuestTimeout:
            continue
        except exception.GuestError as error:
            if str(error) != last_error:
                emit(event="ping_error", error=str(error), attempts=attempts)
                last_error = str(error)
            time.sleep(2)
            continue
        if answer is True:
            emit(event="rpc_ping", attempts=attempts)
            break
        emit(event="ping_error", error=f"rpc_ping answered {answer!r}", attempts=attempts)
    else:
        emit(event="timeout", attempts=attempts)
        return 1
    try:
        emit(event="filesystem_stats", stats=guest.get_volume_info())
    except exception.TroveError as error:
        emit(event="error", error=f"get_filesystem_stats: {error}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
