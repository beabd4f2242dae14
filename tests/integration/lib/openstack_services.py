# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real OpenStack services from PyPI on loopback, for integration tests.

Reusable pieces (the Trove fixture uses them too):

- ``ensure_venv(name, requirements)``: a venv in the cache folder, built once.
- ``free_port()``, ``wait_for_http(url)``.
- ``write_ini(path, sections)``: an oslo.config file from a dict of dicts.
- ``WsgiService``: one WSGI app served by uWSGI from a venv; ``start()``, ``stop()``,
  ``restart()``, ``url``, ``log_path``.
- ``start_keystone(workdir)`` -> ``Keystone`` (admin/member users, clouds.yaml entries,
  ``register_service()`` to add a service user, a catalog service and its endpoints).
- ``start_glance(workdir, keystone)`` -> ``WsgiService`` for Glance (filesystem store).
"""

from __future__ import annotations

import configparser
import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lib.listener import LoopbackListener

UWSGI = "uwsgi==2.0.31"
KEYSTONE_REQUIREMENTS = ("keystone==30.0.0", UWSGI)
GLANCE_REQUIREMENTS = ("glance==33.0.0", UWSGI)

REGION = "RegionOne"
DOMAIN = "Default"


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dbaas-guest-images" / "services"


def ensure_venv(name: str, requirements, python: str | None = None) -> Path:
    """Create (once) a venv holding ``requirements`` in the cache; reused while they do not change.

    A venv's scripts carry its absolute path, so it is built in place; the stamp file written
    last marks it complete, and a lock keeps two test sessions from building it at once.
    """
    key = hashlib.sha256(json.dumps(sorted(requirements)).encode()).hexdigest()[:12]
    venv = cache_root() / f"{name}-{key}"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stamp = venv / ".installed"
        if stamp.is_file():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([python or _base_python(), "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "-U", "pip", "setuptools", "wheel"], check=True)
        subprocess.run([*pip, *requirements], check=True)
        stamp.write_text(json.dumps(list(requirements)) + "\n")
    return venv


def _base_python() -> str:
    # The services need the interpreter, not the test venv's packages.
    return getattr(sys, "_base_executable", None) or sys.executable


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 120.0, process: subprocess.Popen | None = None,
                  log_path: Path | None = None) -> None:
    """Wait until ``url`` answers any HTTP status; fail early if ``process`` died."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: server exited with {process.returncode}\n{_tail(log_path)}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError as exc:
            last = exc
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f}s ({last})\n{_tail(log_path)}")


def _tail(path: Path | None, lines: int = 40) -> str:
    if not path or not Path(path).is_file():
        return ""
    return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])


def ini_text(sections: dict) -> str:
    """``{section: {key: value}}`` -> INI text, sections and keys in the given order."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    for section, values in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in values.items():
            parser.set(section, key, str(value))
    out = io.StringIO()
    parser.write(out)
    return out.getvalue()


def write_ini(path: Path, sections: dict) -> Path:
    """A service's config file; booleans written as oslo.config spells them."""
    lowered = {section: {key: ("true" if value else "false") if isinstance(value, bool) else value
                         for key, value in values.items()}
               for section, values in sections.items()}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(ini_text(lowered))
    return path


@dataclass
class WsgiService:
    """A WSGI application from ``venv`` served by uWSGI on 127.0.0.1:``port``."""

    name: str
    venv: Path
    module: str  # e.g. "keystone.wsgi.api:application"
    workdir: Path
    env: dict = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    processes: int = 2
    threads: int = 1
    health_path: str = "/"
    extra_args: list = field(default_factory=list)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    def bin(self, command: str) -> str:
        return str(self.venv / "bin" / command)

    def argv(self) -> list:
        return [
            self.bin("uwsgi"),
            "--http-socket", f"127.0.0.1:{self.port}",
            "--module", self.module,
            "--master", "--need-app", "--die-on-term", "--enable-threads",
            "--processes", str(self.processes), "--threads", str(self.threads),
            "--buffer-size", "65535",
            # Stop quickly: tests stop and start services.
            "--worker-reload-mercy", "3", "--reload-mercy", "3",
            # Request bodies may be chunked (streamed uploads): let the app read them.
            "--http-chunked-input", "--http-raw-body", "--chunked-input-limit", "4194304",
            "--add-header", "Connection: close",
            "--logto", str(self.log_path),
            *self.extra_args,
        ]

    def start(self, timeout: float = 120.0) -> WsgiService:
        if self.process is not None and self.process.poll() is None:
            return self
        env = dict(os.environ)
        env.update(self.env)
        env["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONPATH", None)
        # uWSGI embeds libpython; make it load the one of the venv's own interpreter (its build may have
        # linked another Python 3.x of the same minor version found on the system).
        libdir = python_libdir(self.venv)
        if libdir:
            env["LD_LIBRARY_PATH"] = os.pathsep.join(p for p in (libdir, env.get("LD_LIBRARY_PATH")) if p)
        self.process = subprocess.Popen(self.argv(), cwd=self.workdir, env=env, stdin=subprocess.DEVNULL,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        wait_for_http(self.url + self.health_path, timeout=timeout, process=self.process, log_path=self.log_path)
        return self

    def stop(self, timeout: float = 20.0) -> None:
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue

    def kill(self) -> None:
        """Stop at once (SIGKILL), as a crash or a cut cable would."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def restart(self) -> WsgiService:
        self.stop()
        return self.start()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def describe(self) -> dict:
        """How another process reaches this service (``attached``); its process stays this one's."""
        return {"name": self.name, "venv": str(self.venv), "module": self.module, "workdir": str(self.workdir),
                "env": self.env, "port": self.port, "health_path": self.health_path}

    @classmethod
    def attached(cls, description: dict) -> WsgiService:
        """A service another process runs: reachable, but ``running`` is False and ``stop()`` does nothing."""
        return cls(name=description["name"], venv=Path(description["venv"]), module=description["module"],
                   workdir=Path(description["workdir"]), env=description["env"], port=description["port"],
                   health_path=description["health_path"])


def python_libdir(venv: Path) -> str | None:
    proc = subprocess.run([str(venv / "bin" / "python"), "-c",
                           "import sysconfig; print(sysconfig.get_config_var('LIBDIR') or '')"],
                          capture_output=True, text=True, check=True)
    return proc.stdout.strip() or None


def run(argv, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("PYTHONPATH", None)
    full_env.update(env or {})
    proc = subprocess.run([str(a) for a in argv], env=full_env, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@dataclass
class User:
    name: str
    password: str
    project: str

    def auth(self, auth_url: str) -> dict:
        return {
            "auth_url": auth_url,
            "username": self.name,
            "password": self.password,
            "project_name": self.project,
            "user_domain_name": DOMAIN,
            "project_domain_name": DOMAIN,
        }


@dataclass
class Keystone:
    service: WsgiService
    admin: User
    users: dict = field(default_factory=dict)  # cloud name -> User

    @property
    def auth_url(self) -> str:
        return self.service.url + "/v3"

    def connection(self, user: User | None = None):
        import openstack

        return openstack.connect(auth=(user or self.admin).auth(self.auth_url), auth_type="password",
                                 region_name=REGION, identity_api_version="3")

    def ensure_user(self, name: str, password: str, project: str, role: str) -> User:
        conn = self.connection()
        domain = conn.identity.find_domain(DOMAIN) or conn.identity.get_domain("default")
        proj = conn.identity.find_project(project, domain_id=domain.id) or conn.identity.create_project(
            name=project, domain_id=domain.id)
        usr = conn.identity.find_user(name, domain_id=domain.id) or conn.identity.create_user(
            name=name, password=password, domain_id=domain.id, default_project_id=proj.id)
        role_obj = conn.identity.find_role(role)
        conn.identity.assign_project_role_to_user(proj, usr, role_obj)
        return User(name, password, project)

    def register_service(self, name: str, service_type: str, url: str, password: str | None = None) -> User | None:
        """A catalog entry (public/internal/admin endpoints at ``url``) and, with ``password``,
        a service user ``name`` holding ``admin`` (and ``service``) in project ``service``."""
        conn = self.connection()
        svc = conn.identity.create_service(name=name, type=service_type, description=f"{name} (tests)")
        for interface in ("public", "internal", "admin"):
            conn.identity.create_endpoint(service_id=svc.id, interface=interface, url=url, region_id=REGION)
        if password is None:
            return None
        user = self.ensure_user(name, password, "service", "admin")
        if conn.identity.find_role("service"):
            self.ensure_user(name, password, "service", "service")
        return user

    def clouds(self) -> dict:
        """clouds.yaml content: one cloud per user, password auth."""
        clouds = {}
        for cloud_name, user in self.users.items():
            clouds[cloud_name] = {
                "auth_type": "password",
                "auth": user.auth(self.auth_url),
                "region_name": REGION,
                "identity_api_version": "3",
                "interface": "public",
            }
        return {"clouds": clouds}

    def stop(self) -> None:
        self.service.stop()

    def describe(self) -> dict:
        return {"service": self.service.describe(), "admin": vars(self.admin),
                "users": {cloud: vars(user) for cloud, user in self.users.items()}}

    @classmethod
    def attached(cls, description: dict) -> Keystone:
        """The Keystone another process started (``describe``)."""
        return cls(service=WsgiService.attached(description["service"]), admin=User(**description["admin"]),
                   users={cloud: User(**user) for cloud, user in description["users"].items()})


def start_keystone(workdir: Path, admin_password: str = "admin-secret") -> Keystone:
    venv = ensure_venv("keystone", KEYSTONE_REQUIREMENTS)
    workdir = Path(workdir)
    conf_dir = workdir / "etc"
    service = WsgiService("keystone", venv, "keystone.wsgi.api:application", workdir,
                          env={"OS_KEYSTONE_CONFIG_DIR": str(conf_dir)}, health_path="/v3")
    write_ini(conf_dir / "keystone.conf", {
        "DEFAULT": {"log_file": str(workdir / "keystone-app.log"), "debug": False},
        "database": {"connection": f"sqlite:///{workdir / 'keystone.db'}"},
        "token": {"provider": "fernet", "expiration": 7200},
        "fernet_tokens": {"key_repository": str(workdir / "fernet-keys")},
        "credential": {"key_repository": str(workdir / "credential-keys")},
        "cache": {"enabled": False},
        # Cheap password hashing: tests authenticate often; production strength is not the point here.
        "identity": {"password_hash_rounds": 4},
    })
    manage = [service.bin("keystone-manage"), "--config-dir", str(conf_dir)]
    user = _current_user()
    run([*manage, "db_sync"])
    run([*manage, "fernet_setup", "--keystone-user", user[0], "--keystone-group", user[1]])
    run([*manage, "credential_setup", "--keystone-user", user[0], "--keystone-group", user[1]])
    run([*manage, "bootstrap", "--bootstrap-password", admin_password,
         "--bootstrap-admin-url", service.url + "/v3", "--bootstrap-internal-url", service.url + "/v3",
         "--bootstrap-public-url", service.url + "/v3", "--bootstrap-region-id", REGION])
    service.start()
    admin = User("admin", admin_password, "admin")
    return Keystone(service=service, admin=admin, users={"gi-admin": admin})


def _current_user() -> tuple:
    import grp
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name


def start_glance(workdir: Path, keystone: Keystone, password: str = "glance-secret") -> WsgiService:
    """Glance API (filesystem store, sqlite) authenticating against ``keystone``."""
    venv = ensure_venv("glance", GLANCE_REQUIREMENTS)
    workdir = Path(workdir)
    conf_dir = workdir / "etc"
    service = WsgiService("glance", venv, "glance.wsgi.api:application", workdir,
                          env={"OS_GLANCE_CONFIG_DIR": str(conf_dir)}, health_path="/versions",
                          processes=2, threads=1)
    keystone.register_service("glance", "image", service.url, password=password)
    for name in ("images", "staging", "tasks"):
        (workdir / name).mkdir(parents=True, exist_ok=True)
    write_ini(conf_dir / "glance-api.conf", {
        "DEFAULT": {
            "enabled_backends": "fs:file",
            "log_file": str(workdir / "glance-app.log"),
            "debug": False,
            "image_size_cap": 8 * 1024 ** 3,
            "public_endpoint": service.url,
        },
        "database": {"connection": f"sqlite:///{workdir / 'glance.db'}"},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": str(workdir / "images")},
        "os_glance_staging_store": {"filesystem_store_datadir": str(workdir / "staging")},
        "os_glance_tasks_store": {"filesystem_store_datadir": str(workdir / "tasks")},
        "paste_deploy": {"flavor": "keystone"},
        "keystone_authtoken": {
            "www_authenticate_uri": keystone.auth_url,
            "auth_url": keystone.auth_url,
            "auth_type": "password",
            "username": "glance",
            "password": password,
            "project_name": "service",
            "user_domain_name": DOMAIN,
            "project_domain_name": DOMAIN,
            "service_token_roles_required": True,
        },
        "oslo_concurrency": {"lock_path": str(workdir / "locks")},
    })
    paste = _find_paste_ini(venv)
    shutil.copy(paste, conf_dir / "glance-api-paste.ini")
    run([service.bin("glance-manage"), "--config-dir", str(conf_dir), "db_sync"])
    service.start()
    return service


def _find_paste_ini(venv: Path) -> Path:
    for candidate in [venv / "etc" / "glance" / "glance-api-paste.ini",
                      *venv.glob("lib/python*/site-packages/glance/**/glance-api-paste.ini"),
                      *venv.glob("share/**/glance-api-paste.ini")]:
        if candidate.is_file():
            return candidate
    raise RuntimeError(f"glance-api-paste.ini not found in {venv}")


def add_region_endpoint(keystone: Keystone, service_type: str, region: str, url: str) -> None:
    """Another region whose ``service_type`` endpoints point at ``url`` (e.g. a proxy in front of a service)."""
    conn = keystone.connection()
    if conn.identity.find_region(region) is None:
        conn.identity.create_region(id=region, description=f"{region} (tests)")
    service = next(s for s in conn.identity.services() if s.type == service_type)
    for interface in ("public", "internal", "admin"):
        conn.identity.create_endpoint(service_id=service.id, interface=interface, url=url, region_id=region)


class CuttingProxy(LoopbackListener):
    """A TCP proxy on 127.0.0.1 in front of ``target_port`` that can misbehave during image uploads.

    Request bodies of ``PUT .../file`` are throttled to ``rate`` bytes/s (so a test can act while an
    upload is in flight), and the first ``cuts`` such uploads are cut (TCP reset both ways) once
    ``cut_after`` bytes went through. ``uploads_seen`` and ``uploads_cut`` count what happened.
    """

    def __init__(self, target_port: int, rate: int | None = None, cut_after: int | None = None, cuts: int = 0):
        self.target_port = target_port
        self.rate = rate
        self.cut_after = cut_after
        self.cuts = cuts
        self.uploads_seen = 0
        self.uploads_cut = 0
        self._lock = threading.Lock()
        super().__init__()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def serve(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            upstream.settimeout(None)
        except OSError:
            _reset(client)
            return
        threading.Thread(target=self._pump_down, args=(upstream, client), daemon=True).start()
        self._pump_up(client, upstream)

    def _pump_down(self, src, dst) -> None:
        """Server -> client; when the server goes away, so does the client's connection (a reset, as
        a client talking to a killed server directly would see)."""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            _reset(dst)
            _reset(src)
            return
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)

    def _pump_up(self, src, dst) -> None:
        uploading = False
        sent = 0
        cut_this = False
        started = time.monotonic()
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if not uploading and b"PUT /" in data and b"/file HTTP/1.1" in data:
                    uploading, sent, started = True, 0, time.monotonic()
                    with self._lock:
                        self.uploads_seen += 1
                        cut_this = self.cut_after is not None and self.uploads_cut < self.cuts
                        if cut_this:
                            self.uploads_cut += 1
                if uploading:
                    sent += len(data)
                    if cut_this and sent >= self.cut_after:
                        _reset(src)
                        _reset(dst)
                        return
                    if self.rate:
                        ahead = sent / self.rate - (time.monotonic() - started)
                        if ahead > 0:
                            time.sleep(ahead)
                dst.sendall(data)
        except OSError:
            _reset(src)
            _reset(dst)
            return
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def _reset(sock) -> None:
    import struct

    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass
