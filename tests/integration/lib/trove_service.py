# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Trove API (PyPI ``trove``) on loopback, for integration tests.

Only the API service runs: the datastore admin calls (``mgmt/datastore-versions``)
touch Trove's database and ask Glance about images, and send no RPC, so
oslo.messaging gets its in-process ``fake://`` transport instead of a broker.
Trove's own eventlet server (``trove-api``) serves it: no uWSGI to build.

- ``start_trove(workdir, keystone)`` -> ``TroveApi`` (a ``WsgiService``): venv in the
  cache, sqlite database (``trove-manage db_sync``), config, catalog entry
  ``database`` and the ``trove`` service user in Keystone.
- ``TroveApi.admin_request(conn, method, path, json=None)``: a management call
  with an openstacksdk connection, for assertions from Trove's side.
- ``TroveApi.selected_image(datastore, version)``: the image Trove's own code
  (``lib/in_trove_venv/image_selection.py``) would launch for that version.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lib.openstack_services import DOMAIN, REGION, Keystone, WsgiService, ensure_venv, run, write_ini

TROVE_REQUIREMENTS = ("trove==26.0.0",)
IN_TROVE_VENV = Path(__file__).resolve().parent / "in_trove_venv"


@dataclass
class TroveApi(WsgiService):
    """``trove-api`` (Trove's own WSGI server, one worker) instead of uWSGI."""

    config_file: Path | None = None

    def argv(self) -> list:
        return [self.bin("trove-api"), "--config-file", str(self.config_file)]

    @property
    def endpoint_template(self) -> str:
        return self.url + "/v1.0/$(project_id)s"

    @staticmethod
    def admin_request(conn, method: str, path: str, json=None):
        """``method path`` at the catalog's database endpoint; returns the decoded JSON (or None)."""
        kwargs = {"endpoint_filter": {"service_type": "database", "interface": "public"}, "raise_exc": True}
        if json is not None:
            kwargs["json"] = json
        response = conn.session.request(path, method, **kwargs)
        return response.json() if response.text else None

    def versions(self, conn) -> list:
        """Every datastore version, as Trove's management API lists it."""
        return self.admin_request(conn, "GET", "/mgmt/datastore-versions")["versions"]

    def datastore(self, conn, name: str) -> dict:
        return self.admin_request(conn, "GET", f"/datastores/{name}")["datastore"]

    def selected_image(self, datastore: str, version: str) -> dict:
        """``{image_id, version_image_id, version_image_tags}``: what Trove's instance create would launch."""
        request = {"config_file": str(self.config_file), "datastore": datastore, "version": version}
        proc = subprocess.run([self.bin("python"), str(IN_TROVE_VENV / "image_selection.py")],
                              input=json.dumps(request), capture_output=True, text=True, timeout=120, check=False)
        if proc.returncode != 0:
            raise AssertionError(f"Trove's image selection failed (rc {proc.returncode}):\n{proc.stderr[-3000:]}")
        return json.loads(proc.stdout.strip().splitlines()[-1])


def _paste_ini(venv: Path) -> Path:
    for candidate in [venv / "etc" / "trove" / "api-paste.ini",
                      *venv.glob("lib/python*/site-packages/trove/etc/trove/api-paste.ini")]:
        if candidate.is_file():
            return candidate
    raise RuntimeError(f"Trove's api-paste.ini not found in {venv}")


def start_trove(workdir: Path, keystone: Keystone, password: str = "trove-secret") -> TroveApi:
    """Trove API on 127.0.0.1 authenticating against ``keystone``; Glance must be in its catalog."""
    venv = ensure_venv("trove", TROVE_REQUIREMENTS)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "trove.conf"
    service = TroveApi("trove", venv, "trove-api", workdir, health_path="/", config_file=config)
    keystone.register_service("trove", "database", service.endpoint_template, password=password)
    paste = workdir / "api-paste.ini"
    shutil.copy(_paste_ini(venv), paste)
    credentials = {
        "auth_url": keystone.auth_url,
        "auth_type": "password",
        "username": "trove",
        "password": password,
        "project_name": "service",
        "user_domain_name": DOMAIN,
        "project_domain_name": DOMAIN,
    }
    write_ini(config, {
        "DEFAULT": {
            "bind_host": "127.0.0.1",
            "bind_port": service.port,
            "trove_api_workers": 1,
            "api_paste_config": str(paste),
            # No broker: the admin calls tested here send no RPC.
            "transport_url": "fake:/",
            "log_file": str(service.log_path),
            "debug": False,
        },
        "database": {"connection": f"sqlite:///{workdir / 'trove.db'}"},
        "keystone_authtoken": {"www_authenticate_uri": keystone.auth_url, **credentials},
        "service_credentials": {**credentials, "region_name": REGION},
        "oslo_concurrency": {"lock_path": str(workdir / "locks")},
        "oslo_messaging_notifications": {"driver": "noop"},
    })
    run([service.bin("trove-manage"), "--config-file", str(config), "db_sync"], cwd=workdir)
    service.start()
    return service
