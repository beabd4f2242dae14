# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Trove's own client code on the build host: its venv, and the calls made through ``trove_side``.

PRIVATE to the collection: no compatibility promise outside it.

The ``trove`` package (at the guest agent's version) lives in a venv of its
own: its pins would fight anything else. It is installed offline from the
guest agent wheelhouse when one is given and fits this host's Python, else
from the package index; a stamp file written last marks it complete, and a
lock keeps two verifications from building it at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import inspect
import json
import os
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import trove_side

STAMP = ".dbaas-trove-client"
SIDE_SCRIPT = "dbaas_trove_side.py"


class TroveClientError(RuntimeError):
    """The Trove client venv or one of its calls failed; the message says which and why."""


def ini_text(sections: Mapping[str, Mapping[str, str]]) -> str:
    """An oslo.config file from ``{section: {option: value}}`` (values one line each)."""
    lines: list[str] = []
    for section, values in sections.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if "\n" in str(value):
                raise TroveClientError(f"the value of [{section}] {key} spans lines: give one line")
            lines.append(f"{key} = {value}")
        lines.append("")
    return "\n".join(lines)


def guestagent_conf(transport_url: str, extra: Mapping[str, Mapping[str, str]]) -> str:
    """The operator's ``trove-guestagent.conf``: the broker, Trove's exchange, the agent's log on the console."""
    sections: dict[str, dict[str, str]] = {
        "DEFAULT": {"transport_url": transport_url, "control_exchange": "trove", "use_stderr": "True"}}
    for section, values in extra.items():
        sections.setdefault(section, {}).update(values)
    return ini_text(sections)


def _side_source() -> str:
    return inspect.getsource(trove_side)


def ensure_venv(venv: str, version: str, python: str, wheelhouse: str, pip_args: Sequence[str],
                timeout: float = 900) -> dict[str, Any]:
    """The venv at ``venv`` with ``trove==version``, made once; returns ``{python, built, source}``."""
    parent = os.path.dirname(os.path.abspath(venv))
    os.makedirs(parent, exist_ok=True)
    stamp = os.path.join(venv, STAMP)
    venv_python = os.path.join(venv, "bin", "python")
    with open(os.path.join(parent, f".{os.path.basename(venv)}.lock"), "w", encoding="ascii") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.isfile(stamp) and os.access(venv_python, os.X_OK):
            with open(stamp, encoding="utf-8") as handle:
                if handle.read().strip() == version:
                    _write_side(venv)
                    return {"python": venv_python, "built": False, "source": "cache"}
        shutil.rmtree(venv, ignore_errors=True)
        _run([python, "-m", "venv", venv], timeout, f"creating the Trove client venv {venv} with {python}")
        requirement = f"trove=={version}"
        source = "index"
        if wheelhouse and os.path.isdir(wheelhouse):
            try:
                _run([venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-index",
                      "--find-links", wheelhouse, requirement], timeout, "")
                source = "wheelhouse"
            except TroveClientError:
                source = "index"  # the wheelhouse is for another Python: fall back to the index
        if source == "index":
            try:
                _run([venv_python, "-m", "pip", "install", "-q", "--disable-pip-version-check", *pip_args,
                      requirement], timeout, f"installing {requirement} into {venv}")
            except TroveClientError:
                shutil.rmtree(venv, ignore_errors=True)
                raise
        _write_side(venv)
        with open(stamp, "w", encoding="utf-8") as handle:
            handle.write(version + "\n")
        return {"python": venv_python, "built": True, "source": source}


def _write_side(venv: str) -> None:
    path = os.path.join(venv, SIDE_SCRIPT)
    source = _side_source()
    with contextlib.suppress(OSError), open(path, encoding="utf-8") as handle:
        if handle.read() == source:
            return
    write_atomically(path, source)


def _run(argv: list[str], timeout: float, what: str) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise TroveClientError(f"{what or argv[0]} failed: {error}") from None
    if proc.returncode != 0:
        raise TroveClientError(f"{what or ' '.join(argv[:3])} failed (rc {proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-3000:]}")
    return proc.stdout


def call(venv: str, command: str, request: Mapping[str, Any], timeout: float = 120) -> dict[str, Any]:
    """Run one ``trove_side`` command with ``request`` on stdin; its JSON answer."""
    python = os.path.join(venv, "bin", "python")
    try:
        proc = subprocess.run([python, os.path.join(venv, SIDE_SCRIPT), command], input=json.dumps(dict(request)),
                              capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise TroveClientError(f"{command} (Trove client) did not answer within {timeout:.0f} s") from None
    if proc.returncode != 0:
        raise TroveClientError(f"{command} (Trove client) failed (rc {proc.returncode}): {proc.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(proc.stdout)
    return answer


class ControlPlane:
    """Trove's client asking one guest, in the background; ``events()`` reads what it saw so far."""

    def __init__(self, venv: str, workdir: str, guest_id: str, rpc_key: str | None, transport_url: str,
                 budget: float, call_timeout: int = 5) -> None:
        self.venv = venv
        self.config_file = os.path.join(workdir, "control-plane.conf")
        fd = os.open(self.config_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(ini_text({
                "DEFAULT": {"transport_url": transport_url, "control_exchange": "trove"},
                "oslo_messaging_notifications": {"driver": "noop"},
            }))
        self.request = {"config_file": self.config_file, "guest_id": guest_id, "rpc_key": rpc_key,
                        "call_timeout": call_timeout, "deadline": time.time() + budget}
        self.out_path = os.path.join(workdir, "control-plane.jsonl")
        self.log_path = os.path.join(workdir, "control-plane.log")
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ControlPlane:
        with open(self.out_path, "wb") as out, open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [os.path.join(self.venv, "bin", "python"), os.path.join(self.venv, SIDE_SCRIPT), "control-plane"],
                stdin=subprocess.PIPE, stdout=out, stderr=log, start_new_session=True)
        stdin: IO[bytes] | None = self.process.stdin
        if stdin is not None:
            stdin.write(json.dumps(self.request).encode())
            stdin.close()
        return self

    def events(self) -> list[dict[str, Any]]:
        try:
            with open(self.out_path, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        except OSError:
            return []
        events = []
        for line in lines:
            try:
                events.append(json.loads(line))
            except ValueError:
                break  # a line still being written
        return events

    def event(self, name: str) -> dict[str, Any] | None:
        return next((event for event in self.events() if event.get("event") == name), None)

    def finished(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 10) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return "\n".join(handle.read().splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
