# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the doc fragment claims about openstack.cloud, checked against the real Keystone and Glance.

- every connection option openstack.cloud's modules take, with its values, given to
  ``group/dbaas.guest_images.openstack`` as they are, reaches these modules (and the DEBUG
  sdk log they ask for holds no password);
- ``group/openstack.cloud.openstack`` is a group of openstack.cloud's own: a play naming it
  is refused when that collection is not installed (this test environment), and its values
  never reach these modules.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from test_glance_image import make_qcow2, unique

REPO = Path(__file__).resolve().parents[2]


def openstack_cloud_defaults(cloud: str, log: Path) -> dict:
    """Values for every connection option of openstack.cloud's modules (their names, as a play writes them)."""
    return {"cloud": cloud, "auth_type": "password", "region_name": "RegionOne", "interface": "public",
            "validate_certs": False, "api_timeout": 60, "wait": True, "timeout": 120,
            "sdk_log_path": str(log), "sdk_log_level": "DEBUG"}


def run_play(tmp_path, env: dict, module_defaults: dict, tasks: list) -> tuple:
    out = tmp_path / "results.json"
    play = [{"name": "defaults", "hosts": "localhost", "gather_facts": False, "module_defaults": module_defaults,
             "tasks": [*[dict(t, register=f"r{i}", ignore_errors=True) for i, t in enumerate(tasks)],
                       {"name": "keep", "ansible.builtin.copy": {
                           "content": "{{ [" + ", ".join(f"r{i}" for i in range(len(tasks))) + "] | to_json }}",
                           "dest": str(out), "mode": "0600"}}]}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    full_env = dict(os.environ, ANSIBLE_CONFIG=str(REPO / "ansible.cfg"), ANSIBLE_NOCOLOR="1", **env)
    proc = subprocess.run(["ansible-playbook", "-vvv", str(playbook)], env=full_env, capture_output=True, text=True,
                          timeout=600, check=False)
    results = json.loads(out.read_text()) if out.is_file() else None
    return proc.returncode, results, proc.stdout + proc.stderr


def test_openstack_cloud_connection_values_work_in_this_collections_group(cloud_config, keystone, tmp_path):
    name = unique("osc-defaults")
    path = make_qcow2(tmp_path, name, mib=1)
    log = tmp_path / "sdk.log"
    defaults = openstack_cloud_defaults(cloud_config.member_cloud, log)
    rc, results, output = run_play(
        tmp_path, {**cloud_config.env, "XDG_CACHE_HOME": str(tmp_path / "cache")},
        {"group/dbaas.guest_images.openstack": defaults},
        [{"dbaas.guest_images.glance_image": {"name": name, "filename": str(path)}},
         {"dbaas.guest_images.glance_image_info": {"name": name}}])
    assert rc == 0, output[-4000:]
    published, listed = results
    assert published["uploaded"] is True, published
    assert [i["id"] for i in listed["images"]] == [published["image"]["id"]]
    # -vvv prints the options each module got: the group's values.
    assert re.search(r"""api_timeout["']?: 60\b""", output) and re.search(r"""sdk_log_level["']?: ["']?DEBUG""", output)
    text = log.read_text()
    assert "GET" in text and "/v2/images" in text, text[-2000:]
    password = keystone.users[cloud_config.member_cloud].password
    assert password not in text and password not in output


def test_openstack_cloud_group_is_not_this_collections(cloud_config, tmp_path):
    defaults = openstack_cloud_defaults(cloud_config.member_cloud, tmp_path / "sdk.log")
    rc, results, output = run_play(tmp_path, cloud_config.env, {"group/openstack.cloud.openstack": defaults},
                                   [{"dbaas.guest_images.glance_image_info": {"name": "anything"}}])
    assert rc != 0 and results is None, output[-3000:]
    assert "openstack.cloud" in output
