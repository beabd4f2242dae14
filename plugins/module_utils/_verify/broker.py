# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away RabbitMQ (the distribution's ``rabbitmq-server``) on the build host's loopback.

PRIVATE to the collection: no compatibility promise outside it.

The node runs with its own node name, AMQP port, distribution port, private
epmd (loopback too) and its own data, log and cookie folder, so a RabbitMQ the
host already runs is not touched and nothing listens beyond 127.0.0.1. As
root the processes run as the ``rabbitmq`` user; otherwise as the caller.

The Erlang scripts are called directly (``/usr/lib/rabbitmq/bin``) with an
explicit environment: the ``/usr/sbin`` wrappers reset the environment that
carries the ports and folders. Each process is a direct child started in its
own session, so it is stopped and reaped by its own process group. Passwords
go to ``rabbitmqctl`` on stdin, never on a command line.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"
RABBITMQ_USER = "rabbitmq"


class BrokerError(RuntimeError):
    """The broker could not be started or configured; the message ends with its log tail."""


def free_port() -> int:
    """A loopback port nothing listens on now (a fresh one per node: a reused one can be in TIME_WAIT)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def listening(host: str, port: int, timeout: float = 1) -> bool:
    """True when something accepts TCP connections at ``host:port``."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=timeout):
        return True
    return False


def available() -> str:
    """Empty when rabbitmq-server is installed, else what is missing and how to get it."""
    if not os.path.exists(os.path.join(RABBITMQ_BIN, "rabbitmq-server")) or shutil.which("epmd") is None:
        return ("rabbitmq-server is not installed on the build host (the verify stage starts a private one): "
                "install it (the build_host role does when build_guest_verify is not skip) or give broker_url")
    return ""


@dataclass(frozen=True)
class Account:
    """One user with full rights on its own vhost, made for one guest."""

    user: str
    password: str
    vhost: str


@dataclass
class RabbitMQ:
    """A private node: ``start()``, ``account()``, ``stop()`` (which removes everything it made)."""

    folder: str
    node: str
    port: int
    dist_port: int
    epmd_port: int
    run_as: str | None
    process: subprocess.Popen[bytes] | None = None
    epmd: subprocess.Popen[bytes] | None = None
    secrets_seen: list[str] = field(default_factory=list)

    @property
    def log_dir(self) -> str:
        return os.path.join(self.folder, "log")

    def env(self) -> dict[str, str]:
        """The environment that keeps the node on loopback, in its own folder and ports."""
        return {
            "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
            "HOME": self.folder,
            "LANG": "C.UTF-8",
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.folder, "mnesia"),
            "RABBITMQ_LOG_BASE": self.log_dir,
            "RABBITMQ_PID_FILE": os.path.join(self.folder, "rabbitmq.pid"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.folder, "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": os.path.join(self.folder, "advanced.config"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.folder, "rabbitmq-env.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.folder, "enabled_plugins"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def _popen_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"env": self.env(), "cwd": self.folder}
        if self.run_as:
            args.update(user=self.run_as, group=self.run_as, extra_groups=[])
        return args

    def ctl(self, *args: str, stdin: str | None = None, timeout: float = 60) -> str:
        """``rabbitmqctl ARGS`` against this node; returns stdout, raises BrokerError on failure."""
        argv = [os.path.join(RABBITMQ_BIN, "rabbitmqctl"), "-n", self.node, *args]
        try:
            proc = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False,
                                  **self._popen_args())
        except subprocess.TimeoutExpired:
            raise BrokerError(f"rabbitmqctl {args[0]} did not finish within {timeout} s\n{self.log_tail()}") from None
        if proc.returncode != 0:
            raise BrokerError(f"rabbitmqctl {args[0]} failed (rc {proc.returncode}): "
                              f"{self._masked(proc.stderr.strip() or proc.stdout.strip())}\n{self.log_tail()}")
        return proc.stdout

    def _masked(self, text: str) -> str:
        for secret in self.secrets_seen:
            text = text.replace(secret, "********")
        return text

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the node's logs (for failure messages)."""
        texts = []
        for name in sorted(os.listdir(self.log_dir)) if os.path.isdir(self.log_dir) else []:
            with contextlib.suppress(OSError), open(os.path.join(self.log_dir, name), errors="replace") as handle:
                texts.append(f"--- {name} ---\n" + "\n".join(handle.read().splitlines()[-lines:]))
        return self._masked("\n".join(texts)) or "(no broker log)"

    def start(self, timeout: float = 120) -> RabbitMQ:
        """Start epmd and the node; return once the node accepts AMQP connections and has booted."""
        self.epmd = subprocess.Popen(
            ["epmd", "-address", "127.0.0.1", "-port", str(self.epmd_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, **self._popen_args(),
        )
        out_path = os.path.join(self.folder, "server.out")
        with open(out_path, "wb") as out:
            self.process = subprocess.Popen(
                [os.path.join(RABBITMQ_BIN, "rabbitmq-server")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, **self._popen_args(),
            )
        deadline = time.monotonic() + timeout
        while not listening("127.0.0.1", self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                out_text = ""
                with contextlib.suppress(OSError), open(out_path, errors="replace") as handle:
                    out_text = handle.read()[-3000:]
                self.stop()
                raise BrokerError(f"the private RabbitMQ did not listen on 127.0.0.1:{self.port} within "
                                  f"{timeout:.0f} s:\n{out_text}")
            time.sleep(0.5)
        self.ctl("await_startup", timeout=timeout)
        return self

    def account(self, prefix: str = "dbaas-verify") -> Account:
        """A new user with a one-time password and its own vhost (full rights there only)."""
        suffix = secrets.token_hex(4)
        account = Account(user=f"{prefix}-{suffix}", password=secrets.token_urlsafe(18), vhost=f"{prefix}-{suffix}")
        self.secrets_seen.append(account.password)
        self.ctl("add_vhost", account.vhost)
        # Without a password argument rabbitmqctl reads it from stdin: it never shows in a process list.
        self.ctl("add_user", account.user, stdin=account.password + "\n")
        self.ctl("set_permissions", "-p", account.vhost, account.user, ".*", ".*", ".*")
        return account

    def stop(self) -> None:
        """Stop the node and its epmd (by their process groups) and remove the folder."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(BrokerError):
                self.ctl("stop", timeout=60)
        for proc in (self.process, self.epmd):
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
            # The group outlives its leader when the node forked helpers (erl_child_setup, inet_gethost).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.process = self.epmd = None
        shutil.rmtree(self.folder, ignore_errors=True)


def start_private(timeout: float = 120) -> RabbitMQ:
    """A fresh node on fresh loopback ports, in a fresh folder; raises BrokerError (nothing left behind)."""
    missing = available()
    if missing:
        raise BrokerError(missing)
    run_as: str | None = None
    uid = gid = -1
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam(RABBITMQ_USER)
        except KeyError:
            raise BrokerError(f"the {RABBITMQ_USER} user is missing: reinstall rabbitmq-server") from None
        run_as, uid, gid = RABBITMQ_USER, account.pw_uid, account.pw_gid
    # Not below a private folder of the caller: the node may run as another user.
    folder = tempfile.mkdtemp(prefix="dbaas-verify-rabbitmq-")
    try:
        if run_as:
            os.chown(folder, uid, gid)
        plugins = os.path.join(folder, "enabled_plugins")
        with open(plugins, "w", encoding="ascii") as handle:
            handle.write("[].\n")
        if run_as:
            os.chown(plugins, uid, gid)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    node = RabbitMQ(folder=folder, node=f"dbaas-verify-{secrets.token_hex(3)}@localhost", port=free_port(),
                    dist_port=free_port(), epmd_port=free_port(), run_as=run_as)
    try:
        return node.start(timeout=timeout)
    except BaseException:
        node.stop()
        raise
