# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No password in what ansible-playbook -vvv prints, whatever form the credentials take.

For each credential form (a clouds.yaml name, a ``cloud:`` dictionary holding
``auth.password``, the ``auth:`` option) glance_image, glance_image_info,
trove_datastore_version and the publish role run once successfully and fail
at least once (with the wrong password, and with the right one for a reason
found after connecting), at -vvv. The whole output, and every registered
result, is searched for the right and the wrong password.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
import yaml
from lib.openstack_services import REGION
from test_glance_image import images_named, make_qcow2

FORMS = ("clouds_yaml", "cloud_dict", "auth_option")


@pytest.fixture(scope="module")
def probe_user(keystone, trove):
    """A Trove and Glance admin whose password cannot occur in the output by chance."""
    return keystone.ensure_user(f"probe-{uuid.uuid4().hex[:8]}", f"Pw-{uuid.uuid4().hex}", "admin", "admin")


def _credentials(form: str, auth: dict, clouds_name: str) -> dict:
    """Module options giving ``auth`` in ``form``."""
    if form == "clouds_yaml":
        return {"cloud": clouds_name}
    if form == "cloud_dict":
        return {"cloud": {"auth": auth, "auth_type": "password", "region_name": REGION}}
    return {"auth": auth, "auth_type": "password", "region_name": REGION}


def _role_vars(form: str, auth: dict, clouds_name: str) -> dict:
    if form == "clouds_yaml":
        return {"publish_cloud": clouds_name}
    if form == "cloud_dict":
        return {"publish_cloud": {"auth": auth, "auth_type": "password", "region_name": REGION}}
    return {"publish_auth": auth, "publish_auth_type": "password", "publish_region_name": REGION}


def _register_vars(form: str, auth: dict, clouds_name: str) -> dict:
    publish = _role_vars(form, auth, clouds_name)
    return {key.replace("publish_", "register_", 1): value for key, value in publish.items()}


@pytest.mark.parametrize("form", FORMS)
def test_no_password_in_vvv_output(form, keystone, trove, trove_admin, probe_user, ansible_env, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    password, wrong = probe_user.password, f"Wrong-{uuid.uuid4().hex}"
    right_auth = probe_user.auth(keystone.auth_url)
    wrong_auth = dict(right_auth, password=wrong)
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text(yaml.safe_dump({"clouds": {
        name: {"auth_type": "password", "auth": auth, "region_name": REGION, "identity_api_version": "3"}
        for name, auth in (("probe", right_auth), ("probe-wrong", wrong_auth))}}))
    clouds.chmod(0o600)
    right = _credentials(form, right_auth, "probe")
    bad = _credentials(form, wrong_auth, "probe-wrong")
    image_name, role_image, version = f"secret-{suffix}", f"secret-role-{suffix}", f"secret-{suffix}"
    image_file, role_file = make_qcow2(tmp_path, image_name, mib=1), make_qcow2(tmp_path, role_image, mib=1)
    module_tasks = [
        ("glance_image ok", "glance_image", dict(right, name=image_name, filename=str(image_file))),
        ("glance_image bad password", "glance_image", dict(bad, name=image_name, filename=str(image_file))),
        ("glance_image failing after connecting", "glance_image",
         dict(right, name=image_name + "-x", filename=str(image_file), checksum="sha256:" + "0" * 64)),
        ("glance_image_info ok", "glance_image_info", dict(right, name=image_name)),
        ("glance_image_info bad password", "glance_image_info", dict(bad, name=image_name)),
        ("trove_datastore_version ok", "trove_datastore_version",
         dict(right, datastore="mysql", name=version, image=image_name, default=False)),
        ("trove_datastore_version bad password", "trove_datastore_version",
         dict(bad, datastore="mysql", name=version, image=image_name)),
        ("trove_datastore_version failing after connecting", "trove_datastore_version",
         dict(right, datastore="mysql", name=version, image=f"no-such-image-{suffix}")),
    ]
    results_file = tmp_path / "results.json"
    register_item = {"image_id": "{{ publish_results[0].image_id }}", "trove_datastore": "mysql",
                     "trove_datastore_version": version + "-r"}
    row = {"name": role_image, "status": "built", "outputs": [{"path": str(role_file), "format": "qcow2"}]}
    tasks = [{"name": label, f"dbaas.guest_images.{module}": args, "register": f"r{index}", "ignore_errors": True}
             for index, (label, module, args) in enumerate(module_tasks)]
    tasks += [
        {"name": "publish role ok", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
         "vars": dict(_role_vars(form, right_auth, "probe"), publish_images=[row])},
        {"name": "register role ok", "ansible.builtin.include_role": {"name": "dbaas.guest_images.register"},
         "vars": dict(_register_vars(form, right_auth, "probe"), register_images=[register_item],
                      register_default=False)},
        {"name": "register role bad password",
         "ansible.builtin.include_role": {"name": "dbaas.guest_images.register", "apply": {"ignore_errors": True}},
         "vars": dict(_register_vars(form, wrong_auth, "probe-wrong"), register_images=[register_item],
                      register_default=False)},
        {"name": "keep the results", "ansible.builtin.copy": {
            "content": "{{ [" + ", ".join(f"r{i}" for i in range(len(module_tasks))) + "] | to_json }}",
            "dest": str(results_file), "mode": "0600"}},
        # A failure inside the role ends the play: it comes last.
        {"name": "publish role bad password", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
         "vars": dict(_role_vars(form, wrong_auth, "probe-wrong"), publish_images=[row])},
    ]
    play = [{"name": f"secrets {form}", "hosts": "localhost", "connection": "local", "gather_facts": False,
             "vars": {"ansible_python_interpreter": "{{ ansible_playbook_python }}"}, "tasks": tasks}]
    playbook = tmp_path / "play.yml"
    playbook.write_text(json.dumps(play))
    env = dict(ansible_env, OS_CLIENT_CONFIG_FILE=str(clouds), XDG_CACHE_HOME=str(tmp_path / "cache"))
    try:
        proc = subprocess.run(["ansible-playbook", "-vvv", "-i", "localhost,", str(playbook)], env=env,
                              capture_output=True, text=True, timeout=900, check=False)
        output = proc.stdout + proc.stderr
        results = json.loads(results_file.read_text())
        # Every case ran as meant: the successes succeeded, the failures failed for the reason meant.
        labels = [label for label, _m, _a in module_tasks]
        outcome = {label: bool(result.get("failed")) for label, result in zip(labels, results, strict=True)}
        assert outcome == {label: not label.endswith(" ok") for label, _m, _a in module_tasks}, output[-6000:]
        for (label, _m, _a), result in zip(module_tasks, results, strict=True):
            if label.endswith("bad password"):
                assert "refused the credentials" in result["msg"], (label, result)
        assert len(list(trove_admin.image.images(tag=[f"family:{role_image}"]))) == 1, output[-6000:]
        assert proc.returncode != 0 and "refused the credentials" in output.split("publish role bad password")[-1]
        registered = output.split("register role bad password")[-1].split("publish role bad password")[0]
        assert "refused the credentials" in registered, registered[-3000:]
        assert any(v["datastore_name"] == "mysql" and v["name"] == version + "-r"
                   for v in trove.versions(trove_admin)), output[-6000:]
        assert "module_args" in output  # -vvv really printed the invocations

        # The check itself.
        for secret in (password, wrong):
            assert secret not in output, f"a password is printed in the -vvv output ({form})"
            assert secret not in results_file.read_text(), f"a password is in a registered result ({form})"
    finally:
        for version_row in trove.versions(trove_admin):
            if version_row["datastore_name"] == "mysql" and version_row["name"] in (version, version + "-r"):
                trove.admin_request(trove_admin, "DELETE", f"/mgmt/datastore-versions/{version_row['id']}")
        for image in [*images_named(trove_admin, image_name), *trove_admin.image.images(tag=[f"family:{role_image}"])]:
            trove_admin.image.delete_image(image.id, ignore_missing=True)
