# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dbaas.guest_images.register role against a real Trove API, Keystone and Glance."""

import subprocess
import uuid

import pytest

ROLE = "dbaas.guest_images.register"


def _include(**role_vars):
    return {"name": "register", "ansible.builtin.include_role": {"name": ROLE}, "vars": role_vars}


@pytest.fixture(scope="module")
def published(trove_admin, tmp_path_factory):
    """Two published images as the publish stage would leave them, plus a plain (non-Trove) one."""
    folder = tmp_path_factory.mktemp("register-images")
    suffix = uuid.uuid4().hex[:8]
    images = []
    for label in ("a", "b"):
        path = folder / f"{label}.qcow2"
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), "1M"], check=True)
        images.append(trove_admin.image.create_image(
            f"register-{label}-{suffix}", filename=str(path), disk_format="qcow2", container_format="bare",
            wait=True))
    yield suffix, images
    for image in images:
        trove_admin.image.delete_image(image.id, ignore_missing=True)


def _versions(trove, conn, datastore):
    return {v["name"]: v for v in trove.versions(conn) if v["datastore_name"] == datastore}


def test_register_creates_then_reruns_unchanged_then_switches(
        trove, trove_admin, trove_auth, published, run_tasks):
    suffix, (image_a, image_b) = published
    datastore = f"reg-{suffix}"
    results = [
        {"name": image_a.name, "image_id": image_a.id, "trove_datastore": datastore,
         "trove_datastore_version": "8.0", "trove_manager": "mysql", "disk_format": "qcow2"},
        # The same build in another disk format: not registered (register_disk_formats).
        {"name": image_a.name + "-raw", "image_id": image_b.id, "trove_datastore": datastore,
         "trove_datastore_version": "8.0", "disk_format": "raw"},
        {"name": "plain-debian", "image_id": image_b.id, "trove_datastore": ""},  # not a Trove image
        {"name": image_b.name, "image_id": image_b.id, "trove_datastore": datastore, "trove_datastore_version": "8.4",
         "trove_manager": "mysql", "default": False},
    ]
    cloud = {"auth": trove_auth["auth"], "auth_type": "password", "region_name": trove_auth["region_name"]}

    first = run_tasks([_include(register_cloud=cloud, register_images=results)])
    assert first.ok, first.output
    versions = _versions(trove, trove_admin, datastore)
    assert sorted(versions) == ["8.0", "8.4"]
    assert versions["8.0"]["image"] == image_a.id
    assert versions["8.4"]["image"] == image_b.id
    assert trove.datastore(trove_admin, datastore)["default_version"] == versions["8.0"]["id"]
    registered = run_tasks([_include(register_cloud=cloud, register_images=results),
                            {"name": "show", "ansible.builtin.debug": {"var": "register_results"}}])
    assert registered.ok, registered.output
    rows = registered.result()["register_results"]
    assert [(r["name"], r["image_id"], r["changed"]) for r in rows] == [("8.0", image_a.id, False),
                                                                        ("8.4", image_b.id, False)]
    assert _versions(trove, trove_admin, datastore) == versions

    # A new build of 8.0 was published: the version moves to it, in place.
    switched = [dict(results[0], image_id=image_b.id), results[3]]
    moved = run_tasks([_include(register_cloud=cloud, register_images=switched),
                       {"name": "show", "ansible.builtin.debug": {"var": "register_results"}}])
    assert moved.ok, moved.output
    assert [r["changed"] for r in moved.result()["register_results"]] == [True, False]
    after = _versions(trove, trove_admin, datastore)
    assert after["8.0"]["id"] == versions["8.0"]["id"]
    assert after["8.0"]["image"] == image_b.id


def test_register_without_a_cloud_does_nothing(trove, trove_admin, published, run_tasks):
    suffix, (image_a, _image_b) = published
    datastore = f"none-{suffix}"
    images = [{"image_id": image_a.id, "trove_datastore": datastore, "trove_datastore_version": "1",
               "trove_manager": "mysql"}]
    skipped = run_tasks([_include(register_cloud="", register_images=images)])
    assert skipped.ok, skipped.output
    assert "no Trove datastore version is registered" in skipped.output
    assert _versions(trove, trove_admin, datastore) == {}


def test_register_refuses_an_item_without_image_before_touching_trove(trove, trove_admin, trove_auth, published,
                                                                      run_tasks):
    suffix, (image_a, _image_b) = published
    datastore = f"bad-{suffix}"
    images = [{"image_id": image_a.id, "trove_datastore": datastore, "trove_datastore_version": "1",
               "trove_manager": "mysql"},
              {"trove_datastore": datastore, "trove_datastore_version": "2"}]
    cloud = {"auth": trove_auth["auth"], "auth_type": "password", "region_name": trove_auth["region_name"]}
    failed = run_tasks([_include(register_cloud=cloud, register_images=images)])
    assert not failed.ok
    assert "needs an image id" in failed.output
    assert _versions(trove, trove_admin, datastore) == {}


def test_register_refuses_two_images_for_one_version(trove, trove_admin, trove_auth, published, run_tasks):
    suffix, (image_a, image_b) = published
    datastore = f"dup-{suffix}"
    images = [{"image_id": image.id, "trove_datastore": datastore, "trove_datastore_version": "8.0",
               "trove_manager": "mysql"} for image in (image_a, image_b)]
    cloud = {"auth": trove_auth["auth"], "auth_type": "password", "region_name": trove_auth["region_name"]}
    failed = run_tasks([_include(register_cloud=cloud, register_images=images)])
    assert not failed.ok
    assert "several images for one datastore version" in failed.output
    assert _versions(trove, trove_admin, datastore) == {}
