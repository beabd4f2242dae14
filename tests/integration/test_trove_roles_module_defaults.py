# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The publish and register roles under a play's module_defaults for group/dbaas.guest_images.openstack.

The roles pass their own connection variables to their modules, and Ansible's
``omit`` drops a module_defaults value as well, so the group's defaults cannot
reach the modules through the roles. Without ``publish_cloud`` /
``register_cloud`` the roles therefore refuse, saying so, instead of silently
doing nothing; an explicitly empty one still skips
(tests/integration/test_glance_publish_role.py, test_trove_register.py).
"""

from __future__ import annotations

import json
import subprocess
import uuid

from test_glance_image import images_named, make_qcow2


def _play(cloud: dict, task: dict) -> list:
    return [{"name": "a role under module_defaults", "hosts": "localhost", "connection": "local",
             "gather_facts": False, "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"},
             "module_defaults": {"group/dbaas.guest_images.openstack": {"cloud": cloud}}, "tasks": [task]}]


def _run(play: list, path, env: dict) -> tuple:
    path.write_text(json.dumps(play))
    proc = subprocess.run(["ansible-playbook", "-i", "localhost,", str(path)], env=env, capture_output=True,
                          text=True, timeout=900, check=False)
    return proc.returncode, proc.stdout + proc.stderr


def test_roles_without_a_cloud_under_group_module_defaults_refuse_clearly(trove, trove_admin, trove_auth,
                                                                          ansible_env, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    name, version = f"mdef-{suffix}", f"mdef-{suffix}"
    path = make_qcow2(tmp_path, name, mib=1)
    cloud = {"auth": trove_auth["auth"], "auth_type": "password", "region_name": trove_auth["region_name"]}
    env = dict(ansible_env, XDG_CACHE_HOME=str(tmp_path / "cache"))
    env.pop("OS_CLIENT_CONFIG_FILE", None)
    env.pop("OS_CLOUD", None)

    publish = {"name": "publish", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
               "vars": {"publish_images": [{"name": name, "status": "built",
                                            "outputs": [{"path": str(path), "format": "qcow2"}]}]}}
    rc, output = _run(_play(cloud, publish), tmp_path / "publish.yml", env)
    assert rc != 0, output[-4000:]
    assert "publish_cloud is not set" in output and "module_defaults for group/dbaas.guest_images.openstack" in output
    assert 'publish_cloud: "" skips' in output
    assert "is empty" not in output  # not the silent skip
    assert images_named(trove_admin, name) == []

    image = trove_admin.image.create_image(name, filename=str(path), disk_format="qcow2", container_format="bare",
                                           wait=True)
    try:
        register = {"name": "register", "ansible.builtin.include_role": {"name": "dbaas.guest_images.register"},
                    "vars": {"register_images": [{"image_id": image.id, "trove_datastore": "mysql",
                                                  "trove_datastore_version": version}]}}
        rc, output = _run(_play(cloud, register), tmp_path / "register.yml", env)
        assert rc != 0, output[-4000:]
        assert "register_cloud is not set" in output and "module_defaults" in output
        assert not [v for v in trove.versions(trove_admin) if v["datastore_name"] == "mysql" and v["name"] == version]
    finally:
        trove_admin.image.delete_image(image.id, ignore_missing=True)
