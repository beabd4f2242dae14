# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cloud behind TLS with a client certificate, given by name from the controller's clouds.yaml.

Keystone is reached through ``lib.tls.TlsFront`` (a private CA, a client
certificate required); the cloud's ``cacert``, ``cert`` and ``key`` are files
that exist only where the ``cloud_config`` lookup runs. The play reads the
cloud, then deletes those files - as on a build host, which never had them -
and a module connects with what the lookup handed on. With the lookup's
``inline_files`` off, the same play fails on the missing CA file: the front
really asks for the files. No private key text is printed at -vvv, and no
file of it is left behind.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

import pytest
import yaml
from lib.tls import TlsFront, make_pki
from test_glance_openstack_cloud_defaults import run_play

CLOUD = "gi-tls"


@pytest.fixture(scope="module")
def tls_keystone(keystone):
    port = keystone.service.port
    fronts: list[TlsFront] = []

    def start(folder: Path) -> tuple[TlsFront, dict]:
        pki = make_pki(folder)
        fronts.append(TlsFront(port, pki))
        return fronts[-1], pki

    yield start
    for front in fronts:
        front.close()


def _clouds_yaml(folder: Path, keystone, front: TlsFront, pki: dict, member: str) -> Path:
    auth = dict(keystone.clouds()["clouds"][member]["auth"], auth_url=front.url("/v3"))
    entry = {"auth_type": "password", "auth": auth, "region_name": "RegionOne", "identity_api_version": "3",
             "interface": "public", "cacert": str(pki["ca.pem"]), "cert": str(pki["client.pem"]),
             "key": str(pki["client.key"])}
    path = folder / "clouds.yaml"
    path.write_text(yaml.safe_dump({"clouds": {CLOUD: entry}}))
    return path


def _play(tmp_path: Path, clouds: Path, pki_dir: Path, inline: bool):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    lookup = f"lookup('dbaas.guest_images.cloud_config', '{CLOUD}', inline_files={inline})"
    tasks = [
        {"name": "read the cloud on the controller", "ansible.builtin.set_fact": {"tls_cloud": "{{ " + lookup + " }}"},
         "no_log": True},
        {"name": "the controller's TLS files are gone, as on a build host",
         "ansible.builtin.file": {"path": str(pki_dir), "state": "absent"}},
        {"name": "connect", "dbaas.guest_images.glance_image_info": {"cloud": "{{ tls_cloud }}",
                                                                     "name": "no-such-image"}},
    ]
    env = {"OS_CLIENT_CONFIG_FILE": str(clouds), "HOME": str(home), "TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir(exist_ok=True)
    return run_play(tmp_path, env, {}, tasks)


def test_tls_files_of_a_named_cloud_reach_a_host_without_them(keystone, glance, tls_keystone, cloud_config,
                                                              tmp_path):
    pki_dir = tmp_path / "pki-on-the-controller"
    front, pki = tls_keystone(pki_dir)
    key_text = pki["client.key"].read_text()
    key_body = key_text.splitlines()[1]
    clouds = _clouds_yaml(tmp_path, keystone, front, pki, cloud_config.member_cloud)

    (tmp_path / "inline").mkdir()
    rc, results, output = _play(tmp_path / "inline", clouds, pki_dir, inline=True)
    assert rc == 0 and not results[2].get("failed"), output[-5000:]
    assert results[2]["images"] == [], results[2]
    assert not pki_dir.exists()
    assert front.handshakes > 0  # Keystone was reached through TLS, with the client certificate
    assert key_body not in output
    # The private files the module wrote were removed with it.
    left = [path for pattern in ("tmp/**/cloud-*.pem", "home/.ansible/**/cloud-*.pem")
            for path in glob.glob(str(tmp_path / "inline" / pattern), recursive=True)]
    assert left == [], left

    # The same play with the paths handed on as they are: the CA file is not there.
    pki_dir = tmp_path / "pki-again"
    front, pki = tls_keystone(pki_dir)
    clouds = _clouds_yaml(tmp_path, keystone, front, pki, cloud_config.member_cloud)
    (tmp_path / "paths").mkdir()
    rc, results, output = _play(tmp_path / "paths", clouds, pki_dir, inline=False)
    assert rc == 0 and results[2].get("failed"), output[-5000:]  # the task's error is kept (ignore_errors)
    assert str(pki["ca.pem"]) in results[2]["msg"] or "certificate" in results[2]["msg"].lower(), results[2]
    assert not os.path.exists(pki_dir)
