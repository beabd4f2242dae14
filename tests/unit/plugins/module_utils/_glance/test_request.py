# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The typed requests of glance_image and glance_image_info: defaults from the spec, refusals by option."""

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance import request as rq


def params(spec, **values):
    base = {name: option.get("default") for name, option in spec.items()}
    base.update(values)
    return base


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "image.qcow2"
    path.write_bytes(b"QFI\xfb" + b"\0" * 100)
    return str(path)


def test_defaults_come_from_the_argument_spec(image_file):
    request = rq.GlanceImageRequest.from_params(params(rq.glance_image_argument_spec(), name="n",
                                                       filename=image_file))
    assert (request.hash_algorithm, request.retries, request.timeout, request.check_trove) == ("sha512", 3, 180, True)
    assert (request.disk_format, request.container_format, request.wait) == ("qcow2", "bare", True)
    assert request.tags == () and request.checksum is None and request.cloud.interface == "public"
    assert request.action == f"publishing {image_file}"


def test_checksum_is_parsed_with_the_hash_algorithm(image_file):
    digest = "a" * 64
    request = rq.GlanceImageRequest.from_params(params(rq.glance_image_argument_spec(), name="n", filename=image_file,
                                                       checksum=digest, hash_algorithm="sha256"))
    assert request.checksum == ("sha256", digest)


@pytest.mark.parametrize("values, option", [
    ({"id": "x"}, "'id'"),
    ({"filename": "/nonexistent/image.qcow2"}, "'filename'"),
    ({"checksum": "sha512:abc"}, "'checksum'"),
    ({"keep": 0}, "'keep'"),
    ({"keep": -1}, "'keep'"),
    ({"retries": -1}, "'retries'"),
    ({"family": " "}, "'family'"),
])
def test_present_refuses_by_option(image_file, values, option):
    given = dict({"name": "n", "filename": image_file}, **values)
    with pytest.raises(rq.RequestError, match=option):
        rq.GlanceImageRequest.from_params(params(rq.glance_image_argument_spec(), **given))


def test_empty_file_is_refused(tmp_path):
    empty = tmp_path / "empty.qcow2"
    empty.write_bytes(b"")
    with pytest.raises(rq.RequestError, match="'filename'.*empty"):
        rq.GlanceImageRequest.from_params(params(rq.glance_image_argument_spec(), name="n", filename=str(empty)))


def test_absent_needs_no_file():
    request = rq.GlanceImageRequest.from_params(params(rq.glance_image_argument_spec(), state="absent", id="x"))
    assert request.image_id == "x" and request.action == "deleting images"


def test_info_request_adds_the_family_tag():
    request = rq.GlanceImageInfoRequest.from_params(params(rq.glance_image_info_argument_spec(), tags=["t"],
                                                           family="fam"))
    assert request.tags == ("t", "family:fam") and request.visibility == "all"
