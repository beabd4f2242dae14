# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dbaas.guest_images.glance_image against a real Keystone and Glance (fixtures/cloud.py).

Every assertion that matters is made from Glance's side (ids, timestamps, hashes, counts),
not only from the module's own result.
"""

from __future__ import annotations

import hashlib
import subprocess
import threading
import time
import uuid

import pytest
from lib.digest import sha512


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def make_qcow2(folder, name: str, mib: int = 4):
    """A real qcow2 (qemu-img) holding ``mib`` MiB of random data: every call gives different content."""
    raw = folder / f"{name}.raw"
    with open(raw, "wb") as handle:
        for _mib in range(mib):
            handle.write(uuid.uuid4().bytes * 65536)
    out = folder / f"{name}.qcow2"
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out)], check=True)
    raw.unlink()
    return out


def warned(result: dict, text: str) -> bool:
    return any(text in w for w in result.get("warnings", [])) or text in result.get("_output", "")


@pytest.fixture
def cache_env(tmp_path):
    """A private hash cache for the module runs of one test."""
    return {"XDG_CACHE_HOME": str(tmp_path / "xdg-cache")}


@pytest.fixture(scope="module")
def admin(cloud_config):
    return cloud_config.connect(cloud_config.admin_cloud)


def images_named(conn, name: str) -> list:
    return sorted(conn.image.images(name=name, visibility="all"), key=lambda i: i.created_at)


def glance_json(conn, image_id: str) -> dict:
    """The image exactly as Glance's API shows it (extra properties are top-level keys)."""
    response = conn.image.get(f"/images/{image_id}")
    response.raise_for_status()
    return response.json()


def images_tagged(conn, tag: str) -> list:
    return sorted(conn.image.images(tag=[tag], visibility="all"), key=lambda i: i.created_at)


def test_publish_real_dib_image_by_content(base_image, run_module, admin, cache_env, tmp_path):
    """Upload a DIB-built qcow2; a rerun uploads nothing; a property change is a metadata-only update."""
    name = unique("dib-base")
    path = str(base_image.qcow2)
    args = {"name": name, "filename": path, "family": name, "os_distro": "debian", "os_version": "12",
            "architecture": "amd64", "build_fingerprint": base_image.report_entry.get("fingerprint"),
            "tags": ["test"], "hash_cache": False}
    rc, first = run_module("glance_image", args, env=cache_env)
    assert rc == 0, first
    assert first["changed"] is True and first["uploaded"] is True

    [image] = images_named(admin, name)
    assert image.status == "active"
    assert image.size == base_image.qcow2.stat().st_size
    assert image.hash_algo == "sha512"
    assert image.hash_value == sha512(path)
    assert image.id == first["image"]["id"]
    raw = glance_json(admin, image.id)
    assert raw["os_distro"] == "debian"
    assert raw["hw_disk_bus"] == "virtio"
    assert raw["architecture"] == "x86_64"
    assert f"family:{name}" in image.tags

    # Rerun without a hash cache: the file is hashed, compared with Glance's, nothing is sent.
    rc, again = run_module("glance_image", args, env=cache_env)
    assert rc == 0, again
    assert again["changed"] is False and again["uploaded"] is False
    assert again["hash"]["source"] == "computed"
    [same] = images_named(admin, name)
    assert (same.id, same.created_at, same.updated_at) == (image.id, image.created_at, image.updated_at)

    # Check mode with a changed property: reported, not done.
    changed_args = dict(args, os_version="12.9")
    rc, check = run_module("glance_image", changed_args, check=True, diff=True, env=cache_env)
    assert rc == 0, check
    assert check["changed"] is True and check["uploaded"] is False
    assert check["diff"]["before"]["properties"]["os_version"] == "12"
    assert check["diff"]["after"]["properties"]["os_version"] == "12.9"
    [same] = images_named(admin, name)
    assert same.updated_at == image.updated_at and glance_json(admin, same.id)["os_version"] == "12"

    time.sleep(1.1)  # Glance's timestamps have one-second resolution
    rc, update = run_module("glance_image", changed_args, env=cache_env)
    assert rc == 0, update
    assert update["changed"] is True and update["uploaded"] is False
    assert update["updated"] == ["os_version"]
    [updated] = images_named(admin, name)
    assert updated.id == image.id and updated.created_at == image.created_at
    assert updated.updated_at != image.updated_at
    assert glance_json(admin, updated.id)["os_version"] == "12.9"
    assert updated.hash_value == image.hash_value


def test_rerun_reads_hash_from_cache_and_checksum(run_module, admin, cache_env, tmp_path):
    name = unique("cache")
    path = make_qcow2(tmp_path, name, mib=8)
    rc, first = run_module("glance_image", {"name": name, "filename": str(path)}, env=cache_env)
    assert rc == 0 and first["uploaded"] is True, first
    assert first["hash"] == {"algorithm": "sha512", "value": sha512(path), "source": "upload"}

    rc, cached = run_module("glance_image", {"name": name, "filename": str(path)}, env=cache_env)
    assert rc == 0 and cached["changed"] is False, cached
    assert cached["hash"]["source"] == "cache"

    rc, given = run_module("glance_image", {"name": name, "filename": str(path), "hash_cache": False,
                                            "checksum": "sha512:" + sha512(path)}, env=cache_env)
    assert rc == 0 and given["changed"] is False, given
    assert given["hash"]["source"] == "checksum"
    assert len(images_named(admin, name)) == 1


def test_check_mode_predicts_the_attributes_glance_then_sets(run_module, admin, cache_env, tmp_path):
    """diff_mode is full: the predicted image holds Glance's defaults, which the real upload then shows."""
    name = unique("predict")
    path = make_qcow2(tmp_path, name, mib=1)
    args = {"name": name, "filename": str(path)}
    rc, check = run_module("glance_image", args, check=True, diff=True, env=cache_env)
    assert rc == 0 and check["would_upload"] is True and check["image"]["id"] is None, check
    assert images_named(admin, name) == []
    rc, real = run_module("glance_image", args, diff=True, env=cache_env)
    assert rc == 0 and real["uploaded"] is True and real["would_upload"] is False, real
    [image] = images_named(admin, name)
    raw = glance_json(admin, image.id)
    for key in ("visibility", "min_disk", "min_ram", "protected"):
        assert check["diff"]["after"][key] == raw[key] == real["diff"]["after"][key], key
    assert (raw["visibility"], raw["min_disk"], raw["min_ram"], raw["protected"]) == ("shared", 0, 0, False)


def test_keep_below_one_is_refused_naming_the_option(run_module, admin, tmp_path):
    name = unique("keep")
    path = make_qcow2(tmp_path, name, mib=1)
    for keep in (-1, 0):
        rc, result = run_module("glance_image", {"name": name, "filename": str(path), "keep": keep})
        assert rc != 0 and f"Option 'keep' is {keep}: it must be at least 1" in result["msg"], result
    assert images_named(admin, name) == []


def test_a_wrong_checksum_of_any_algorithm_is_refused_before_glance_creates_anything(
        run_module, admin, cache_env, tmp_path):
    """The publish role passes the build report's sha256 while Glance hashes sha512: it must still be checked."""
    name = unique("badsum")
    path = make_qcow2(tmp_path, name, mib=2)
    right_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    wrong = {"sha256": "0" * 64, "sha512": "0" * 128}
    for check in (True, False):
        for algorithm, digest in wrong.items():
            rc, result = run_module("glance_image", {"name": name, "filename": str(path),
                                                     "checksum": f"{algorithm}:{digest}"},
                                    check=check, env=cache_env)
            assert rc != 0, result
            assert f"does not match option 'checksum' ({algorithm}:0000000000000000..." in result["msg"], result
            assert "no image was created" in result["msg"]
            assert result["checksum_actual"].startswith(f"{algorithm}:") and result.get("changed") is not True
            assert images_named(admin, name) == []
    rc, result = run_module("glance_image", {"name": name, "filename": str(path), "checksum": f"sha256:{right_sha256}"},
                            env=cache_env)
    assert rc == 0 and result["uploaded"] is True, result
    [image] = images_named(admin, name)
    assert image.hash_value == sha512(path)


def test_new_content_same_name_uploads_and_rotates_with_protection(run_module, admin, cache_env, tmp_path,
                                                                   cloud_config):
    """keep=2 deletes the old images of the family, but not a protected one nor a referenced one."""
    family = unique("fam")
    published = []
    for index, extra in enumerate([{"protected": True}, {}, {}, {}]):
        path = make_qcow2(tmp_path, f"{family}-{index}")
        rc, result = run_module("glance_image", {"name": family, "filename": str(path), "family": family, **extra},
                                cloud=cloud_config.admin_cloud, env=cache_env)
        assert rc == 0 and result["uploaded"] is True, result
        published.append(result["image"]["id"])
        time.sleep(1.1)  # distinct created_at
    protected_id, referenced_id, plain_id, newest_id = published
    assert [i.id for i in images_tagged(admin, f"family:{family}")] == published

    last = make_qcow2(tmp_path, f"{family}-last")
    rc, rotated = run_module("glance_image", {"name": family, "filename": str(last), "family": family, "keep": 2,
                                              "referenced_image_ids": [referenced_id]},
                             cloud=cloud_config.admin_cloud, env=cache_env)
    assert rc == 0, rotated
    assert [d["id"] for d in rotated["deleted"]] == [plain_id]
    spared = {s["id"]: s["reason"] for s in rotated["spared"]}
    assert spared[protected_id] == "protected"
    assert spared[referenced_id].startswith("referenced")

    left = [i.id for i in images_tagged(admin, f"family:{family}")]
    assert left == [protected_id, referenced_id, newest_id, rotated["image"]["id"]]
    assert admin.image.get_image(protected_id).is_protected is True

    # The protected image is not in the way of tests that run after this one.
    admin.image.update_image(protected_id, is_protected=False)


def through_cut(keystone, **args) -> dict:
    """Module options for the member user, with the image endpoint of RegionCut."""
    return {"auth": keystone.users["gi-member"].auth(keystone.auth_url), "auth_type": "password",
            "region_name": "RegionCut", **args}


def no_image_left(conn, name: str) -> bool:
    return not images_named(conn, name)


def test_cut_connection_is_retried_without_orphan(run_module, admin, keystone, cut_region, cache_env, tmp_path):
    name = unique("cut-once")
    path = make_qcow2(tmp_path, name, mib=16)
    cut_region.rate, cut_region.cut_after, cut_region.cuts = None, 4 << 20, cut_region.uploads_cut + 1
    rc, result = run_module("glance_image", through_cut(keystone, name=name, filename=str(path)), cloud=None,
                            env=cache_env)
    assert rc == 0, result
    assert result["uploaded"] is True
    assert warned(result, "retry 1"), result["_output"]
    [image] = images_named(admin, name)
    assert image.status == "active" and image.hash_value == sha512(path)


def test_cut_connection_failure_leaves_nothing(run_module, admin, keystone, cut_region, cache_env, tmp_path):
    name = unique("cut-always")
    path = make_qcow2(tmp_path, name, mib=16)
    cut_region.rate, cut_region.cut_after, cut_region.cuts = None, 4 << 20, cut_region.uploads_cut + 2
    rc, result = run_module("glance_image", through_cut(keystone, name=name, filename=str(path), retries=1),
                            cloud=None, env=cache_env)
    assert rc != 0
    assert "Traceback" not in result["msg"]
    assert "publishing" in result["msg"] or "connect" in result["msg"].lower(), result["msg"]
    assert no_image_left(admin, name)


def test_glance_stopped_mid_upload_leaves_no_orphan(run_module, admin, keystone, cut_region, restart_glance,
                                                    cache_env, tmp_path):
    """Glance is killed while the data streams in, then comes back: the half-made record is deleted and
    the upload starts over; in the end exactly one active image exists."""
    name = unique("glance-down")
    path = make_qcow2(tmp_path, name, mib=48)
    cut_region.rate, cut_region.cut_after, cut_region.cuts = 4 << 20, None, 0  # 12 s per attempt
    seen_before = cut_region.uploads_seen
    glance = restart_glance

    def kill_and_restart():
        deadline = time.monotonic() + 120
        while cut_region.uploads_seen == seen_before and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)
        outcome["killed_during_upload"] = cut_region.uploads_seen == seen_before + 1
        glance.kill()
        time.sleep(2)
        glance.start()

    outcome = {}
    worker = threading.Thread(target=kill_and_restart)
    worker.start()
    try:
        rc, result = run_module("glance_image", through_cut(keystone, name=name, filename=str(path), retries=3,
                                                            timeout=300), cloud=None, env=cache_env)
    finally:
        worker.join()
        cut_region.rate = None
    assert outcome.get("killed_during_upload") is True, (outcome, result)
    assert rc == 0, result
    assert warned(result, "retry 1"), result["_output"]
    assert cut_region.uploads_seen >= seen_before + 2
    images = images_named(admin, name)
    assert [i.status for i in images] == ["active"], [(i.id, i.status) for i in images]
    assert images[0].id == result["image"]["id"]
    assert images[0].hash_value == sha512(path)


def test_clear_errors(run_module, admin, cache_env, tmp_path, cloud_config):
    path = make_qcow2(tmp_path, "ok", mib=1)

    rc, result = run_module("glance_image", {"name": "x", "filename": str(path)}, cloud="no-such-cloud")
    assert rc != 0
    assert "Cloud 'no-such-cloud' is not defined" in result["msg"]

    rc, result = run_module("glance_image", {"name": "x", "filename": str(path),
                                             "auth": {"password": "wrong-secret"}})
    assert rc != 0
    assert "refused the credentials" in result["msg"]
    assert "wrong-secret" not in str(result)

    rc, result = run_module("glance_image", {"name": "x", "filename": str(tmp_path / "missing.qcow2")})
    assert rc != 0
    assert "Option 'filename'" in result["msg"] and "does not exist" in result["msg"]

    rc, result = run_module("glance_image", {"name": "x", "filename": str(path), "checksum": "sha512:abc"})
    assert rc != 0 and "checksum" in result["msg"]

    name = unique("not-qcow2")
    fake = tmp_path / "fake.qcow2"
    fake.write_bytes(b"this is not a disk image\n" * 40000)
    rc, result = run_module("glance_image", {"name": name, "filename": str(fake), "disk_format": "qcow2"},
                            env=cache_env)
    assert rc != 0
    assert "refused the data" in result["msg"] and "qcow2" in result["msg"] and "qemu-img info" in result["msg"]
    assert no_image_left(admin, name)

    rc, result = run_module("glance_image", {"name": unique("pub"), "filename": str(path), "visibility": "public"},
                            env=cache_env)
    assert rc != 0 and "403" in result["msg"]


def test_absent_by_name_and_id(run_module, admin, cache_env, tmp_path):
    name = unique("absent")
    ids = []
    for index in range(2):
        path = make_qcow2(tmp_path, f"{name}-{index}", mib=1)
        rc, result = run_module("glance_image", {"name": name, "filename": str(path)}, env=cache_env)
        assert rc == 0, result
        ids.append(result["image"]["id"])

    rc, result = run_module("glance_image", {"id": ids[0], "state": "absent"}, check=True)
    assert rc == 0 and result["changed"] is True
    assert len(images_named(admin, name)) == 2

    rc, result = run_module("glance_image", {"id": ids[0], "state": "absent"})
    assert rc == 0 and [d["id"] for d in result["deleted"]] == [ids[0]]
    assert [i.id for i in images_named(admin, name)] == [ids[1]]

    rc, result = run_module("glance_image", {"name": name, "state": "absent"})
    assert rc == 0 and result["changed"] is True
    assert no_image_left(admin, name)

    rc, result = run_module("glance_image", {"name": name, "state": "absent"})
    assert rc == 0 and result["changed"] is False
