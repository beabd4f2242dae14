# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Property defaults, metadata patches and rotation selection."""

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance import metadata as gm


def test_default_properties_for_a_trove_guest():
    props = gm.default_properties(os_distro="Debian", os_version=12, arch="amd64", datastore="mysql",
                                  datastore_version="8.0", fingerprint="abc")
    assert props["os_distro"] == "debian" and props["os_version"] == "12"
    assert props["architecture"] == "x86_64" and props["hw_architecture"] == "x86_64"
    assert props["trove_datastore"] == "mysql" and props["trove_datastore_version"] == "8.0"
    assert props["build_fingerprint"] == "abc"
    assert props["hw_disk_bus"] == "virtio" and props["hw_vif_model"] == "virtio"
    assert props["hw_qemu_guest_agent"] == "no"


def test_default_properties_without_hardware_and_unknown_arch():
    props = gm.default_properties(arch="riscv64", hardware=False, qemu_guest_agent=True)
    assert props == {"architecture": "riscv64", "hw_architecture": "riscv64", "hw_qemu_guest_agent": "yes"}
    assert gm.default_properties(hardware=False) == {}


def test_property_value():
    assert gm.property_value(True) == "true" and gm.property_value(False) == "false"
    assert gm.property_value(3) == "3" and gm.property_value(None) == ""


def test_normalize_splits_properties():
    raw = {"id": "i1", "name": "n", "status": "active", "tags": ["b", "a"], "os_distro": "debian", "size": 3,
           "stores": "fs"}
    image = gm.normalize_image(raw)
    assert image["tags"] == ["a", "b"]
    assert image["properties"] == {"os_distro": "debian"}
    assert image["size"] == 3 and "stores" not in image["properties"]


def test_metadata_patch_only_what_differs():
    image = {"name": "old", "visibility": "shared", "protected": False, "min_disk": 0, "tags": ["keep"],
             "os_distro": "debian", "os_version": "11", "other": "x"}
    ops = gm.metadata_patch(image, {"name": "new", "visibility": "shared", "min_disk": 5},
                            {"os_distro": "debian", "os_version": "12", "hw_disk_bus": "virtio"}, ["keep", "t2"])
    assert {"op": "replace", "path": "/name", "value": "new"} in ops
    assert {"op": "replace", "path": "/min_disk", "value": 5} in ops
    assert {"op": "replace", "path": "/os_version", "value": "12"} in ops
    assert {"op": "add", "path": "/hw_disk_bus", "value": "virtio"} in ops
    assert {"op": "replace", "path": "/tags", "value": ["keep", "t2"]} in ops
    assert not any(op["path"] in ("/visibility", "/os_distro", "/other") for op in ops)
    after = gm.apply_patch(image, ops)
    assert gm.metadata_patch(after, {"name": "new", "min_disk": 5}, {"os_version": "12"}, ["t2"]) == []


def test_metadata_patch_stringifies_property_values():
    ops = gm.metadata_patch({"flag": "true"}, {}, {"flag": True, "n": 2}, [])
    assert ops == [{"op": "add", "path": "/n", "value": "2"}]


def _img(ident, created, **extra):
    return dict(dict(id=ident, created_at=created, status="active", owner="p1"), **extra)


def test_rotation_keeps_newest_and_spares_protected_and_referenced():
    images = [_img("a", "2026-01-01T00:00:00Z", protected=True), _img("b", "2026-01-02T00:00:00Z"),
              _img("c", "2026-01-03T00:00:00Z", owner="p2"), _img("d", "2026-01-04T00:00:00Z"),
              _img("e", "2026-01-05T00:00:00Z"), _img("f", "2026-01-06T00:00:00Z")]
    delete, spared = gm.select_for_rotation(images, keep=2, current_id="e", referenced_ids=["b"], owner="p1")
    assert [i["id"] for i in delete] == ["d"]
    assert {i["id"]: reason for i, reason in spared} == {
        "a": "protected", "b": "referenced by a Trove datastore version", "c": "owned by another project"}


def test_rotation_current_image_always_counts_as_kept():
    images = [_img("old", "2026-01-01T00:00:00Z"), _img("new", "2026-01-02T00:00:00Z"),
              _img("reused", "2025-01-01T00:00:00Z")]
    delete, spared = gm.select_for_rotation(images, keep=1, current_id="reused")
    assert sorted(i["id"] for i in delete) == ["new", "old"] and spared == []


def test_rotation_disabled_without_keep():
    assert gm.select_for_rotation([_img("a", "1")], keep=None) == ([], [])


def test_referenced_by_tags_picks_newest_active_match():
    images = [_img("a", "1", tags=["x", "y"]), _img("b", "2", tags=["x", "y", "z"]), _img("c", "3", tags=["x"]),
              dict(_img("d", "4", tags=["x", "y"]), status="queued")]
    assert gm.referenced_by_tags(images, [["x", "y"], [], ["nomatch"]]) == {"b"}


def test_family_tag():
    assert gm.family_tag("f1") == "family:f1" and gm.family_tag(None) is None


def test_rotation_never_counts_nor_deletes_an_image_that_is_not_active():
    images = [_img("old", "2026-01-01T00:00:00Z"), _img("queued", "2026-01-02T00:00:00Z", status="queued"),
              _img("new", "2026-01-03T00:00:00Z")]
    delete, spared = gm.select_for_rotation(images, keep=1, current_id="new")
    assert [i["id"] for i in delete] == ["old"]
    assert [(i["id"], reason) for i, reason in spared] == [("queued", "not active")]


def test_unique_name_keeps_its_form_and_names_older_images_by_creation_time():
    import datetime

    now = datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.UTC)
    assert gm.unique_name("img", now=now) == "img-20260304050607"
    assert gm.unique_name("img", {"name": "img-20250101000000", "created_at": "2026-01-01T00:00:00Z"}) \
        == "img-20250101000000"
    assert gm.unique_name("img", {"name": "img", "created_at": "2026-01-02T03:04:05Z"}) == "img-20260102030405"
    # Another family's longer name with digits is not this family's form.
    assert gm.unique_name("img", {"name": "img-x-20250101000000", "created_at": "2026-01-02T03:04:05Z"}) \
        == "img-20260102030405"


def test_stale_uploads_are_ours_whose_task_is_gone():
    import datetime

    now = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)
    marker = gm.UPLOAD_MARKER
    images = [
        _img("dead", "2026-01-01T11:59:00Z", status="saving", **{marker: "h1:100"}),
        _img("running", "2026-01-01T11:59:00Z", status="saving", **{marker: "h1:200"}),
        _img("foreign-old", "2026-01-01T10:00:00Z", status="queued", **{marker: "h2:5"}),
        _img("foreign-new", "2026-01-01T11:50:00Z", status="queued", **{marker: "h2:6"}),
        _img("operator", "2026-01-01T10:00:00Z", status="queued"),
        _img("done", "2026-01-01T10:00:00Z", **{marker: "h1:100"}),
    ]
    stale, busy = gm.stale_uploads(images, "h1", alive=lambda pid: pid == 200, now=now)
    assert [i["id"] for i in stale] == ["dead", "foreign-old"]
    assert [i["id"] for i, _reason in busy] == ["running", "foreign-new"]


def test_newest_active_is_what_trove_picks_by_tags():
    images = [_img("a", "2026-01-01T00:00:00Z"), _img("b", "2026-01-02T00:00:00Z"),
              _img("c", "2026-01-03T00:00:00Z", status="saving")]
    assert gm.newest_active(images)["id"] == "b"
    assert gm.newest_active([]) is None
