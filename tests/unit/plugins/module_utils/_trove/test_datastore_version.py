# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of the Trove datastore version logic (no cloud: a recording fake session)."""

import json

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._trove import admin as ta
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove import datastore_version as dv
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.references import images_in_use, images_of
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.request import (
    DatastoreVersionRequest,
    argument_spec,
)

IMAGE_A = "b8e2b71b-9f83-45f2-a666-73522cf0461a"
IMAGE_B = "0f5c2a31-2b7e-4c1e-9b0e-2f7f3c3c9a10"


def raw_version(**overrides):
    version = {
        "id": "61dc6537-0ade-4de9-8d9b-3b724e407018",
        "name": "8.0",
        "version": "8.0",
        "datastore_id": "da4d2f03-0342-4a30-89dd-91d2f6eecbab",
        "datastore_name": "mysql",
        "datastore_manager": "mysql",
        "image": IMAGE_A,
        "image_tags": [""],
        "packages": [""],
        "active": True,
        "registry_ext": "trove.guestagent.datastore.mysql.manager.Manager",
        "repl_strategy": "trove.guestagent.strategies.replication.mysql_gtid.MysqlGTIDReplication",
        "default": False,
    }
    version.update(overrides)
    return version


def params(**overrides):
    """Module parameters as AnsibleModule hands them over: the spec's defaults, then the test's values."""
    values = {name: option.get("default") for name, option in argument_spec().items()}
    values.update(datastore="mysql", name="8.0")
    values.update(overrides)
    return values


def want_from_params(values, image_id=None):
    return DatastoreVersionRequest.from_params(values).want(image_id)


class Response:
    def __init__(self, status_code, body=None, url="http://trove/v1.0/p/mgmt/datastore-versions"):
        self.status_code = status_code
        self.text = "" if body is None else (body if isinstance(body, str) else json.dumps(body))
        self.url = url

    def json(self):
        return json.loads(self.text)


class FakeTrove:
    """A keystoneauth-session stand-in holding versions the way Trove's mgmt API does."""

    def __init__(self, versions=(), endpoint="http://trove/v1.0/p"):
        self.versions = [raw_version(**v) for v in versions]
        self.calls = []
        self.endpoint = endpoint
        self.fail = {}

    def get_endpoint(self, **endpoint_filter):
        self.calls.append(("ENDPOINT", endpoint_filter))
        return self.endpoint

    def request(self, path, method, endpoint_filter=None, raise_exc=True, json=None):
        assert endpoint_filter["service_type"] == "database"
        assert raise_exc is False
        self.calls.append((method, path, json))
        if (method, path) in self.fail:
            return self.fail[(method, path)]
        if method == "GET" and path == ta.VERSIONS_PATH:
            return Response(200, {"versions": self.versions})
        if method == "GET":
            found = [v for v in self.versions if path.endswith("/" + v["id"])]
            return Response(200, {"version": found[0]}) if found else Response(404, {"itemNotFound": {
                "code": 404, "message": "not found"}})
        if method == "POST":
            body = dict(json["version"])
            self.versions.append(raw_version(id=f"new-{len(self.versions)}", **{
                k: v for k, v in body.items() if k not in ("default",)}, default=bool(body.get("default"))))
            return Response(202)
        if method == "PATCH":
            version = next(v for v in self.versions if path.endswith("/" + v["id"]))
            if "image_tags" in json and "image" not in json:
                version["image"] = ""
            version.update(json)
            return Response(202)
        if method == "DELETE":
            self.versions = [v for v in self.versions if not path.endswith("/" + v["id"])]
            return Response(202)
        raise AssertionError((method, path))

    def writes(self):
        return [call for call in self.calls if call[0] in ("POST", "PATCH", "DELETE")]


# -- pure logic ---------------------------------------------------------------------------------------


def test_normalize_makes_trove_empty_markers_plain():
    version = ta.normalize_version(raw_version(image="", image_tags=[""], packages="a,b"))
    assert version["image"] is None
    assert version["image_tags"] == []
    assert version["packages"] == ["a", "b"]


def test_want_defaults_number_to_name_and_sorts_tags():
    want = want_from_params(params(image_tags=["trove", "mysql", "trove"], version=""))
    assert want["version"] == "8.0"
    assert want["image_tags"] == ["mysql", "trove"]
    assert want["image"] is None
    assert want_from_params(params(version=8.4))["version"] == "8.4"
    assert want_from_params(params(image_tags=["x" * 20, "a-b.c_d"]))["image_tags"] == ["a-b.c_d", "x" * 20]


@pytest.mark.parametrize("overrides, option", [
    ({"datastore": "  "}, "'datastore'"),
    ({"name": ""}, "'name'"),
    ({"image_tags": ["a,b"]}, "'image_tags'"),
    ({"image_tags": [""]}, None),  # empty list item alone: not a tag at all -> refused too
    ({"image_tags": ["a", "b", "c", "d", "e", "f"]}, "more than 5"),
    ({"image_tags": ["x" * 21]}, "1 to 20"),
    ({"image_tags": ["--"]}, "letter or digit"),
    ({"default": True, "active": False}, "'active: false'"),
])
def test_want_refuses_bad_input_naming_the_option(overrides, option):
    with pytest.raises(ta.TroveError) as err:
        want_from_params(params(**overrides))
    if option:
        assert option in err.value.msg


def test_find_version_matches_datastore_name_and_number():
    versions = [ta.normalize_version(raw_version()),
                ta.normalize_version(raw_version(id="x", datastore_name="mariadb")),
                ta.normalize_version(raw_version(id="y", version="8.0.36"))]
    assert dv.find_version(versions, "mysql", "8.0", "8.0")["id"] == raw_version()["id"]
    assert dv.find_version(versions, "mysql", "8.0", "8.0.36")["id"] == "y"
    assert dv.find_version(versions, "mysql", "5.7", "5.7") is None
    with pytest.raises(ta.TroveError) as err:
        dv.find_version(versions, "mysql", "8.0")
    assert "8.0, 8.0.36" in err.value.msg and "'version'" in err.value.msg


def test_update_payload_is_empty_when_nothing_differs():
    current = ta.normalize_version(raw_version(default=True))
    want = want_from_params(params(manager="mysql", default=True), image_id=IMAGE_A)
    assert dv.update_payload(current, want) == {}
    assert dv.plan(current, want) == ("none", None)


def test_update_payload_holds_only_the_differences():
    current = ta.normalize_version(raw_version())
    want = want_from_params(params(active=False, packages=["x"]), image_id=IMAGE_B)
    assert dv.update_payload(current, want) == {"image": IMAGE_B, "active": False, "packages": ["x"]}
    want = want_from_params(params(default=True, manager="mariadb"), image_id=IMAGE_A)
    assert dv.update_payload(current, want) == {"datastore_manager": "mariadb", "default": True}


def test_unmanaged_fields_are_left_alone():
    current = ta.normalize_version(raw_version(default=True, datastore_manager="mysql"))
    want = want_from_params(params(active=True), image_id=IMAGE_A)
    assert want["default"] is None and want["datastore_manager"] is None
    assert dv.update_payload(current, want) == {}


def test_default_false_unsets_a_default_version():
    current = ta.normalize_version(raw_version(default=True))
    want = want_from_params(params(default=False), image_id=IMAGE_A)
    assert dv.update_payload(current, want) == {"default": False}


def test_tags_replace_an_image_id_and_compare_unordered():
    current = ta.normalize_version(raw_version())
    want = want_from_params(params(image_tags=["trove", "mysql"]))
    assert dv.update_payload(current, want) == {"image_tags": ["mysql", "trove"]}
    tagged = ta.normalize_version(raw_version(image="", image_tags=["trove", "mysql"]))
    assert dv.update_payload(tagged, want) == {}


def test_create_payload_defaults_manager_only_for_known_managers():
    body = dv.create_payload(want_from_params(params(), image_id=IMAGE_A))
    assert body == {"version": {"datastore_name": "mysql", "name": "8.0", "version": "8.0",
                                "datastore_manager": "mysql", "active": True, "default": False,
                                "image": IMAGE_A}}
    with pytest.raises(ta.TroveError) as err:
        dv.create_payload(want_from_params(params(datastore="custom"), image_id=IMAGE_A))
    assert "Option 'manager'" in err.value.msg
    custom = params(datastore="custom", manager="mariadb", registry_ext="my.Manager")
    body = dv.create_payload(want_from_params(custom, image_id=IMAGE_A))
    assert body["version"]["datastore_manager"] == "mariadb"
    assert body["version"]["registry_ext"] == "my.Manager"


def test_create_needs_an_image():
    with pytest.raises(ta.TroveError) as err:
        dv.create_payload(want_from_params(params()))
    assert "'image'" in err.value.msg and "'image_tags'" in err.value.msg


def test_paths_and_filter():
    assert ta.version_path() == "/mgmt/datastore-versions"
    assert ta.version_path("abc") == "/mgmt/datastore-versions/abc"
    with pytest.raises(ta.TroveError):
        ta.version_path("../x/y")
    assert ta.endpoint_filter() == {"service_type": "database", "interface": "public"}
    assert ta.endpoint_filter("internal", "R1") == {
        "service_type": "database", "interface": "internal", "region_name": "R1"}


def test_error_message_reads_trove_fault_bodies():
    assert ta.error_message(Response(400, {"badRequest": {"code": 400, "message": "Image x cannot be found."}})) \
        == "Image x cannot be found."
    assert ta.error_message(Response(502, "<html>bad gateway</html>")) == "<html>bad gateway</html>"


# -- against the fake session --------------------------------------------------------------------------


def test_ensure_creates_then_is_idempotent():
    fake = FakeTrove()
    admin = ta.TroveAdmin(fake)
    want = want_from_params(params(default=True), image_id=IMAGE_A)
    result = dv.ensure_version(admin, want)
    assert result["changed"] is True and result["action"] == "create"
    assert fake.writes() == [("POST", "/mgmt/datastore-versions", dv.create_payload(want))]
    assert result["version"]["image"] == IMAGE_A
    assert result["diff"]["before"] == {}

    fake.calls.clear()
    again = dv.ensure_version(admin, want)
    assert again["changed"] is False
    assert fake.writes() == []
    assert again["diff"]["before"] == again["diff"]["after"]


def test_ensure_updates_in_place_with_one_patch():
    fake = FakeTrove([{}])
    admin = ta.TroveAdmin(fake)
    result = dv.ensure_version(admin, want_from_params(params(), image_id=IMAGE_B))
    assert result["action"] == "update"
    assert fake.writes() == [("PATCH", "/mgmt/datastore-versions/" + raw_version()["id"], {"image": IMAGE_B})]
    assert result["diff"]["before"]["image"] == IMAGE_A
    assert result["diff"]["after"]["image"] == IMAGE_B


def test_check_mode_sends_nothing_but_predicts():
    fake = FakeTrove([{}])
    admin = ta.TroveAdmin(fake)
    result = dv.ensure_version(admin, want_from_params(params(image_tags=["t"])), check_mode=True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["version"]["image"] is None
    assert result["version"]["image_tags"] == ["t"]

    created = dv.ensure_version(admin, want_from_params(params(name="8.4"), image_id=IMAGE_A), check_mode=True)
    assert created["action"] == "create" and created["version"]["image"] == IMAGE_A
    assert fake.writes() == []


def test_absent_deletes_once():
    fake = FakeTrove([{}])
    admin = ta.TroveAdmin(fake)
    want = want_from_params(params())
    assert dv.ensure_version(admin, want, state="absent", check_mode=True)["changed"] is True
    assert fake.writes() == []
    result = dv.ensure_version(admin, want, state="absent")
    assert result["changed"] is True and result["version"] is None
    assert fake.writes() == [("DELETE", "/mgmt/datastore-versions/" + raw_version()["id"], None)]
    assert dv.ensure_version(admin, want, state="absent")["changed"] is False


def test_trove_refusal_becomes_a_plain_error():
    fake = FakeTrove()
    fake.fail[("POST", ta.VERSIONS_PATH)] = Response(400, {"badRequest": {"message": "Image x cannot be found."}})
    with pytest.raises(ta.TroveError) as err:
        dv.ensure_version(ta.TroveAdmin(fake), want_from_params(params(), image_id=IMAGE_A))
    assert err.value.status == 400
    assert "mysql/8.0" in err.value.msg and "Image x cannot be found." in err.value.msg


def test_internal_error_on_create_points_at_the_manager():
    fake = FakeTrove()
    fake.fail[("POST", ta.VERSIONS_PATH)] = Response(500, {"computeFault": {"message": "Internal Server Error."}})
    with pytest.raises(ta.TroveError) as err:
        dv.ensure_version(ta.TroveAdmin(fake), want_from_params(params(manager="odd"), image_id=IMAGE_A))
    assert "manager 'odd'" in err.value.msg


def test_reads_are_retried_through_the_given_retry():
    fake = FakeTrove([{}])
    answers = [Response(503, "busy"), None]

    def flaky_get(path, method, **kwargs):
        answer = answers.pop(0)
        return answer if answer is not None else FakeTrove.request(fake, path, method, **kwargs)

    fake.request = flaky_get
    attempts = []

    def retry(func):
        for _attempt in range(3):
            try:
                return func()
            except Exception as exc:  # the transient marker
                attempts.append(exc.status_code)
        raise AssertionError("no answer")

    versions = ta.TroveAdmin(fake, retry=retry).list_versions()
    assert attempts == [503]
    assert versions[0]["id"] == raw_version()["id"]


def test_referenced_image_ids():
    fake = FakeTrove([{}, {"id": "b", "image": IMAGE_B}, {"id": "c", "image": "", "image_tags": ["t"]},
                      {"id": "d", "image": IMAGE_A}])
    assert sorted(images_of(ta.TroveAdmin(fake).list_versions()).ids) == sorted([IMAGE_A, IMAGE_B])
    assert images_of(ta.TroveAdmin(fake).list_versions()).tag_sets == (("t",),)


class NoTroveCatalog:
    """A connection whose service catalog has no database endpoint."""

    class session:  # noqa: N801 - stands in for the attribute of a Connection
        class auth:  # noqa: N801
            @staticmethod
            def get_access(_session):
                raise LookupError("no catalog")


def test_a_cloud_without_trove_uses_no_image():
    assert images_in_use(NoTroveCatalog()) is None


def test_check_mode_plans_a_version_for_an_image_to_be_uploaded():
    request = DatastoreVersionRequest.from_params(params(image_to_upload="img-1", manager="mysql"), check_mode=True)
    want = request.want()
    assert want["image"] == "(image to be uploaded: img-1)"
    action, body = dv.plan(None, want)
    assert action == "create" and body["version"]["image"] == "(image to be uploaded: img-1)"
    action, body = dv.plan(ta.normalize_version(raw_version()), want)
    assert action == "update" and body == {"image": "(image to be uploaded: img-1)"}


@pytest.mark.parametrize("overrides, check_mode", [({}, False), ({"state": "absent"}, True)])
def test_an_image_to_be_uploaded_is_only_for_check_mode(overrides, check_mode):
    with pytest.raises(ta.TroveError, match="Option 'image_to_upload' .* only previews"):
        DatastoreVersionRequest.from_params(params(image_to_upload="img-1", **overrides), check_mode=check_mode)
