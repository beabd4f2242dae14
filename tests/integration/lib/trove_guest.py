# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A guest as Trove 26 makes and drives it, with Trove's own code (the ``trove`` package, its venv).

The trove package does not go into the test venv (its pins fight the
collection's); its code runs in the venv of ``lib/trove_service.py`` through
the scripts of ``lib/in_trove_venv/``:

- ``taskmanager_user_data(python, guest_id, manager, version, guest_config_text)``
  -> ``InjectedFiles``: the files and the cloud-config user-data the taskmanager
  gives Nova for a new instance, Trove's defaults unless ``overrides`` says otherwise;
- ``guestagent_conf(transport_url)``: the operator's ``trove-guestagent.conf``
  (the controller's ``guest_config`` file) pointing the agent at a broker;
- ``ControlPlane``: Trove's client asking the guest ``rpc_ping`` until it
  answers (bounded), then ``get_filesystem_stats``; its events carry times.

Nothing here knows about qemu or the test: a verify stage can reuse it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from pathlib import Path

from lib.openstack_services import ensure_venv, ini_text
from lib.trove_service import TROVE_REQUIREMENTS

SCRIPTS = Path(__file__).resolve().parent / "in_trove_venv"
DEFAULT_TENANT = "00000000000000000000000000000000"


def trove_python() -> str:
    """The python of the cached venv holding the ``trove`` package (built once, shared with the Trove API)."""
    return str(ensure_venv("trove", TROVE_REQUIREMENTS) / "bin" / "python")


def guestagent_conf(transport_url: str, control_exchange: str = "trove", extra: dict | None = None) -> str:
    """``trove-guestagent.conf`` as an operator writes it: the broker, the exchange, plus ``extra`` sections.

    ``control_exchange`` must equal the control plane's (oslo.messaging's own
    default is ``openstack``); Trove's guides set ``trove`` on both sides.
    """
    sections = {"DEFAULT": {"transport_url": transport_url, "control_exchange": control_exchange}}
    for section, values in (extra or {}).items():
        sections.setdefault(section, {}).update(values)
    return ini_text(sections)


@dataclasses.dataclass(frozen=True)
class InjectedFiles:
    """What Trove's taskmanager hands Nova for one instance."""

    files: dict  # {guest path: text}
    user_data: str  # "#cloud-config\n..." with write_files
    rpc_key: str | None  # the instance's instance_rpc_encr_key (None: secure RPC off)
    defaults: dict  # the Trove settings in force (injected_config_owner, network_isolation, ...)


def _run_json(python: str, script: str, request: dict, timeout: float) -> dict:
    proc = subprocess.run([python, str(SCRIPTS / script)], input=json.dumps(request), capture_output=True,
                          text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{script} (trove venv) failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout)


def taskmanager_user_data(python: str, guest_id: str, datastore_manager: str, datastore_version: str,
                          guest_config_text: str, *, tenant_id: str = DEFAULT_TENANT,
                          overrides: dict | None = None, timeout: float = 120) -> InjectedFiles:
    """Trove's ``get_injected_files`` + ``prepare_cloud_config`` for a new instance on one network.

    ``overrides`` is ``{group: {option: value}}`` of trove.conf (``DEFAULT``
    for the default group), for a Trove whose operators changed a default.
    """
    answer = _run_json(python, "taskmanager_files.py", {
        "guest_id": guest_id,
        "tenant_id": tenant_id,
        "datastore_manager": datastore_manager,
        "datastore_version": datastore_version,
        "guest_config_text": guest_config_text,
        "overrides": overrides or {},
    }, timeout)
    return InjectedFiles(files=answer["files"], user_data=answer["user_data"],
                         rpc_key=answer["instance_rpc_encr_key"], defaults=answer["defaults"])


class ControlPlane:
    """Trove's client asking one guest ``rpc_ping`` (until True or ``deadline``), then its filesystem stats.

    ``start()`` returns at once; ``events()`` reads what happened so far
    (``{"t": epoch, "event": ...}``); ``wait()`` waits for the end. Calls go
    to ``transport_url`` (the broker as the host reaches it).
    """

    def __init__(self, python: str, workdir, guest_id: str, rpc_key: str | None, transport_url: str,
                 control_exchange: str = "trove", budget: float = 900, call_timeout: int = 5):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.config_file = self.workdir / "control-plane.conf"
        self.config_file.write_text(ini_text({
            "DEFAULT": {"transport_url": transport_url, "control_exchange": control_exchange},
            "oslo_messaging_notifications": {"driver": "noop"},
        }))
        os.chmod(self.config_file, 0o600)
        self.python = python
        self.request = {"config_file": str(self.config_file), "guest_id": guest_id, "rpc_key": rpc_key,
                        "call_timeout": call_timeout}
        self.budget = budget
        self.out_path = self.workdir / "control-plane.jsonl"
        self.log_path = self.workdir / "control-plane.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> ControlPlane:
        request = dict(self.request, deadline=time.time() + self.budget)
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.process = subprocess.Popen([self.python, str(SCRIPTS / "control_plane.py")],
                                            stdin=subprocess.PIPE, stdout=out, stderr=log)
        self.process.stdin.write(json.dumps(request).encode())
        self.process.stdin.close()
        return self

    def events(self) -> list:
        try:
            lines = self.out_path.read_text().splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                break  # a line still being written
        return events

    def event(self, name: str) -> dict | None:
        return next((event for event in self.events() if event["event"] == name), None)

    def finished(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
