# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The publish and register roles follow a play's module_defaults for group/dbaas.guest_images.openstack.

Not given ``publish_cloud`` / ``register_cloud`` (null), the roles run their
modules without a ``cloud`` option, so the group's defaults supply it; an
explicitly empty one still skips (tests/integration/test_glance_publish_role.py,
test_trove_register.py).
"""

from __future__ import annotations

import json
import subprocess
import uuid

from test_glance_image import images_named, make_qcow2


def test_publish_and_register_follow_the_group_module_defaults(trove, trove_admin, trove_auth, ansible_env,
                                                                tmp_path):
    suffix = uuid.uuid4().hex[:8]
    name, version = f"mdef-{suffix}", f"mdef-{suffix}"
    path = make_qcow2(tmp_path, name, mib=1)
    cloud = {"auth": trove_auth["auth"], "auth_type": "password", "region_name": trove_auth["region_name"]}
    out = tmp_path / "results.json"
    play = [{
        "name": "roles under module_defaults",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
        "module_defaults": {"group/dbaas.guest_images.openstack": {"cloud": cloud}},
        "tasks": [
            {"name": "publish", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
             "vars": {"publish_images": [{"name": name, "status": "built",
                                          "outputs": [{"path": str(path), "format": "qcow2"}]}],
                      "publish_specs": [{"name": name, "trove": {"datastore": "mysql", "datastore_version": version,
                                                                 "os": "debian", "release": "12"}}]}},
            {"name": "register", "ansible.builtin.include_role": {"name": "dbaas.guest_images.register"},
             "vars": {"register_images": "{{ publish_results }}", "register_default": False}},
            {"name": "keep the results", "ansible.builtin.copy": {
                "content": "{{ {'publish': publish_results, 'register': register_results} | to_json }}",
                "dest": str(out), "mode": "0600"}},
        ],
    }]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    env = dict(ansible_env, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("OS_CLIENT_CONFIG_FILE", None)
    env.pop("OS_CLOUD", None)
    try:
        proc = subprocess.run(["ansible-playbook", "-i", "localhost,", str(playbook)], env=env, capture_output=True,
                              text=True, timeout=900, check=False)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-4000:]
        assert "is empty" not in output  # neither role skipped
        results = json.loads(out.read_text())
        [published] = results["publish"]
        [image] = images_named(trove_admin, name)
        assert published["image_id"] == image.id and published["uploaded"] is True
        [registered] = results["register"]
        assert registered["action"] == "create" and registered["image_id"] == image.id
        [trove_version] = [v for v in trove.versions(trove_admin)
                           if v["datastore_name"] == "mysql" and v["name"] == version]
        assert trove_version["image"] == image.id
    finally:
        for v in trove.versions(trove_admin):
            if v["datastore_name"] == "mysql" and v["name"] == version:
                trove.admin_request(trove_admin, "DELETE", f"/mgmt/datastore-versions/{v['id']}")
        for image in images_named(trove_admin, name):
            trove_admin.image.delete_image(image.id, ignore_missing=True)
