# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole pipeline: build_guest.yml given a cloud builds, publishes and registers.

The Trove container-mode test image (built once per run by the ``trove_images``
fixture) goes through ``playbooks/build_guest.yml`` again with
``build_guest_cloud`` set: the build stage reuses it, the publish stage
uploads it to the real Glance, and the register stage points a real Trove
datastore version at it. Everything is checked from Glance's and Trove's side.
"""

import re

from fixtures.layers import trove_matrix
from lib.digest import sha512
from test_glance_image import glance_json

SELECT = "[?mode=='container']"


def test_build_guest_with_a_cloud_publishes_and_registers(
        trove_images, build_cache_dir, cloud_config, trove, trove_admin, run_playbook):
    image = trove_images.container
    extra_vars = {
        "build_guest_output_dir": str(trove_images.output_dir),
        "build_guest_cache_dir": str(build_cache_dir),
        "build_guest_images": trove_matrix(trove_images.inputs),
        "build_guest_select": SELECT,
        "build_guest_cloud": cloud_config.admin_cloud,
    }
    run = run_playbook("build_guest.yml", extra_vars, env_extra=cloud_config.env)
    assert run.rc == 0, run.output[-6000:]
    row = run.image(image.name)
    assert row["status"] == "reused", row

    conn = cloud_config.connect(cloud_config.admin_cloud)
    # The family tag groups the images; each is named <name>-<creation time> (publish_unique_names).
    found = list(conn.image.images(tag=[f"family:{image.name}"]))
    assert len(found) == 1, [i.id for i in found]
    assert re.fullmatch(re.escape(image.name) + r"-\d{14}", found[0].name), found[0].name
    glance = glance_json(conn, found[0].id)
    assert glance["status"] == "active"
    assert glance["disk_format"] == "qcow2"
    assert glance["size"] == image.qcow2.stat().st_size
    assert glance["os_hash_algo"] == "sha512"
    assert glance["os_hash_value"] == sha512(image.qcow2)
    assert glance["trove_datastore"] == "mysql"
    assert glance["trove_datastore_version"] == "8.0"
    assert glance["build_fingerprint"] == row["fingerprint"]
    assert glance["dbaas_sbom_sha256"] == row["sbom"]["sha256"] == image.report_entry["sbom"]["sha256"]

    versions = [v for v in trove.versions(trove_admin) if v["datastore_name"] == "mysql" and v["name"] == "8.0"]
    assert len(versions) == 1, versions
    assert versions[0]["image"] == found[0].id
    assert trove.datastore(trove_admin, "mysql")["default_version"] == versions[0]["id"]

    # Run it again: nothing is built, uploaded or re-registered.
    again = run_playbook("build_guest.yml", extra_vars, env_extra=cloud_config.env)
    assert again.rc == 0, again.output[-6000:]
    assert [i.id for i in conn.image.images(tag=[f"family:{image.name}"])] == [found[0].id]
    assert glance_json(conn, found[0].id)["updated_at"] == glance["updated_at"]
    after = [v for v in trove.versions(trove_admin) if v["datastore_name"] == "mysql" and v["name"] == "8.0"]
    assert after == versions
