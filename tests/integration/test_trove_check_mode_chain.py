# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``--check --diff`` of publish followed by register, against the real Keystone, Glance and Trove API.

A check-mode run is a preview: it ends with rc 0, says which images would be
uploaded and which datastore versions would be created or moved to them, and
leaves Glance and Trove exactly as they were.
"""

from __future__ import annotations

import re
import subprocess
import uuid

from test_glance_image import images_named, make_qcow2


def _versions(trove, conn, datastore):
    return {v["name"]: v for v in trove.versions(conn) if v["datastore_name"] == datastore}


def _build_row(name, path):
    return {"name": name, "status": "built", "fingerprint": uuid.uuid4().hex,
            "outputs": [{"path": str(path), "format": "qcow2"}]}


def _spec(name, version):
    return {"name": name, "elements": ["debian-minimal", "vm"], "size": 2,
            "environment": {"DIB_RELEASE": "bookworm"},
            "trove": {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": version,
                      "mode": "container"}}


def test_check_mode_publish_then_register_previews_and_changes_nothing(
        trove, trove_admin, trove_auth, run_tasks, tmp_path):
    suffix = uuid.uuid4().hex[:8]
    new_version, existing_version = f"chk-{suffix}-new", f"chk-{suffix}-old"
    cloud = {"auth": trove_auth["auth"], "auth_type": "password", "region_name": trove_auth["region_name"]}

    # A version that exists already, pointing at an image in Glance: the preview must move it (update).
    old_file = tmp_path / "old.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(old_file), "1M"], check=True)
    old_image = trove_admin.image.create_image(f"chk-old-{suffix}", filename=str(old_file), disk_format="qcow2",
                                               container_format="bare", wait=True)
    try:
        made = run_tasks([{"name": "register", "ansible.builtin.include_role": {"name": "dbaas.guest_images.register"},
                           "vars": {"register_cloud": cloud, "register_default": False, "register_images": [
                               {"image_id": old_image.id, "trove_datastore": "mysql",
                                "trove_datastore_version": existing_version}]}}])
        assert made.ok, made.output
        before = _versions(trove, trove_admin, "mysql")
        assert before[existing_version]["image"] == old_image.id

        names = [f"chk-a-{suffix}", f"chk-b-{suffix}"]
        files = [make_qcow2(tmp_path, name, mib=1) for name in names]
        tasks = [
            {"name": "publish", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
             "vars": {"publish_cloud": cloud, "publish_images": [_build_row(n, files[i]) for i, n in enumerate(names)],
                      "publish_specs": [_spec(names[0], new_version), _spec(names[1], existing_version)]}},
            {"name": "register", "ansible.builtin.include_role": {"name": "dbaas.guest_images.register"},
             "vars": {"register_cloud": cloud, "register_default": False,
                      "register_images": "{{ publish_results }}"}},
            {"name": "show", "ansible.builtin.debug": {"msg": {"publish": "{{ publish_results }}",
                                                               "register": "{{ register_results }}"}}},
        ]
        preview = run_tasks(tasks, check=True, diff=True)
        assert preview.rc == 0 and preview.ok, preview.output
        shown = preview.result()["msg"]

        assert [(r["name"], r["image_id"], r.get("would_upload")) for r in shown["publish"]] == [
            (names[0], None, True), (names[1], None, True)]
        rows = {r["name"]: r for r in shown["register"]}
        assert rows[new_version]["action"] == "create" and rows[new_version]["changed"] is True
        assert rows[new_version]["image_to_upload"] == names[0] and rows[new_version]["image_id"] is None
        assert rows[existing_version]["action"] == "update" and rows[existing_version]["changed"] is True
        assert rows[existing_version]["image_to_upload"] == names[1]

        # The output says what would be uploaded and what each version would point at.
        for name, version in ((names[0], new_version), (names[1], existing_version)):
            assert f"{name} <- {tmp_path / (name + '.qcow2')}" in preview.output
            assert f"mysql/{version} -> the image to be uploaded, {name}" in preview.output
            assert f"(image to be uploaded: {name})" in preview.output  # the register diff's "after"
        # Glance's defaults, not null, in the publish diff.
        assert re.search(r"^\+\s+visibility: shared$", preview.output, re.M), preview.output
        assert re.search(r"^\+\s+protected: false$", preview.output, re.M)

        # Nothing was created or changed in Glance or Trove.
        for name in names:
            assert images_named(trove_admin, name) == []
        after = _versions(trove, trove_admin, "mysql")
        assert new_version not in after
        assert after[existing_version] == before[existing_version]
    finally:
        for version in _versions(trove, trove_admin, "mysql").values():
            if version["name"] in (new_version, existing_version):
                trove.admin_request(trove_admin, "DELETE", f"/mgmt/datastore-versions/{version['id']}")
        trove_admin.image.delete_image(old_image.id, ignore_missing=True)
