# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dbaas.guest_images.trove_datastore_version against a real Trove API, Keystone and Glance.

Every assertion about the outcome reads Trove's (or Glance's) own view, not
only the module's return.
"""

import subprocess
import uuid

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.references import images_in_use

MODULE = "dbaas.guest_images.trove_datastore_version"


def _qcow2(path, size="1M"):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    return path


@pytest.fixture(scope="module")
def images(trove_admin, tmp_path_factory):
    """Two real (tiny) qcow2 images in Glance: an old build and a new one."""
    folder = tmp_path_factory.mktemp("trove-images")
    suffix = uuid.uuid4().hex[:8]
    made = {}
    for label in ("old", "new"):
        made[label] = trove_admin.image.create_image(
            f"trove-test-{label}-{suffix}", filename=str(_qcow2(folder / f"{label}.qcow2")),
            disk_format="qcow2", container_format="bare", tags=["trove-test", f"tt-{label}-{suffix}"],
            wait=True)
    yield made
    for image in made.values():
        trove_admin.image.delete_image(image.id, ignore_missing=True)


def _datastore():
    return f"ds-{uuid.uuid4().hex[:8]}"


def _find(trove, conn, datastore, name):
    found = [v for v in trove.versions(conn) if v["datastore_name"] == datastore and v["name"] == name]
    assert len(found) <= 1, found
    return found[0] if found else None


def _task(trove_auth, **options):
    return {"name": "datastore version", MODULE: {**trove_auth, **options}}


def test_create_check_mode_then_create_then_unchanged(trove, trove_admin, trove_auth, images, run_tasks):
    datastore = _datastore()
    options = {"datastore": datastore, "name": "8.0", "image": images["old"].name, "manager": "mysql",
               "default": True}

    check = run_tasks([_task(trove_auth, **options)], check=True, diff=True)
    assert check.ok, check.output
    assert check.result()["changed"] is True
    assert check.result()["action"] == "create"
    assert check.result()["diff"]["after"]["image"] == images["old"].id
    assert _find(trove, trove_admin, datastore, "8.0") is None, "check mode must not create anything"

    created = run_tasks([_task(trove_auth, **options)])
    assert created.ok, created.output
    assert created.result()["changed"] is True
    version = _find(trove, trove_admin, datastore, "8.0")
    assert version is not None
    assert version["image"] == images["old"].id
    assert version["datastore_manager"] == "mysql"
    assert version["version"] == "8.0"
    assert version["active"] is True
    assert trove.datastore(trove_admin, datastore)["default_version"] == version["id"]
    assert created.result()["version"]["id"] == version["id"]

    again = run_tasks([_task(trove_auth, **options)], diff=True)
    assert again.ok, again.output
    assert again.result()["changed"] is False
    assert again.result()["action"] == "none"
    assert "request" not in again.result()
    assert _find(trove, trove_admin, datastore, "8.0") == version


def test_switch_to_new_image_and_back_to_tags(trove, trove_admin, trove_auth, images, run_tasks):
    datastore = _datastore()
    base = {"datastore": datastore, "name": "10.11", "manager": "mariadb", "version": "10.11.6"}
    assert run_tasks([_task(trove_auth, image=images["old"].id, **base)]).ok
    before = _find(trove, trove_admin, datastore, "10.11")
    assert before["image"] == images["old"].id

    check = run_tasks([_task(trove_auth, image=images["new"].name, **base)], check=True, diff=True)
    assert check.result()["changed"] is True
    assert check.result()["request"] == {"image": images["new"].id}
    assert _find(trove, trove_admin, datastore, "10.11")["image"] == images["old"].id

    switched = run_tasks([_task(trove_auth, image=images["new"].name, **base)], diff=True)
    assert switched.ok, switched.output
    assert switched.result()["changed"] is True
    assert switched.result()["diff"]["before"]["image"] == images["old"].id
    assert switched.result()["diff"]["after"]["image"] == images["new"].id
    after = _find(trove, trove_admin, datastore, "10.11")
    assert after["id"] == before["id"], "the version must be updated in place, not re-created"
    assert after["image"] == images["new"].id
    assert after["version"] == "10.11.6"

    tags = sorted(images["new"].tags)
    tagged = run_tasks([_task(trove_auth, image_tags=tags, **base)])
    assert tagged.ok, tagged.output
    assert tagged.result()["changed"] is True
    version = _find(trove, trove_admin, datastore, "10.11")
    assert not version["image"]
    assert sorted(version["image_tags"]) == tags
    assert run_tasks([_task(trove_auth, image_tags=list(reversed(tags)), **base)]).result()["changed"] is False


def test_default_and_active_flags(trove, trove_admin, trove_auth, images, run_tasks):
    datastore = _datastore()
    first = {"datastore": datastore, "name": "15", "image": images["old"].id, "manager": "postgresql"}
    second = {"datastore": datastore, "name": "16", "image": images["new"].id, "manager": "postgresql"}
    assert run_tasks([_task(trove_auth, default=True, **first), _task(trove_auth, **second)]).ok
    v15 = _find(trove, trove_admin, datastore, "15")
    assert trove.datastore(trove_admin, datastore)["default_version"] == v15["id"]

    moved = run_tasks([_task(trove_auth, default=True, **second)])
    assert moved.ok, moved.output
    v16 = _find(trove, trove_admin, datastore, "16")
    assert trove.datastore(trove_admin, datastore)["default_version"] == v16["id"]
    assert _find(trove, trove_admin, datastore, "15")["default"] is False

    retired = run_tasks([_task(trove_auth, active=False, **first)])
    assert retired.ok, retired.output
    assert _find(trove, trove_admin, datastore, "15")["active"] is False
    assert _find(trove, trove_admin, datastore, "16")["active"] is True

    # Trove makes only active versions default: refused before anything is sent.
    both = run_tasks([_task(trove_auth, active=False, default=True, **second)])
    assert both.result()["failed"] is True
    assert "'active: false'" in both.result()["msg"]
    unchanged = _find(trove, trove_admin, datastore, "16")
    assert unchanged["active"] is True and unchanged["default"] is True


def test_absent_deletes_the_version(trove, trove_admin, trove_auth, images, run_tasks):
    datastore = _datastore()
    options = {"datastore": datastore, "name": "8.4", "image": images["old"].id, "manager": "mysql"}
    assert run_tasks([_task(trove_auth, **options)]).ok
    assert _find(trove, trove_admin, datastore, "8.4") is not None

    check = run_tasks([_task(trove_auth, state="absent", datastore=datastore, name="8.4")], check=True)
    assert check.result()["changed"] is True
    assert _find(trove, trove_admin, datastore, "8.4") is not None

    gone = run_tasks([_task(trove_auth, state="absent", datastore=datastore, name="8.4")])
    assert gone.ok, gone.output
    assert gone.result()["changed"] is True
    assert _find(trove, trove_admin, datastore, "8.4") is None
    again = run_tasks([_task(trove_auth, state="absent", datastore=datastore, name="8.4")])
    assert again.result()["changed"] is False


def test_unknown_image_is_refused_before_trove_is_changed(trove, trove_admin, trove_auth, run_tasks):
    datastore = _datastore()
    failed = run_tasks([_task(trove_auth, datastore=datastore, name="8.0", image="no-such-image-anywhere")])
    assert failed.result()["failed"] is True
    assert "Option 'image'" in failed.result()["msg"]
    assert "no-such-image-anywhere" in failed.result()["msg"]
    assert _find(trove, trove_admin, datastore, "8.0") is None


def test_manager_is_required_for_a_datastore_trove_has_no_manager_for(trove, trove_admin, trove_auth, images,
                                                                      run_tasks):
    datastore = _datastore()
    # Without a manager, and with a manager Trove is not configured for (Trove's own error, explained).
    run = run_tasks([_task(trove_auth, datastore=datastore, name="1.0", image=images["old"].id),
                     _task(trove_auth, datastore=datastore, name="1.0", image=images["old"].id, manager="nosuchdb")])
    missing, odd = run.results
    assert missing["failed"] is True
    assert "Option 'manager'" in missing["msg"]
    assert odd["failed"] is True
    assert "manager 'nosuchdb'" in odd["msg"]
    assert _find(trove, trove_admin, datastore, "1.0") is None


def test_bad_input_is_refused_with_the_option_named(trove_auth, run_tasks):
    run = run_tasks([_task(trove_auth, datastore="mysql", name="8.0", image="x", image_tags=["y"]),
                     _task(trove_auth, datastore=" ", name="8.0", image="x")])
    both, blank = run.results
    assert both["failed"] is True
    assert "image" in both["msg"] and "image_tags" in both["msg"]
    assert blank["failed"] is True
    assert "'datastore'" in blank["msg"]


def test_referenced_image_ids_lists_what_trove_points_at(trove, trove_admin, trove_auth, images, run_tasks):
    datastore = _datastore()
    assert run_tasks([_task(trove_auth, datastore=datastore, name="8.0", image=images["new"].id,
                            manager="mysql")]).ok
    referenced = images_in_use(trove_admin).ids
    assert images["new"].id in referenced
    expected = {v["image"] for v in trove.versions(trove_admin) if v["image"]}
    assert set(referenced) == expected
