# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A family of images over its life, against a real Keystone, Glance and Trove API.

- an outage longer than the module's timeout leaves a record; the next run deletes it, and only it;
- rolling back (publishing bytes an older image holds) makes that data the image Trove's own
  selection code launches for a datastore version registered with ``image_tags``;
- unique names within a family, each found by ``openstack image show NAME``.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
import uuid

import pytest
from lib.digest import sha512
from lib.openstack_services import ensure_venv
from test_glance_image import make_qcow2, warned

MARKER = "dbaas_guest_images_upload"
OSC_REQUIREMENTS = ("python-openstackclient==10.5.0",)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def family_images(conn, family: str) -> list:
    """The family's images as Glance's API shows them (extra properties are top-level keys), oldest first."""
    response = conn.image.get("/images", params={"tag": f"family:{family}", "visibility": "all", "limit": 100})
    response.raise_for_status()
    return sorted(response.json()["images"], key=lambda i: (i["created_at"], i["id"]))


@pytest.fixture(scope="module")
def member(cloud_config):
    return cloud_config.connect(cloud_config.member_cloud)


def test_outage_longer_than_timeout_is_cleaned_by_the_rerun_and_only_ours(
        run_module, member, keystone, cut_region, restart_glance, tmp_path):
    """Glance is killed mid-upload and stays down past ``timeout``: the record cannot be deleted and the
    task says so; Glance comes back; an operator's own queued image of the family appears; the rerun
    deletes the left-over record (it carries the collection's marker), uploads once, and spares the
    operator's image. In the end: exactly one active image, no record of ours that is not active."""
    family = unique("outage")
    path = make_qcow2(tmp_path, family, mib=12)
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    options = {"auth": keystone.users["gi-member"].auth(keystone.auth_url), "auth_type": "password",
               "region_name": "RegionCut", "name": family, "filename": str(path), "family": family,
               "unique_name": True, "keep": 2, "timeout": 4}
    glance = restart_glance
    seen_before = cut_region.uploads_seen
    cut_region.rate, cut_region.cut_after, cut_region.cuts = 2 << 20, None, 0  # 6 s per attempt
    outcome = {}

    def kill_during_upload():
        deadline = time.monotonic() + 60
        while cut_region.uploads_seen == seen_before and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        outcome["killed_during_upload"] = cut_region.uploads_seen == seen_before + 1
        glance.kill()

    worker = threading.Thread(target=kill_during_upload)
    worker.start()
    try:
        rc, failed = run_module("glance_image", options, cloud=None, env=env)
    finally:
        worker.join()
        cut_region.rate = None
        glance.start()
    assert outcome.get("killed_during_upload") is True, outcome
    assert rc != 0, failed
    orphan = failed.get("orphan_id")
    assert orphan and "next run of this task deletes it" in failed["msg"], failed

    [left] = family_images(member, family)
    assert left["id"] == orphan and left["status"] in ("queued", "saving"), left
    assert re.fullmatch(r".+:\d+", left[MARKER]), left[MARKER]

    # An operator's record of the same family and name, without data: not ours, it must stay.
    record = {"name": family, "disk_format": "qcow2", "container_format": "bare", "tags": [f"family:{family}"]}
    response = member.image.post("/images", json=record)
    response.raise_for_status()
    operators = response.json()["id"]

    rc, check = run_module("glance_image", options, cloud=None, env=env, check=True)
    assert rc == 0 and [c["id"] for c in check["cleaned"]] == [orphan], check
    assert {i["id"] for i in family_images(member, family)} == {orphan, operators}

    rc, rerun = run_module("glance_image", options, cloud=None, env=env)
    assert rc == 0 and rerun["uploaded"] is True and rerun["changed"] is True, rerun
    assert [c["id"] for c in rerun["cleaned"]] == [orphan]
    assert {s["id"]: s["reason"] for s in rerun["spared"]} == {operators: "not active"}
    images = family_images(member, family)
    assert {i["id"]: i["status"] for i in images} == {rerun["image"]["id"]: "active", operators: "queued"}
    [active] = [i for i in images if i["status"] == "active"]
    assert active["os_hash_value"] == sha512(path) and MARKER in active

    rc, again = run_module("glance_image", options, cloud=None, env=env)
    assert rc == 0 and again["changed"] is False and again["cleaned"] == [], again
    member.image.delete(f"/images/{operators}").raise_for_status()


def test_rollback_is_the_image_trove_selects_by_tags(run_module, trove, trove_admin, cloud_config, tmp_path):
    """A, then B, then A again: Trove's own get_image_id (instance create's code) picks A's data again."""
    family = unique("rollback")
    datastore = unique("ds")
    tag = f"rb-{uuid.uuid4().hex[:8]}"  # Trove takes image tags of at most 20 characters
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    files = {label: make_qcow2(tmp_path, f"{family}-{label}", mib=2) for label in ("a", "b")}

    def publish(label, **extra):
        rc, result = run_module("glance_image", {"name": family, "filename": str(files[label]), "family": family,
                                                 "unique_name": True, "tags": [tag], **extra},
                                cloud=cloud_config.admin_cloud, env=env)
        assert rc == 0, result
        return result

    first = publish("a")
    time.sleep(1.1)  # Glance's created_at has one-second resolution
    second = publish("b")
    rc, registered = run_module("trove_datastore_version", {"datastore": datastore, "name": "8.0", "manager": "mysql",
                                                            "image_tags": [tag]},
                                cloud=cloud_config.admin_cloud)
    assert rc == 0, registered
    assert trove.selected_image(datastore, "8.0")["image_id"] == second["image"]["id"]

    time.sleep(1.1)
    rc, check = run_module("glance_image", {"name": family, "filename": str(files["a"]), "family": family,
                                            "unique_name": True, "tags": [tag]}, cloud=cloud_config.admin_cloud,
                           env=env, check=True)
    assert rc == 0 and check["would_upload"] is True and check["rolled_back"]["previous"]["id"] == \
        second["image"]["id"], check
    assert trove.selected_image(datastore, "8.0")["image_id"] == second["image"]["id"]

    back = publish("a")
    assert back["changed"] is True and back["uploaded"] is True, back
    assert back["rolled_back"]["previous"]["id"] == second["image"]["id"]
    assert back["rolled_back"]["same_data_as"]["id"] == first["image"]["id"]
    assert [d["id"] for d in back["deleted"]] == [first["image"]["id"]]
    selected = trove.selected_image(datastore, "8.0")
    assert selected["version_image_id"] in (None, "") and selected["version_image_tags"]
    assert selected["image_id"] == back["image"]["id"]
    images = {i["id"]: i for i in family_images(trove_admin, family)}
    assert set(images) == {second["image"]["id"], back["image"]["id"]}
    assert images[back["image"]["id"]]["os_hash_value"] == sha512(files["a"])

    # Rolled back: publishing A once more changes nothing.
    assert publish("a")["changed"] is False


@pytest.fixture(scope="module")
def openstack_cli():
    """python-openstackclient, the second opinion (its own venv in the cache, built once)."""
    return str(ensure_venv("bench-openstackclient", OSC_REQUIREMENTS) / "bin" / "openstack")


def test_unique_names_in_a_family_each_found_by_openstack_image_show(
        run_module, member, cloud_config, openstack_cli, tmp_path):
    family = unique("names")
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    # The member user may not list Trove's datastore versions, and with Trove in the catalog rotation then
    # (rightly) deletes nothing; this test is about names, so it does not ask Trove.
    files = [make_qcow2(tmp_path, f"{family}-{n}", mib=1) for n in range(4)]

    # An image published before unique names: plain name; without unique_name a repeat is warned about.
    rc, legacy = run_module("glance_image", {"name": family, "filename": str(files[0]), "family": family}, env=env)
    assert rc == 0 and legacy["image"]["name"] == family, legacy
    time.sleep(1.1)
    rc, repeat = run_module("glance_image", {"name": family, "filename": str(files[1]), "family": family}, env=env)
    assert rc == 0 and warned(repeat, "cannot tell them apart"), repeat

    args = {"name": family, "family": family, "unique_name": True, "keep": 3, "check_trove": False}
    # The same bytes as the newest, now with unique_name: the image is renamed after its creation time.
    rc, renamed = run_module("glance_image", dict(args, filename=str(files[1])), env=env)
    assert rc == 0 and renamed["uploaded"] is False and renamed["updated"] == ["name"], renamed
    stamp = re.sub(r"\D", "", repeat["image"]["created_at"])[:14]
    assert renamed["image"]["name"] == f"{family}-{stamp}" and renamed["image"]["id"] == repeat["image"]["id"]
    rc, same = run_module("glance_image", dict(args, filename=str(files[1])), env=env)
    assert rc == 0 and same["changed"] is False, same

    published = [renamed["image"]]
    for path in files[2:]:
        time.sleep(1.1)
        rc, result = run_module("glance_image", dict(args, filename=str(path)), env=env)
        assert rc == 0 and result["uploaded"] is True, result
        assert re.fullmatch(re.escape(family) + r"-\d{14}", result["image"]["name"]), result["image"]["name"]
        published.append(result["image"])
    # keep=3: the legacy image went, three stay, each with its own name.
    images = family_images(member, family)
    assert [i["id"] for i in images] == [p["id"] for p in published]
    assert len({i["name"] for i in images}) == 3
    for image in images:
        proc = subprocess.run([openstack_cli, "image", "show", image["name"], "-f", "json"], env={
            **cloud_config.env, "OS_CLOUD": cloud_config.member_cloud, "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path)},
            capture_output=True, text=True, timeout=120, check=False)
        assert proc.returncode == 0, proc.stderr
        shown = json.loads(proc.stdout)
        assert shown["id"] == image["id"] and shown["name"] == image["name"]
