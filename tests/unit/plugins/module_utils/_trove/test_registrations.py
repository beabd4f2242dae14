# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Published images -> datastore version option sets: one item shape, refusals that name the item and key."""

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.registrations import (
    RegistrationError,
    registration_results,
    registrations,
)

IMAGE = "b8e2b71b-9f83-45f2-a666-73522cf0461a"


def published(**overrides):
    item = {"name": "trove-debian-12-mysql-8.0-container", "image_id": IMAGE, "path": "/o/x.qcow2",
            "disk_format": "qcow2", "trove_datastore": "mysql", "trove_datastore_version": "8.0",
            "os_hash_value": "ab", "uploaded": True, "changed": True, "deleted": [], "duration": 3.2}
    item.update(overrides)
    return item


def test_a_publish_result_becomes_one_registration_with_the_role_settings():
    assert registrations([published()], ["qcow2"], default=True, active=False) == [
        {"datastore": "mysql", "name": "8.0", "version": None, "manager": None, "image": IMAGE,
         "default": True, "active": False}]


def test_item_settings_win_and_are_read_as_booleans():
    [entry] = registrations([published(default="no", active=True, trove_version="8.0.36", trove_manager="mysql")],
                            ["qcow2"], default=True, active=False)
    assert (entry["default"], entry["active"], entry["version"], entry["manager"]) == (False, True, "8.0.36", "mysql")
    [entry] = registrations([published(default=None)], ["qcow2"], default=True, active=True)
    assert entry["default"] is True


def test_plain_images_and_other_disk_formats_are_left_out():
    items = [published(trove_datastore=""), published(disk_format="raw", name="x-raw"), published()]
    assert [e["image"] for e in registrations(items, ["qcow2"], True, True)] == [IMAGE]
    no_format = published()
    del no_format["disk_format"]
    assert len(registrations([no_format], ["qcow2"], True, True)) == 1


@pytest.mark.parametrize("key, fix", [("id", "image_id"), ("datastore", "trove_datastore"),
                                      ("datastore_version", "trove_datastore_version"),
                                      ("manager", "trove_manager"), ("version", "trove_version")])
def test_old_spellings_are_refused_with_the_new_name(key, fix):
    with pytest.raises(RegistrationError, match=rf"register_images\[0\] \(trove-debian.*\): {key}: .*'{fix}'"):
        registrations([published(**{key: "x"})], ["qcow2"], True, True)


def test_an_unknown_key_is_refused_naming_it():
    with pytest.raises(RegistrationError, match=r"register_images\[1\].*trove_datastore_verison: unknown key"):
        registrations([published(), published(trove_datastore_verison="8.0")], ["qcow2"], True, True)


def test_a_trove_image_needs_an_id_and_a_version_name():
    with pytest.raises(RegistrationError, match="needs an image id .*image_id is empty"):
        registrations([published(image_id="")], ["qcow2"], True, True)
    with pytest.raises(RegistrationError, match="trove_datastore_version is empty"):
        registrations([published(trove_datastore_version=None)], ["qcow2"], True, True)


def test_two_images_for_one_version_are_refused():
    with pytest.raises(RegistrationError, match=r"several images for one datastore version \(mysql/8.0\)"):
        registrations([published(), published(image_id="other")], ["qcow2"], True, True)


def test_bad_shapes_are_refused():
    with pytest.raises(RegistrationError, match="must be a list"):
        registrations({"a": 1}, ["qcow2"], True, True)  # type: ignore[arg-type]
    with pytest.raises(RegistrationError, match=r"register_images\[0\]: must be a mapping"):
        registrations(["x"], ["qcow2"], True, True)
    with pytest.raises(RegistrationError, match="default: 'maybe' is not a boolean"):
        registrations([published(default="maybe")], ["qcow2"], True, True)


def test_result_rows_come_from_the_module_results_and_their_entries():
    entry = {"datastore": "mysql", "name": "8.0", "version": None, "image": IMAGE}
    rows = registration_results([
        {"_e": entry, "changed": True, "action": "create", "image_id": IMAGE,
         "version": {"id": "v1", "version": "8.0"}, "duration": 1.5},
        {"_e": dict(entry, name="8.4", version="8.4"), "changed": False, "version": None},
    ], "_e")
    assert rows == [
        {"datastore": "mysql", "name": "8.0", "version": "8.0", "image_id": IMAGE, "version_id": "v1",
         "action": "create", "changed": True, "duration": 1.5},
        {"datastore": "mysql", "name": "8.4", "version": "8.4", "image_id": IMAGE, "version_id": None,
         "action": "none", "changed": False, "duration": None},
    ]


def test_check_mode_takes_an_image_to_be_uploaded_without_id():
    item = published(image_id=None, uploaded=False, would_upload=True)
    [entry] = registrations([item], ["qcow2"], True, True, check_mode=True)
    assert entry["image"] is None
    assert entry["image_to_upload"] == "trove-debian-12-mysql-8.0-container"


def test_an_image_to_be_uploaded_is_refused_outside_check_mode():
    item = published(image_id=None, uploaded=False, would_upload=True)
    with pytest.raises(RegistrationError, match="would_upload is true and image_id is empty.*not in check mode"):
        registrations([item], ["qcow2"], True, True)


def test_check_mode_still_refuses_an_item_without_id_that_is_not_to_be_uploaded():
    with pytest.raises(RegistrationError, match="needs an image id"):
        registrations([published(image_id=None)], ["qcow2"], True, True, check_mode=True)


def test_result_rows_name_the_image_to_be_uploaded():
    entry = {"datastore": "mysql", "name": "8.0", "version": None, "image": None, "image_to_upload": "img"}
    [row] = registration_results([{"_e": entry, "changed": True, "action": "create", "version": {"version": "8.0"}}],
                                 "_e")
    assert row["image_id"] is None and row["image_to_upload"] == "img" and row["action"] == "create"
