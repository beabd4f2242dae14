# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publisher decisions against an in-memory stand-in for Glance (the real one is in the integration tests)."""

import hashlib
import itertools

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance import publish
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.errors import GlanceError, HttpStatusError
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.listing import find_images
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.publish import Publisher
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.request import (
    GlanceImageRequest,
    glance_image_argument_spec,
)


class FakeGlance:
    """Records calls; ``fail_uploads`` is a list of exceptions raised by successive uploads."""

    attempts = 3

    def __init__(self, fail_uploads=(), hash_algo="sha512"):
        self.images = {}
        self.calls = []
        self.fail_uploads = list(fail_uploads)
        self.hash_algo = hash_algo
        self.ids = (f"id-{n}" for n in itertools.count(1))
        self.clock = (f"2026-01-01T00:00:{n:02d}Z" for n in itertools.count(1))
        self.bytes_received = 0
        self.conn = type("Conn", (), {"current_project_id": "p1"})()

    def sleep(self, seconds):
        self.calls.append(("sleep", seconds))

    def list_images(self, name=None, tags=None, visibility="all"):
        self.calls.append(("list", name, tuple(tags or ())))
        return [dict(i) for i in self.images.values()
                if (name is None or i["name"] == name) and set(tags or ()) <= set(i.get("tags", []))]

    def get_image(self, image_id):
        image = self.images.get(image_id)
        return dict(image) if image else None

    def create_image(self, body):
        image = dict(body, id=next(self.ids), status="queued", created_at=next(self.clock), owner="p1",
                     protected=False, visibility=body.get("visibility", "shared"))
        self.images[image["id"]] = image
        self.calls.append(("create", image["id"]))
        return dict(image)

    def upload(self, image_id, reader, size):
        self.calls.append(("upload", image_id))
        # The body is what urllib3 gets: an iterable of blocks with a length (no read()).
        assert not hasattr(reader, "read") and len(reader) == size
        if self.fail_uploads:
            next(iter(reader))
            self.images[image_id]["status"] = "saving"
            raise self.fail_uploads.pop(0)
        digest = hashlib.new(self.hash_algo)
        for block in reader:
            self.bytes_received += len(block)
            digest.update(block)
        self.images[image_id].update(status="active", size=size, os_hash_algo=self.hash_algo,
                                     os_hash_value=digest.hexdigest())

    def wait_status(self, image_id, timeout=180):
        return dict(self.images[image_id])

    def patch(self, image_id, ops):
        self.calls.append(("patch", image_id, tuple(op["path"] for op in ops)))
        for op in ops:
            self.images[image_id][op["path"][1:]] = op["value"]
        return dict(self.images[image_id])

    def delete(self, image_id, once=False, timeout=None):
        self.calls.append(("delete", image_id))
        self.images.pop(image_id, None)

    def count(self, kind):
        return sum(1 for c in self.calls if c[0] == kind)


class Reset(ConnectionResetError):
    pass


def params(path, **extra):
    """A request as the module builds it: the argument spec's defaults, then the test's values."""
    base = {name: option.get("default") for name, option in glance_image_argument_spec().items()}
    base.update(name="img", filename=str(path), retries=2, timeout=30)
    base.update(extra)
    return GlanceImageRequest.from_params(base)


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "image.qcow2"
    path.write_bytes(b"QFI\xfb" + bytes(range(256)) * 4096)
    return path


class CountingOpen:
    """Counts how many times the image file is opened for reading."""

    def __init__(self, monkeypatch, path):
        self.count = 0
        real_open = open

        def counting(file, mode="r", *args, **kwargs):
            if str(file) == str(path) and "b" in mode:
                self.count += 1
            return real_open(file, mode, *args, **kwargs)

        monkeypatch.setattr("builtins.open", counting)


def test_first_publish_uploads_once_and_reads_once(image_file, monkeypatch):
    glance = FakeGlance()
    request = params(image_file, os_distro="debian")
    opened = CountingOpen(monkeypatch, image_file)
    result = Publisher(glance, request).run_present()
    assert result["changed"] and result["uploaded"]
    assert opened.count == 1
    assert glance.bytes_received == image_file.stat().st_size
    assert result["hash"]["source"] == "upload"
    assert result["hash"]["value"] == hashlib.sha512(image_file.read_bytes()).hexdigest()
    assert result["image"]["properties"]["os_distro"] == "debian"


def test_rerun_hashes_once_and_does_not_upload(image_file, monkeypatch):
    glance = FakeGlance()
    Publisher(glance, params(image_file)).run_present()
    request = params(image_file)
    opened = CountingOpen(monkeypatch, image_file)
    result = Publisher(glance, request).run_present()
    assert not result["changed"] and not result["uploaded"]
    assert glance.count("upload") == 1 and opened.count == 1
    assert result["hash"]["source"] == "computed"


def test_checksum_option_spares_the_hashing_pass(image_file, monkeypatch):
    glance = FakeGlance()
    Publisher(glance, params(image_file)).run_present()
    digest = hashlib.sha512(image_file.read_bytes()).hexdigest()
    request = params(image_file, checksum="sha512:" + digest)
    opened = CountingOpen(monkeypatch, image_file)
    result = Publisher(glance, request).run_present()
    assert not result["changed"] and opened.count == 0
    assert result["hash"]["source"] == "checksum"


def test_metadata_only_update(image_file):
    glance = FakeGlance()
    first = Publisher(glance, params(image_file, os_version="11")).run_present()
    result = Publisher(glance, params(image_file, os_version="12", tags=["t"])).run_present()
    assert result["changed"] and not result["uploaded"]
    assert sorted(result["updated"]) == ["os_version", "tags"]
    assert result["image"]["id"] == first["image"]["id"]
    assert glance.count("upload") == 1


def test_check_mode_changes_nothing(image_file):
    glance = FakeGlance()
    result = Publisher(glance, params(image_file), check_mode=True).run_present()
    assert result["changed"] and not result["uploaded"]
    assert glance.images == {} and glance.count("create") == 0


def test_transient_failure_retried_with_fresh_record_and_no_orphan(image_file):
    glance = FakeGlance(fail_uploads=[Reset("reset")])
    warnings = []
    result = Publisher(glance, params(image_file), warn=warnings.append).run_present()
    assert result["uploaded"]
    assert glance.count("create") == 2 and glance.count("delete") == 1
    assert list(glance.images) == [result["image"]["id"]]
    assert any("retry 1" in w for w in warnings)


def test_transient_failures_exhausted_leave_nothing(image_file):
    glance = FakeGlance(fail_uploads=[Reset("reset")] * 5)
    with pytest.raises(ConnectionResetError):
        Publisher(glance, params(image_file, retries=2)).run_present()
    assert glance.count("create") == 3 and glance.images == {}


def test_refused_data_is_not_retried_and_deleted(image_file):
    refused = HttpStatusError("PUT", "/images/x/file", 415, "Image disk_format qcow2 does not match stream data")
    glance = FakeGlance(fail_uploads=[refused])
    with pytest.raises(HttpStatusError):
        Publisher(glance, params(image_file)).run_present()
    assert glance.count("create") == 1 and glance.images == {}


def test_interrupt_during_upload_deletes_record(image_file):
    glance = FakeGlance(fail_uploads=[SystemExit("stopped by signal 15")])
    with pytest.raises(SystemExit):
        Publisher(glance, params(image_file)).run_present()
    assert glance.images == {}


def test_checksum_mismatch_after_upload_deletes(image_file):
    glance = FakeGlance()
    with pytest.raises(GlanceError, match="does not match option 'checksum'"):
        Publisher(glance, params(image_file, checksum="sha512:" + "0" * 128)).run_present()
    assert glance.images == {}


def test_protected_is_set_after_the_data(image_file):
    glance = FakeGlance()
    result = Publisher(glance, params(image_file, protected=True)).run_present()
    assert result["image"]["protected"] is True
    create = glance.calls.index(("create", result["image"]["id"]))
    patch = next(i for i, c in enumerate(glance.calls) if c[0] == "patch")
    assert patch > create


def test_cleanup_waits_for_glance_then_reports_orphan(image_file):
    glance = FakeGlance(fail_uploads=[ValueError("boom")])

    def delete(image_id, once=False, timeout=None):
        raise Reset("still down")

    glance.delete = delete
    with pytest.raises(GlanceError) as info:
        Publisher(glance, params(image_file, timeout=5)).run_present()
    assert "openstack image delete id-1" in info.value.msg
    assert info.value.details["orphan_id"] == "id-1"
    assert 2 <= sum(1 for c in glance.calls if c[0] == "sleep") <= 6


def test_a_cleanup_delete_that_hangs_is_tried_again_on_a_new_request(image_file):
    """One delete never waits out the whole patience: a server that accepted and never answers gets another try."""
    glance = FakeGlance(fail_uploads=[ValueError("boom")])
    timeouts = []
    original = glance.delete

    def delete(image_id, once=False, timeout=None):
        timeouts.append(timeout)
        if len(timeouts) == 1:
            raise Reset("Request to http://glance/v2/images/id-1 timed out")
        return original(image_id, once=once, timeout=timeout)

    glance.delete = delete
    with pytest.raises(ValueError):  # the upload's own failure; the record is deleted on the second try
        Publisher(glance, params(image_file, timeout=300)).run_present()
    assert len(timeouts) == 2
    assert all(t <= publish.CLEANUP_TRY_SECONDS for t in timeouts), timeouts


def test_rotation_with_family(image_file, tmp_path):
    glance = FakeGlance()
    ids = []
    for n in range(4):
        path = tmp_path / f"v{n}.qcow2"
        path.write_bytes(b"QFI\xfb" + bytes([n]) * 1000)
        ids.append(Publisher(glance, params(path, family="fam", protected=(n == 0)))
                   .run_present()["image"]["id"])
    result = Publisher(glance, params(image_file, family="fam", keep=2),
                       in_use=lambda: ({ids[1]}, [])).run_present()
    assert [d["id"] for d in result["deleted"]] == [ids[2]]
    assert {s["id"]: s["reason"] for s in result["spared"]} == {
        ids[0]: "protected", ids[1]: "referenced by a Trove datastore version"}


def test_rotation_deletes_nothing_when_trove_cannot_be_asked(image_file, tmp_path):
    glance = FakeGlance()
    for n in range(3):
        path = tmp_path / f"v{n}.qcow2"
        path.write_bytes(b"QFI\xfb" + bytes([n]) * 1000)
        Publisher(glance, params(path, family="fam")).run_present()

    def broken():
        raise HttpStatusError("GET", "/mgmt/datastore-versions", 403, "forbidden")

    warnings = []
    result = Publisher(glance, params(image_file, family="fam", keep=1), in_use=broken,
                       warn=warnings.append).run_present()
    assert result["deleted"] == [] and len(glance.images) == 4
    assert warnings and "no image was deleted" in warnings[0]


def test_absent_refuses_protected(image_file):
    glance = FakeGlance()
    Publisher(glance, params(image_file, protected=True)).run_present()
    with pytest.raises(GlanceError, match="protected"):
        Publisher(glance, params(image_file, id=None)).run_absent()


def test_find_images_filters_properties():
    glance = FakeGlance()
    glance.images = {
        "a": {"id": "a", "name": "n", "status": "active", "created_at": "1", "os_distro": "debian", "tags": []},
        "b": {"id": "b", "name": "n", "status": "queued", "created_at": "2", "os_distro": "ubuntu", "tags": []},
    }
    assert [i["id"] for i in find_images(glance, properties={"os_distro": "debian"})] == ["a"]
    assert [i["id"] for i in find_images(glance, status="queued")] == ["b"]
    assert [i["id"] for i in find_images(glance)] == ["b", "a"]


def test_check_mode_rotation_counts_the_upload_to_be(image_file, tmp_path):
    glance = FakeGlance()
    ids = []
    for n in range(3):
        path = tmp_path / f"v{n}.qcow2"
        path.write_bytes(b"QFI\xfb" + bytes([n]) * 1000)
        ids.append(Publisher(glance, params(path, family="fam")).run_present()["image"]["id"])
    result = Publisher(glance, params(image_file, family="fam", keep=2), check_mode=True).run_present()
    assert sorted(d["id"] for d in result["deleted"]) == ids[:2]
    assert len(glance.images) == 3 and glance.count("delete") == 0


def test_check_mode_marks_the_upload_to_be_and_predicts_glance_defaults(image_file):
    glance = FakeGlance()
    result = Publisher(glance, params(image_file), check_mode=True).run_present()
    assert result["would_upload"] is True and result["image"]["id"] is None
    after = result["diff"]["after"]
    assert (after["visibility"], after["min_disk"], after["min_ram"], after["protected"]) == ("shared", 0, 0, False)
    real = Publisher(glance, params(image_file)).run_present()
    assert real["would_upload"] is False
    assert {k: real["image"][k] for k in ("visibility", "protected")} == {"visibility": "shared", "protected": False}


@pytest.mark.parametrize("algorithm", ["sha256", "sha512", "md5"])
def test_a_wrong_checksum_of_any_algorithm_is_refused_before_a_record_is_created(image_file, algorithm):
    wrong = "0" * (hashlib.new(algorithm).digest_size * 2)
    for check_mode in (True, False):
        glance = FakeGlance()
        with pytest.raises(GlanceError, match=f"does not match option 'checksum' \\({algorithm}:0000"):
            Publisher(glance, params(image_file, checksum=f"{algorithm}:{wrong}"), check_mode=check_mode).run_present()
        assert glance.count("create") == 0 and glance.images == {}


def test_a_right_checksum_of_another_algorithm_uploads(image_file):
    glance = FakeGlance()
    digest = hashlib.sha256(image_file.read_bytes()).hexdigest()
    result = Publisher(glance, params(image_file, checksum="sha256:" + digest)).run_present()
    assert result["uploaded"] and glance.count("create") == 1


def test_rollback_uploads_older_bytes_again_as_the_newest_and_retires_the_copy(tmp_path):
    glance = FakeGlance()
    a, b = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    a.write_bytes(b"QFI\xfb" + b"a" * 4096)
    b.write_bytes(b"QFI\xfb" + b"b" * 4096)
    first = Publisher(glance, params(a, family="f", unique_name=True)).run_present()
    second = Publisher(glance, params(b, family="f", unique_name=True)).run_present()
    back = Publisher(glance, params(a, family="f", unique_name=True)).run_present()
    assert back["uploaded"] and back["changed"]
    assert back["rolled_back"]["previous"]["id"] == second["image"]["id"]
    assert back["rolled_back"]["same_data_as"]["id"] == first["image"]["id"]
    assert [d["id"] for d in back["deleted"]] == [first["image"]["id"]]
    assert set(glance.images) == {second["image"]["id"], back["image"]["id"]}
    again = Publisher(glance, params(a, family="f", unique_name=True)).run_present()
    assert not again["changed"] and again["rolled_back"] is None


def test_rollback_spares_a_copy_trove_uses_by_id(tmp_path):
    glance = FakeGlance()
    a, b = tmp_path / "a.qcow2", tmp_path / "b.qcow2"
    a.write_bytes(b"QFI\xfb" + b"a" * 4096)
    b.write_bytes(b"QFI\xfb" + b"b" * 4096)
    first = Publisher(glance, params(a, family="f")).run_present()
    Publisher(glance, params(b, family="f")).run_present()
    back = Publisher(glance, params(a, family="f"), in_use=lambda: ([first["image"]["id"]], [])).run_present()
    assert back["uploaded"] and back["deleted"] == []
    assert {s["id"]: s["reason"] for s in back["spared"]} == {
        first["image"]["id"]: "referenced by a Trove datastore version"}


def test_a_left_over_record_of_ours_is_deleted_and_an_operators_is_not(image_file):
    from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.metadata import UPLOAD_MARKER

    glance = FakeGlance()
    ours = glance.create_image({"name": "img", "tags": ["family:f"], UPLOAD_MARKER: "h:1"})
    glance.images[ours["id"]]["status"] = "saving"
    theirs = glance.create_image({"name": "img", "tags": ["family:f"]})
    publisher = Publisher(glance, params(image_file, family="f", keep=1))
    publisher.host, publisher.alive = "h", lambda pid: False
    result = publisher.run_present()
    assert [c["id"] for c in result["cleaned"]] == [ours["id"]]
    assert ours["id"] not in glance.images and theirs["id"] in glance.images
    assert {s["id"]: s["reason"] for s in result["spared"]} == {theirs["id"]: "not active"}
    created = glance.images[result["image"]["id"]]
    assert created[UPLOAD_MARKER].endswith(f":{__import__('os').getpid()}")


def test_unique_name_needs_a_family(image_file):
    from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.request import RequestError

    with pytest.raises(RequestError, match="give 'family' too"):
        params(image_file, unique_name=True)
