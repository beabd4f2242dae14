# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A throw-away RabbitMQ (Debian's ``rabbitmq-server``) on loopback, for tests.

The node runs as the ``rabbitmq`` user with its own node name, AMQP port,
distribution port, private epmd (also on loopback, started and stopped here)
and its own data, log and cookie folder: a RabbitMQ the host may run is not
touched, and nothing listens beyond 127.0.0.1.

    broker = start_rabbitmq()                 # up in a few seconds
    account = broker.account()                # user, one-time password, vhost
    account.url("10.0.2.100", 5672)           # rabbit://user:pw@10.0.2.100:5672/vhost
    broker.stop()                             # node, epmd and folder gone

The Erlang scripts are called directly (``/usr/lib/rabbitmq/bin``), as the
``rabbitmq`` user and with an explicit environment: the ``/usr/sbin`` wrappers
reset the environment that carries the ports and folders. Each process is a
direct child of the test (no ``runuser`` in between), so it is stopped and
reaped by its own id.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse

RABBITMQ_BIN = "/usr/lib/rabbitmq/bin"
RABBITMQ_USER = "rabbitmq"


class BrokerError(RuntimeError):
    """The broker could not be started or configured; the message ends with its log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


@dataclasses.dataclass(frozen=True)
class Account:
    """One user with full rights on its own vhost."""

    user: str
    password: str
    vhost: str

    def url(self, host: str, port: int) -> str:
        """The oslo.messaging ``transport_url`` for this account at ``host:port``."""
        quote = urllib.parse.quote
        credentials = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}"
        return f"rabbit://{credentials}@{host}:{port}/{quote(self.vhost, safe='')}"


@dataclasses.dataclass
class RabbitMQ:
    folder: str
    node: str
    port: int
    dist_port: int
    epmd_port: int
    process: subprocess.Popen | None = None
    epmd: subprocess.Popen | None = None
    accounts: list = dataclasses.field(default_factory=list)

    @property
    def log_dir(self) -> str:
        return os.path.join(self.folder, "log")

    def env(self) -> dict:
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

    def _popen_args(self) -> dict:
        return {"user": RABBITMQ_USER, "group": RABBITMQ_USER, "extra_groups": [], "env": self.env(),
                "cwd": self.folder}

    def ctl(self, *args: str, timeout: float = 60) -> str:
        """``rabbitmqctl ARGS`` against this node; returns stdout, raises BrokerError on failure."""
        argv = [os.path.join(RABBITMQ_BIN, "rabbitmqctl"), "-n", self.node, *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                              **self._popen_args())
        if proc.returncode != 0:
            shown = [arg if arg not in {a.password for a in self.accounts} else "***" for arg in args]
            raise BrokerError(f"rabbitmqctl {' '.join(shown)} failed (rc {proc.returncode}): "
                              f"{proc.stderr.strip() or proc.stdout.strip()}\n{self.log_tail()}")
        return proc.stdout

    def log_tail(self, lines: int = 30) -> str:
        texts = []
        for name in sorted(os.listdir(self.log_dir)) if os.path.isdir(self.log_dir) else []:
            with contextlib.suppress(OSError), open(os.path.join(self.log_dir, name), errors="replace") as handle:
                texts.append(f"--- {name} ---\n" + "\n".join(handle.read().splitlines()[-lines:]))
        return "\n".join(texts) or "(no broker log)"

    def start(self, timeout: float = 120) -> RabbitMQ:
        self.epmd = subprocess.Popen(
            ["epmd", "-address", "127.0.0.1", "-port", str(self.epmd_port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True, **self._popen_args(),
        )
        with open(os.path.join(self.folder, "server.out"), "wb") as out:
            self.process = subprocess.Popen(
                [os.path.join(RABBITMQ_BIN, "rabbitmq-server")],
                stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True, **self._popen_args(),
            )
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.process.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(OSError), open(os.path.join(self.folder, "server.out"), errors="replace") as h:
                    out_text = h.read()[-3000:]
                self.stop()
                raise BrokerError(f"RabbitMQ did not listen on 127.0.0.1:{self.port} within {timeout} s\n"
                                  f"{out_text}")
            time.sleep(0.5)
        self.ctl("await_startup", timeout=timeout)
        return self

    def account(self, prefix: str = "dbaas") -> Account:
        """A new user with a one-time password and its own vhost (full rights there only)."""
        suffix = secrets.token_hex(4)
        account = Account(user=f"{prefix}-{suffix}", password=secrets.token_urlsafe(18), vhost=f"{prefix}-{suffix}")
        self.accounts.append(account)
        self.ctl("add_vhost", account.vhost)
        self.ctl("add_user", account.user, account.password)
        self.ctl("set_permissions", "-p", account.vhost, account.user, ".*", ".*", ".*")
        return account

    def connections(self) -> list:
        """User names of the open AMQP connections (one per line of ``list_connections user``)."""
        out = self.ctl("list_connections", "user", "--quiet", "--no-table-headers")
        return [line.strip() for line in out.splitlines() if line.strip()]

    def stop(self) -> None:
        """Stop the node and its epmd (by their process groups) and remove the folder."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(BrokerError, subprocess.TimeoutExpired):
                self.ctl("stop", timeout=60)
        for proc in (self.process, self.epmd):
            if proc is None:
                continue
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=20)
            # The group outlives its leader when the node forked helpers (erl_child_setup, inet_gethost).
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        self.process = self.epmd = None
        shutil.rmtree(self.folder, ignore_errors=True)


def start_rabbitmq(timeout: float = 120) -> RabbitMQ:
    """A fresh node on fresh loopback ports (a port reused within a minute can still be in TIME_WAIT)."""
    if not os.path.exists(os.path.join(RABBITMQ_BIN, "rabbitmq-server")):
        raise BrokerError("rabbitmq-server is missing: install it (bindep.txt, profile test)")
    account = pwd.getpwnam(RABBITMQ_USER)
    # Not under pytest's tmp folder: that one is private to root, and the node runs as rabbitmq.
    folder = tempfile.mkdtemp(prefix="dbaas-rabbitmq-")
    os.chown(folder, account.pw_uid, account.pw_gid)
    suffix = secrets.token_hex(3)
    broker = RabbitMQ(folder=folder, node=f"dbaas-{suffix}@localhost", port=free_port(),
                      dist_port=free_port(), epmd_port=free_port())
    with open(os.path.join(folder, "enabled_plugins"), "w") as handle:
        handle.write("[].\n")
    os.chown(os.path.join(folder, "enabled_plugins"), account.pw_uid, account.pw_gid)
    return broker.start(timeout=timeout)
