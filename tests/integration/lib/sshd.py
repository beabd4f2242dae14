# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Throw-away SSH build hosts on loopback, for tests: real sshd, real users, real sudo.

Each host is one ``sshd -D -f CONFIG`` on its own 127.0.0.1 port, with its own
host key, config, PidFile and log, and one unprivileged user of its own (own
home, key-only login; passwordless sudo unless ``sudo=False``). The client key
and a known_hosts file holding every host key are written by this module, so
tests connect with host key checking ON.

    fleet = SshFleet.start([("b1", True), ("b2", True), ("nosudo", False)])
    fleet.inventory("build_hosts")   # Ansible inventory dict; connection sharing off
    fleet.hosts["b2"].stop()         # the port now refuses connections
    fleet.close()                    # sshd processes, users, homes, sudoers rules gone

The sshd processes are direct children of the test and are stopped by their
own id; users and sudoers files carry a per-run prefix, so nothing of another
run or of the machine is touched.
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
import textwrap
import time
from collections.abc import Iterator

SSHD = "/usr/sbin/sshd"
SUDOERS_DIR = "/etc/sudoers.d"
# Not below /tmp or /var/tmp: sshd's StrictModes refuses key files below a
# world-writable folder, and the users must reach their homes.
BASE_DIR = "/var/lib/dbaas-guest-images-tests"


class SshdError(RuntimeError):
    """An sshd or its user could not be set up; the message ends with the sshd log tail."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, capture_output=True, text=True, **kwargs)


@dataclasses.dataclass
class SshHost:
    """One build host: an sshd on 127.0.0.1:port letting one user in."""

    name: str
    user: str
    home: str
    port: int
    sudo: bool
    folder: str
    process: subprocess.Popen | None = None

    @property
    def config(self) -> str:
        return os.path.join(self.folder, "sshd_config")

    @property
    def log(self) -> str:
        return os.path.join(self.folder, "sshd.log")

    def start(self) -> None:
        if self.process is not None and self.process.poll() is None:
            return
        # sshd's privilege separation folder: made by the sshd service, absent where it never ran (a fresh machine).
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", self.config], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SshdError(f"sshd of {self.name} exited with {self.process.returncode}: {self.log_tail()}")
            if _listening(self.port):
                return
            time.sleep(0.1)
        raise SshdError(f"sshd of {self.name} does not listen on 127.0.0.1:{self.port}: {self.log_tail()}")

    def stop(self) -> None:
        """Stop this host's sshd (and its sessions' parent); the port then refuses connections."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log_tail(self, lines: int = 20) -> str:
        with contextlib.suppress(OSError), open(self.log, errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
        return "(no log)"


@contextlib.contextmanager
def own_user_sshd(folder: str) -> Iterator[tuple[int, str]]:
    """An sshd on a free 127.0.0.1 port letting the current user in with a key of its own: yields (port, key).

    For an SSH build host without a user of its own (the client turns host key checking off). ``folder``
    is made afresh and holds the keys, config, PidFile and log; the sshd is stopped when the block ends.
    """
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for key in ("host_key", "user_key"):
        _run(["ssh-keygen", "-q", "-N", "", "-t", "ed25519", "-f", os.path.join(folder, key)])
    shutil.copy(os.path.join(folder, "user_key.pub"), os.path.join(folder, "authorized_keys"))
    account = pwd.getpwuid(os.getuid())
    host = SshHost(name="own-user", user=account.pw_name, home=account.pw_dir, port=free_port(), sudo=False,
                   folder=folder)
    with open(host.config, "w", encoding="utf-8") as handle:
        handle.write(textwrap.dedent(f"""\
            Port {host.port}
            ListenAddress 127.0.0.1
            HostKey {os.path.join(folder, "host_key")}
            PidFile {os.path.join(folder, "sshd.pid")}
            AuthorizedKeysFile {os.path.join(folder, "authorized_keys")}
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            StrictModes no
            UsePAM no
            """))
    host.start()
    try:
        yield host.port, os.path.join(folder, "user_key")
    finally:
        host.stop()


@dataclasses.dataclass
class SshFleet:
    """Several SSH build hosts, the client key and known_hosts they share."""

    folder: str
    client_key: str
    known_hosts: str
    hosts: dict[str, SshHost]

    @classmethod
    def start(cls, wanted: list[tuple[str, bool]], prefix: str | None = None) -> SshFleet:
        """Start one host per ``(name, sudo)``; user names are ``<prefix><name>``."""
        prefix = prefix or f"gif{secrets.token_hex(2)}"
        # Homes live below a world-traversable folder: sshd's StrictModes and
        # the users themselves must reach them.
        os.makedirs(BASE_DIR, mode=0o755, exist_ok=True)
        folder = tempfile.mkdtemp(prefix="sshd-", dir=BASE_DIR)
        os.chmod(folder, 0o755)
        client_key = os.path.join(folder, "client_ed25519")
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "guest-images-test", "-f", client_key])
        with open(client_key + ".pub") as handle:
            public_key = handle.read().strip()
        fleet = cls(folder=folder, client_key=client_key, known_hosts=os.path.join(folder, "known_hosts"), hosts={})
        try:
            known = []
            for name, sudo in wanted:
                host = fleet._make_host(name, f"{prefix}{name}"[:31], sudo, public_key)
                with open(os.path.join(host.folder, "ssh_host_ed25519_key.pub")) as handle:
                    key_type, key_data = handle.read().split()[:2]
                known.append(f"[127.0.0.1]:{host.port} {key_type} {key_data}\n")
                fleet.hosts[name] = host
            with open(fleet.known_hosts, "w") as handle:
                handle.writelines(known)
            for host in fleet.hosts.values():
                host.start()
        except BaseException:
            fleet.close()
            raise
        return fleet

    def _make_host(self, name: str, user: str, sudo: bool, public_key: str) -> SshHost:
        host_folder = os.path.join(self.folder, name)
        os.makedirs(host_folder, mode=0o755)
        home = os.path.join(self.folder, "home", user)
        os.makedirs(os.path.dirname(home), mode=0o755, exist_ok=True)
        os.chmod(os.path.dirname(home), 0o755)
        _run(["useradd", "--create-home", "--home-dir", home, "--shell", "/bin/bash", "--user-group", user])
        # '*': no password login, but not a locked account (sshd refuses locked ones).
        _run(["usermod", "-p", "*", user])
        host = SshHost(name=name, user=user, home=home, port=free_port(), sudo=sudo, folder=host_folder)
        self.hosts[name] = host  # cleaned up by close() from here on
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(host_folder, "ssh_host_ed25519_key")])
        authorized = os.path.join(host_folder, "authorized_keys")
        with open(authorized, "w") as handle:
            handle.write(public_key + "\n")
        os.chmod(authorized, 0o644)
        with open(host.config, "w") as handle:
            handle.write(
                f"Port {host.port}\n"
                "ListenAddress 127.0.0.1\n"
                f"HostKey {host_folder}/ssh_host_ed25519_key\n"
                f"PidFile {host_folder}/sshd.pid\n"
                f"AuthorizedKeysFile {authorized}\n"
                f"AllowUsers {user}\n"
                "PasswordAuthentication no\n"
                "KbdInteractiveAuthentication no\n"
                "PermitRootLogin no\n"
                "UsePAM no\n"
                "StrictModes yes\n"
                "LogLevel VERBOSE\n"
                "Subsystem sftp internal-sftp\n"
            )
        if sudo:
            rule = os.path.join(SUDOERS_DIR, f"guest-images-test-{user}")
            tmp = rule + ".tmp"
            with open(tmp, "w") as handle:
                handle.write(f"{user} ALL=(ALL) NOPASSWD: ALL\n")
            os.chmod(tmp, 0o440)
            _run(["visudo", "-c", "-q", "-f", tmp])
            os.replace(tmp, rule)
        return host

    def host_vars(self, host: SshHost) -> dict:
        """Ansible connection variables for one host: host key checking on, connection sharing off."""
        return {
            "ansible_host": "127.0.0.1",
            "ansible_port": host.port,
            "ansible_user": host.user,
            "ansible_connection": "ssh",
            "ansible_ssh_private_key_file": self.client_key,
            # No ControlMaster/ControlPersist: a stopped sshd must really be unreachable.
            "ansible_ssh_args": "-o ControlMaster=no -o ControlPath=none -o ControlPersist=no",
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={self.known_hosts} -o StrictHostKeyChecking=yes"
                " -o GlobalKnownHostsFile=/dev/null -o ConnectTimeout=5"
            ),
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def inventory(self, group: str = "build_hosts", names: list[str] | None = None, extra: dict | None = None) -> dict:
        """An inventory with the chosen hosts (default: all) in ``group``, plus localhost for the controller."""
        chosen = names if names is not None else list(self.hosts)
        hosts = {}
        for name in chosen:
            hosts[name] = dict(self.host_vars(self.hosts[name]), **((extra or {}).get(name, {})))
        return {
            "all": {
                "hosts": {"localhost": {"ansible_connection": "local",
                                        "ansible_python_interpreter": "{{ ansible_playbook_python }}"}},
                "children": {group: {"hosts": hosts}},
            }
        }

    def mounts(self) -> list[str]:
        """Mount points below this fleet's folder (a build still running, or one that left mounts)."""
        with open("/proc/self/mounts") as handle:
            points = [line.split()[1].encode().decode("unicode_escape") for line in handle]
        return [point for point in points if point == self.folder or point.startswith(self.folder + os.sep)]

    def user_processes(self) -> list[int]:
        """Ids of the processes the fleet's users still run (builds this test started through them)."""
        pids = []
        for host in self.hosts.values():
            with contextlib.suppress(KeyError):
                uid = pwd.getpwnam(host.user).pw_uid
                for entry in os.listdir("/proc"):
                    if entry.isdigit():
                        with contextlib.suppress(OSError):
                            if os.stat(f"/proc/{entry}").st_uid == uid:
                                pids.append(int(entry))
        return pids

    def close(self) -> None:
        """Stop the sshds, end what the users still run, remove users, sudoers rules and folders.

        The folders are removed only when nothing is mounted below them: a build's chroot
        has the host's /proc, /sys and more bind-mounted, and removing through those would
        remove the host's own files.
        """
        for host in self.hosts.values():
            host.stop()
        # A build these users started must not outlive the test: end it (its own cleanup
        # unmounts), then make sure.
        for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 10.0)):
            pids = self.user_processes()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
            deadline = time.monotonic() + wait
            while pids and self.user_processes() and time.monotonic() < deadline:
                time.sleep(0.5)
        deadline = time.monotonic() + 30
        while self.mounts() and time.monotonic() < deadline:
            time.sleep(0.5)
        for host in list(self.hosts.values()):
            rule = os.path.join(SUDOERS_DIR, f"guest-images-test-{host.user}")
            with contextlib.suppress(FileNotFoundError):
                os.unlink(rule)
            with contextlib.suppress(KeyError):
                pwd.getpwnam(host.user)
                subprocess.run(["userdel", "--force", host.user], check=False, capture_output=True)
            subprocess.run(["groupdel", host.user], check=False, capture_output=True)
        self.hosts = {}
        left = self.mounts()
        if left:
            raise SshdError(f"not removing {self.folder}: still mounted below it: {', '.join(left)}")
        shutil.rmtree(self.folder, ignore_errors=True)
