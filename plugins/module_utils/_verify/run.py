# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One verification: broker, Trove's user-data, qemu boot, Trove's client asking the agent; the record.

PRIVATE to the collection: no compatibility promise outside it.

Steps, in order (a failure names the one it stopped at): ``image``,
``tools``, ``trove-client``, ``broker``, ``user-data``, ``boot``,
``cloud-init``, ``agent-rpc``, ``filesystem-stats``. Times are seconds after
the boot started: ``kernel``, ``cloud_init_done``, ``agent_rpc_up`` (the
agent's RPC server reached the broker), ``first_answer`` (``rpc_ping``
answered), ``filesystem_stats``. Everything started here is stopped and
removed before :func:`verify` returns, whatever happened; the image is only
a backing file, never written.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.signals import interruptible
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import (
    broker,
    configdrive,
    console,
    qemu,
    record,
    trove_client,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify.request import (
    VerifyRequest,
    transport_url,
)

# Where the guest finds the broker (a guestfwd address of qemu's user network).
BROKER_IN_GUEST = ("10.0.2.100", 5672)
TENANT = "00000000000000000000000000000000"
VOLUME_TOLERANCE_GIB = 0.25
RESULT_SKIPPED = "skipped"
RESULT_REUSED = "reused"
RESULT_WOULD_VERIFY = "would_verify"


class VerifyFailed(Exception):
    """A step failed; ``step`` names it, the message says why and what to look at."""

    def __init__(self, step: str, msg: str) -> None:
        super().__init__(msg)
        self.step = step


@dataclass
class Timeline:
    """Seconds after the boot started, per milestone (first time seen)."""

    started: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)

    def start(self) -> None:
        self.started = time.time()
        self.marks = {}

    def mark(self, name: str, at: float | None = None) -> None:
        if name not in self.marks:
            self.marks[name] = round((at if at is not None else time.time()) - self.started, 1)


@dataclass
class Masker:
    """Replaces every secret seen in this run before text leaves the module."""

    secrets: list[str] = field(default_factory=list)

    def add(self, secret: str) -> None:
        if secret:
            self.secrets.append(secret)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "********")
        return text


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()  # noqa: UP017


def _stat(path: str) -> tuple[int, int]:
    info = os.stat(path)
    return info.st_size, info.st_mtime_ns


def verify(request: VerifyRequest, check_mode: bool = False,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Verify ``request.image``; returns the module's result (``failed`` set when a required verify failed)."""
    say = progress or (lambda _line: None)
    if request.mode == "skip":
        return {"changed": False, "result": RESULT_SKIPPED, "record_path": request.record_path,
                "msg": "verify skipped (mode skip)"}
    if not os.path.isfile(request.image):
        raise VerifyFailed("image", f"image {request.image} does not exist on the build host: give the path of "
                                    "the built qcow2 (the outputs of the build stage)")
    old = record.read(request.record_path)
    why = "forced" if request.force else record.mismatch(old, request.fingerprint, request.sha256,
                                                         request.trove_version)
    if not why and old is not None:
        return {"changed": False, "result": RESULT_REUSED, "record": old, "record_path": request.record_path,
                "msg": f"verified before ({old.get('verified_at')}), the record matches the image's fingerprint"}
    if check_mode:
        return {"changed": True, "result": RESULT_WOULD_VERIFY, "record_path": request.record_path,
                "msg": f"would verify: {why}"}
    masker = Masker()
    timeline = Timeline()
    state: dict[str, Any] = {"accelerator": None, "accelerator_note": ""}
    started = time.monotonic()
    before = _stat(request.image)
    try:
        # A stopped module still stops its broker, qemu and Trove-side client (the finally of _verify).
        with interruptible():
            answer = _verify(request, masker, timeline, state, say)
        result, step = record.RESULT_PASSED, ""
        msg = "the guest agent answered Trove's rpc_ping and get_filesystem_stats"
    except VerifyFailed as error:
        answer = {}
        result, step, msg = record.RESULT_FAILED, error.step, masker(str(error))
    if _stat(request.image) != before:
        result, step, msg = record.RESULT_FAILED, "image", f"the image {request.image} changed during verify"
    data = {
        "image": os.path.basename(request.image),
        "fingerprint": request.fingerprint,
        "sha256": request.sha256,
        "result": result,
        "step": step,
        "message": msg if result != record.RESULT_PASSED else "",
        "accelerator": state["accelerator"],
        "accelerator_note": state["accelerator_note"],
        "trove_version": request.trove_version,
        "times": dict(timeline.marks),
        "filesystem_stats": answer.get("stats"),
        "volume_gib": request.volume_gib,
        "timeout": state.get("timeout"),
        "broker": "given" if request.broker else "private",
        "trove_defaults": state.get("trove_defaults"),
        "console_log": state.get("console_log"),
        "datastore_manager": request.datastore_manager,
        "datastore_version": request.datastore_version,
        "verified_at": _now(),
        "duration": round(time.monotonic() - started, 1),
    }
    record.write(request.record_path, data)
    out: dict[str, Any] = {"changed": True, "result": result, "record": data, "record_path": request.record_path,
                           "msg": msg, "console_tail": masker(state.get("console_tail", "")),
                           "agent_errors": [masker(line) for line in state.get("agent_errors", [])],
                           "console_log": state.get("console_log") or ""}
    if result == record.RESULT_FAILED:
        out["step"] = step
        out["failed"] = request.mode == "required"
        if request.mode == "warn":
            out["warning"] = f"verify of {request.image} failed at step {step} (mode warn: carried on): {msg}"
    return out


def _verify(request: VerifyRequest, masker: Masker, timeline: Timeline, state: dict[str, Any],
            say: Callable[[str], None]) -> dict[str, Any]:
    if request.work_dir:
        # Made when missing (like the build's output folder); refused now, before any long work, when it
        # cannot be.
        try:
            os.makedirs(request.work_dir, mode=0o700, exist_ok=True)
            if not os.access(request.work_dir, os.W_OK | os.X_OK):
                raise PermissionError(f"no write access for user {os.geteuid()}")
        except OSError as error:
            raise VerifyFailed("input", f"work_dir {request.work_dir!r} cannot hold the verification's files: "
                                        f"{getattr(error, 'strerror', None) or error}; give a folder this user can"
                                        " write, or leave work_dir empty (the system's temporary folder)") from None
    missing = qemu.missing_tools()
    if missing:
        raise VerifyFailed("tools", f"the build host lacks {', '.join(missing)} (verify boots the image): install "
                                    "qemu-system-x86, qemu-utils, socat and genisoimage (the build_host role does "
                                    "when build_guest_verify is not skip), or set build_guest_verify: skip")
    try:
        venv = trove_client.ensure_venv(request.trove_venv, request.trove_version, request.python,
                                        request.wheelhouse, request.pip_args)
    except trove_client.TroveClientError as error:
        raise VerifyFailed("trove-client", f"Trove's client (trove=={request.trove_version}) could not be "
                                           f"installed in {request.trove_venv}: {error}") from None
    state["trove_client"] = venv
    workdir = tempfile.mkdtemp(prefix="dbaas-verify-", dir=request.work_dir or None)
    node: broker.RabbitMQ | None = None
    guest: qemu.Guest | None = None
    plane: trove_client.ControlPlane | None = None
    try:
        if request.broker is None:
            say("starting a private RabbitMQ on loopback")
            try:
                node = broker.start_private()
                account = node.account()
            except broker.BrokerError as error:
                raise VerifyFailed("broker", f"the private RabbitMQ could not be started: {error}") from None
            masker.add(account.password)
            host, port, user, password, vhost = "127.0.0.1", node.port, account.user, account.password, account.vhost
        else:
            given = request.broker
            masker.add(given.password)
            host, port, user, password, vhost = given.host, given.port, given.user, given.password, given.vhost
        host_url = transport_url(user, password, vhost, host, port)
        _check_broker(venv["python"], request.trove_venv, host, port, user, vhost, host_url, masker)

        guest_id = str(uuid.uuid4())
        guest_url = transport_url(user, password, vhost, *BROKER_IN_GUEST)
        try:
            injected = trove_client.call(request.trove_venv, "taskmanager-files", {
                "guest_id": guest_id, "tenant_id": TENANT, "datastore_manager": request.datastore_manager,
                "datastore_version": request.datastore_version,
                "guest_config_text": trove_client.guestagent_conf(guest_url, request.guest_config_extra),
            })
        except trove_client.TroveClientError as error:
            raise VerifyFailed("user-data", masker(f"Trove's taskmanager code could not make the guest's "
                                                   f"user-data: {error}")) from None
        state["trove_defaults"] = injected.get("defaults")
        drive = configdrive.build(os.path.join(workdir, "config-drive.iso"), guest_id, injected["user_data"])

        forward = qemu.guestfwd(*BROKER_IN_GUEST, host, port)
        guest = _boot(request, workdir, drive, forward, timeline, state, say)
        budget = request.timeout_for(state["accelerator"])
        state["timeout"] = budget
        plane = trove_client.ControlPlane(request.trove_venv, workdir, guest_id, injected["instance_rpc_encr_key"],
                                          host_url, budget=budget).start()
        say(f"booted under {state['accelerator']}; asking guestagent.{guest_id} for up to {budget} s")
        _watch(guest, plane, timeline, state, budget, guest_id)
        stats = plane.event("filesystem_stats")
        if stats is None:
            raise VerifyFailed("filesystem-stats", _failure(
                f"get_filesystem_stats did not answer: {plane.event('error') or plane.log_tail(5)}",
                guest, plane, state, masker))
        total = (stats.get("stats") or {}).get("total")
        if not isinstance(total, (int, float)) or abs(total - request.volume_gib) > VOLUME_TOLERANCE_GIB:
            raise VerifyFailed("filesystem-stats", _failure(
                f"get_filesystem_stats answered {stats.get('stats')!r}: the agent did not mount the "
                f"{request.volume_gib} GiB volume /dev/vdb", guest, plane, state, masker))
        timeline.mark("filesystem_stats", stats["t"])
        state["console_tail"] = console.tail(guest.console(), 20)
        return {"stats": stats.get("stats")}
    finally:
        if plane is not None:
            plane.stop()
        if guest is not None:
            guest.stop()
            state["console_log"] = _keep_console(request, guest, masker)
        if node is not None:
            node.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def _keep_console(request: VerifyRequest, guest: qemu.Guest, masker: Masker) -> str:
    """The guest's whole serial console beside the image (``<image>.verify.console.log``), secrets masked."""
    path = os.path.splitext(request.image)[0] + ".verify.console.log"
    try:
        write_atomically(path, masker(console.plain(guest.console())))
    except OSError:
        return ""
    return path


def _check_broker(python: str, venv: str, host: str, port: int, user: str, vhost: str, url: str,
                  masker: Masker) -> None:
    where = f"{host}:{port}"
    if not broker.listening(host, port, timeout=5):
        raise VerifyFailed("broker", f"nothing accepts connections at the broker {where} (broker_url): start it, "
                                     "or leave broker_url empty for a private one")
    del python
    try:
        answer = trove_client.call(venv, "check-broker", {"url": url}, timeout=60)
    except trove_client.TroveClientError as error:
        raise VerifyFailed("broker", masker(f"could not log in to the broker at {where}: {error}")) from None
    if not answer.get("ok"):
        raise VerifyFailed("broker", masker(
            f"the broker at {where} refused the guest's user {user!r} on vhost {vhost!r}: "
            f"{str(answer.get('error')).rstrip('.')}. "
            "The guest would log in with the same account and never answer: fix the user, password, vhost or "
            "permissions of broker_url"))


def _boot(request: VerifyRequest, workdir: str, drive: str, forward: str, timeline: Timeline,
          state: dict[str, Any], say: Callable[[str], None]) -> qemu.Guest:
    wanted = request.accelerator
    if wanted == "auto":
        wanted = "kvm" if qemu.kvm_usable() else "tcg"
        if wanted == "tcg":
            state["accelerator_note"] = "/dev/kvm is not usable"

    def start(accelerator: str) -> qemu.Guest:
        folder = tempfile.mkdtemp(prefix=f"qemu-{accelerator}-", dir=workdir)
        machine = qemu.Machine(image=request.image, config_drive=drive, volume_gib=request.volume_gib,
                               memory_mib=request.memory_mib, cpus=request.cpus, accelerator=accelerator,
                               forwards=(forward,))
        timeline.start()
        try:
            return qemu.Guest(machine, folder)
        except (OSError, ValueError) as error:
            raise VerifyFailed("boot", f"qemu could not be started: {error}") from None
        except Exception as error:  # subprocess.CalledProcessError from qemu-img
            raise VerifyFailed("boot", f"the overlay of {request.image} could not be made: {error}") from None

    guest = start(wanted)
    if wanted == "kvm" and request.accelerator == "auto":
        deadline = time.monotonic() + request.kvm_probe_timeout
        while guest.running() and time.monotonic() < deadline:
            if console.KERNEL_STARTED.search(console.plain(guest.console())):
                state["accelerator"] = "kvm"
                return guest
            time.sleep(0.5)
        note = (f"KVM probe failed (qemu rc {guest.returncode()}: {guest.qemu_stderr()[-300:]})"
                if not guest.running() else f"KVM probe failed (no kernel output within {request.kvm_probe_timeout} s)")
        guest.stop()
        say(note + "; booting under TCG")
        state["accelerator_note"] = note
        wanted = "tcg"
        guest = start("tcg")
    state["accelerator"] = wanted
    return guest


def _watch(guest: qemu.Guest, plane: trove_client.ControlPlane, timeline: Timeline, state: dict[str, Any],
           budget: int, guest_id: str) -> None:
    deadline = time.monotonic() + budget + 30
    while True:
        text = console.plain(guest.console())
        if console.KERNEL_STARTED.search(text):
            timeline.mark("kernel")
        if console.CLOUD_INIT_DONE.search(text):
            timeline.mark("cloud_init_done")
        if console.AGENT_CONNECTED.search(text):
            timeline.mark("agent_rpc_up")
        if plane.finished():
            break
        if not guest.running():
            raise VerifyFailed("boot", _failure(f"qemu exited (rc {guest.returncode()}) before the agent answered: "
                                                f"{guest.qemu_stderr()[-500:]}", guest, plane, state, None))
        refused = console.CLOUD_INIT_ERROR.search(text)
        if refused:
            raise VerifyFailed("cloud-init", _failure(
                f"the guest agent never answered, and cannot: cloud-init could not write Trove's files"
                f" ({refused.group(0)}): the image lacks the injected_config_owner/group Trove uses, so"
                " trove-guestagent.conf is never written",
                guest, plane, state, None))
        if time.monotonic() > deadline:
            break
        time.sleep(1)
    answered = plane.event("rpc_ping")
    if answered is None:
        text = console.plain(guest.console())
        if "cloud_init_done" not in timeline.marks:
            step, why = "cloud-init", f"cloud-init did not finish within {budget} s, and the guest agent never answered"
        else:
            step = "agent-rpc"
            why = f"the guest agent never answered rpc_ping on guestagent.{guest_id} within {budget} s"
        error = plane.event("error")
        if error and plane.event("timeout") is None:
            why += f" (Trove's client failed: {error.get('error')})"
        del text
        raise VerifyFailed(step, _failure(why, guest, plane, state, None))
    timeline.mark("first_answer", answered["t"])


def _failure(why: str, guest: qemu.Guest, plane: trove_client.ControlPlane, state: dict[str, Any],
             masker: Masker | None) -> str:
    text = guest.console()
    errors = console.agent_errors(text)
    tail = console.tail(text, 40)
    state["console_tail"] = tail
    state["agent_errors"] = errors
    events = [event for event in plane.events() if event.get("event") in ("ping_error", "error", "timeout")][-3:]
    message = (f"{why}\n--- the agent's last error lines ---\n{chr(10).join(errors) or '(none on the console)'}\n"
               f"--- Trove client ---\n{events or plane.log_tail(5) or '(no events)'}\n"
               f"--- serial console (tail) ---\n{tail}")
    return masker(message) if masker else message
