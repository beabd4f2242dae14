# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The publish role: the real DIB-built base image, from its build report row, into a real Glance."""

from __future__ import annotations

import json
import re
import subprocess
import time

from lib.digest import sha256, sha512
from test_glance_image import glance_json, images_named, images_tagged, make_qcow2, unique

from ansible_collections.dbaas.guest_images.plugins.module_utils._report import report as build_report


def run_role(tmp_path, env: dict, role_vars: dict, name: str) -> tuple:
    """Run dbaas.guest_images.publish in a play on localhost; return (rc, publish_results, output)."""
    out = tmp_path / f"{name}.json"
    play = [{
        "name": "publish",
        "hosts": "localhost",
        "gather_facts": False,
        "tasks": [
            {"name": "publish role", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
             "vars": role_vars},
            {"name": "keep the results", "ansible.builtin.copy": {
                "content": "{{ publish_results | default('absent') | to_json }}", "dest": str(out), "mode": "0600"}},
        ],
    }]
    playbook = tmp_path / f"{name}.yml"
    playbook.write_text(json.dumps(play))
    proc = subprocess.run(
        ["ansible-playbook", str(playbook)], env=env, capture_output=True, text=True, timeout=1800, check=False
    )
    results = json.loads(out.read_text()) if out.is_file() else None
    return proc.returncode, results, proc.stdout + proc.stderr


def test_publish_role_uploads_report_rows_and_is_idempotent(base_image, ansible_env, cloud_config, tmp_path):
    env = dict(ansible_env, **cloud_config.env, XDG_CACHE_HOME=str(tmp_path / "cache"))
    name = unique("role-base")
    row = dict(base_image.report_entry, name=name)
    spec = {"name": name, "elements": ["debian-minimal", "vm", "cloud-init"], "size": 3,
            "environment": {"DIB_RELEASE": "bookworm", "DBAAS_DATASTORE": "mysql", "DBAAS_DATASTORE_VERSION": "8.0"}}
    role_vars = {"publish_cloud": cloud_config.admin_cloud, "publish_images": [row], "publish_specs": [spec],
                 "publish_keep": 2, "publish_tags": ["dbaas-guest-image", "role-test"]}

    started = time.monotonic()
    rc, results, output = run_role(tmp_path, env, role_vars, "first")
    elapsed = time.monotonic() - started
    assert rc == 0, output[-4000:]
    [published] = results
    assert published["uploaded"] is True and published["name"] == name
    # The seconds glance_image spent with Glance: the build report's publish stage of the image.
    assert 0 < published["duration"] < elapsed, (published["duration"], elapsed)
    [timed] = build_report.add_stage_times([row], None, results)
    assert timed["stages"] == dict(row["stages"], publish=published["duration"]), timed["stages"]
    assert published["trove_datastore"] == "mysql" and published["trove_datastore_version"] == "8.0"

    admin = cloud_config.connect(cloud_config.admin_cloud)
    # Named <name>-<creation time> (publish_unique_names), grouped by the family tag.
    [image] = images_tagged(admin, f"family:{name}")
    assert image.id == published["image_id"] and image.name == published["image_name"]
    assert re.fullmatch(re.escape(name) + r"-\d{14}", image.name), image.name
    assert image.hash_value == sha512(base_image.qcow2)
    assert image.disk_format == "qcow2" and image.min_disk == 3
    props = glance_json(admin, image.id)
    assert (props["os_distro"], props["os_version"]) == ("debian", "12")
    assert (props["trove_datastore"], props["trove_datastore_version"]) == ("mysql", "8.0")
    assert props["build_fingerprint"] == base_image.report_entry["fingerprint"]
    # What is inside: the SBOM beside the image, by its hash and package counts.
    sbom = base_image.report_entry["sbom"]
    assert props["dbaas_sbom_sha256"] == sbom["sha256"] == sha256(sbom["path"])
    counts = f"{sbom['summary']['deb']} deb, 0 python, 0 container-tarball, 0 licensed-package"
    assert props["dbaas_sbom_summary"] == counts
    assert {"dbaas-guest-image", "role-test", f"family:{name}"} <= set(image.tags)

    rc, results, output = run_role(tmp_path, env, role_vars, "again")
    assert rc == 0, output[-4000:]
    assert results[0]["uploaded"] is False and results[0]["changed"] is False
    [same] = images_tagged(admin, f"family:{name}")
    assert (same.id, same.updated_at) == (image.id, image.updated_at)


def test_publish_role_skips_without_cloud(ansible_env, tmp_path):
    rc, results, output = run_role(tmp_path, ansible_env, {"publish_cloud": "", "publish_images": [
        {"name": "x", "status": "built", "outputs": [{"path": "/nonexistent.qcow2", "format": "qcow2"}]}]}, "skip")
    assert rc == 0, output[-3000:]
    assert results == "absent"
    assert "publish_cloud is empty" in output


def test_publish_role_refuses_a_negative_keep_naming_the_variable(ansible_env, cloud_config, tmp_path):
    env = dict(ansible_env, **cloud_config.env, XDG_CACHE_HOME=str(tmp_path / "cache"))
    name = unique("role-keep")
    path = make_qcow2(tmp_path, name, mib=1)
    row = {"name": name, "status": "built", "outputs": [{"path": str(path), "format": "qcow2"}]}
    role_vars = {"publish_cloud": cloud_config.admin_cloud, "publish_images": [row], "publish_keep": -1}
    rc, results, output = run_role(tmp_path, env, role_vars, "keep")
    assert rc != 0, output[-3000:]
    assert "keep (publish_keep) is -1; write 0" in output
    assert images_named(cloud_config.connect(cloud_config.admin_cloud), name) == []
