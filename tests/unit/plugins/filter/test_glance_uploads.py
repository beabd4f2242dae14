# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The publish stage filters: build results + composed specs -> glance_image option sets -> result rows."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.filter import glance_uploads as flt

ROW = {"name": "img", "status": "built", "fingerprint": "fp1",
       "outputs": [{"path": "/o/img.qcow2", "format": "qcow2", "sha256": "ab" * 32},
                   {"path": "/o/img.raw", "format": "raw", "sha256": ""}]}
PLAIN_SPEC = {"name": "img", "elements": ["debian-minimal", "vm"], "size": 3,
              "environment": {"DIB_RELEASE": "bookworm", "DBAAS_DATASTORE": "mysql", "DBAAS_DATASTORE_VERSION": "8.0"}}
SETTINGS = {"formats": ["qcow2"], "image_overrides": {}, "keep": 3, "visibility": "", "protected": False,
            "tags": ["dbaas-guest-image"], "properties": {"p": "1"}, "os_versions": {"bullseye": "11"}}


def test_filters_registered():
    assert set(flt.FilterModule().filters()) == {"glance_uploads", "glance_publish_results"}


def test_plain_image_from_the_os_element_and_dib_release():
    [upload] = flt.glance_uploads([ROW], [PLAIN_SPEC], SETTINGS)
    assert upload == {
        "name": "img", "filename": "/o/img.qcow2", "disk_format": "qcow2", "family": "img",
        "architecture": "amd64", "tags": ["dbaas-guest-image"], "properties": {"p": "1"},
        "os_distro": "debian", "os_version": "12", "trove_datastore": "mysql", "trove_datastore_version": "8.0",
        "checksum": "sha256:" + "ab" * 32, "build_fingerprint": "fp1", "min_disk": 3, "keep": 3,
    }


def test_trove_spec_gives_os_and_release_without_a_codename():
    spec = {"name": "img", "elements": ["ubuntu-minimal"], "environment": {"DIB_RELEASE": "jammy"}, "arch": "arm64",
            "trove": {"os": "ubuntu", "release": "22.04", "datastore": "postgresql", "datastore_version": "16",
                      "mode": "container"}}
    [upload] = flt.glance_uploads([ROW], [spec], SETTINGS)
    assert (upload["os_distro"], upload["os_version"]) == ("ubuntu", "22.04")
    assert (upload["trove_datastore"], upload["trove_datastore_version"]) == ("postgresql", "16")
    assert upload["architecture"] == "arm64" and "min_disk" not in upload


def test_codenames_outside_the_release_table_and_unknown_ones():
    spec = dict(PLAIN_SPEC, environment={"DIB_RELEASE": "bullseye"})
    assert flt.glance_uploads([ROW], [spec], SETTINGS)[0]["os_version"] == "11"
    spec = dict(PLAIN_SPEC, environment={"DIB_RELEASE": "sid"})
    assert flt.glance_uploads([ROW], [spec], SETTINGS)[0]["os_version"] == "sid"
    [bare] = flt.glance_uploads([ROW], [], SETTINGS)
    assert "os_version" not in bare and "os_distro" not in bare and "trove_datastore" not in bare


def test_overrides_win_and_empty_options_are_left_out():
    overrides = {"img": {"os_version": 13, "tags": ["extra"], "properties": {"q": "2"}, "keep": 0,
                         "protected": True, "visibility": "private", "family": "fam", "min_ram": 512}}
    [upload] = flt.glance_uploads([ROW], [PLAIN_SPEC], dict(SETTINGS, image_overrides=overrides))
    assert upload["os_version"] == "13" and upload["family"] == "fam"
    assert upload["tags"] == ["dbaas-guest-image", "extra"] and upload["properties"] == {"p": "1", "q": "2"}
    assert "keep" not in upload and upload["protected"] is True
    assert (upload["visibility"], upload["min_ram"]) == ("private", 512)
    [plain] = flt.glance_uploads([ROW], [PLAIN_SPEC], SETTINGS)
    assert "visibility" not in plain and "protected" not in plain and "min_ram" not in plain


def test_formats_and_failed_rows():
    failed = dict(ROW, name="bad", status="failed")
    settings = dict(SETTINGS, formats=["qcow2", "raw"])
    uploads = flt.glance_uploads([ROW, failed, {"name": "none"}], [PLAIN_SPEC], settings)
    assert [(u["name"], u["disk_format"]) for u in uploads] == [("img", "qcow2"), ("img-raw", "raw")]
    assert "checksum" not in uploads[1] and uploads[1]["family"] == "img-raw"
    assert [u["name"] for u in flt.glance_uploads([ROW], [], {})] == ["img"]


def test_refusals():
    with pytest.raises(AnsibleFilterError, match="unknown setting"):
        flt.glance_uploads([ROW], [], {"kepp": 1})
    with pytest.raises(AnsibleFilterError, match="lacks 'path' or 'format'"):
        flt.glance_uploads([{"name": "x", "outputs": [{"format": "qcow2"}]}], [], {})


def test_publish_results_rows():
    [upload] = flt.glance_uploads([ROW], [], SETTINGS)
    result = {"ansible_loop_var": "publish_upload", "publish_upload": upload, "changed": True, "uploaded": True,
              "image": {"id": "i1", "name": "img-20260101000000", "os_hash_value": "h"},
              "deleted": [{"id": "old", "name": "img"}], "duration": 12.5}
    assert flt.glance_publish_results([result]) == [{
        "name": "img", "image_id": "i1", "image_name": "img-20260101000000", "path": "/o/img.qcow2",
        "disk_format": "qcow2", "trove_datastore": "",
        "trove_datastore_version": "", "os_hash_value": "h", "uploaded": True, "changed": True, "deleted": ["old"],
        "duration": 12.5}]
    assert flt.glance_publish_results([]) == []


@pytest.mark.parametrize("keep", [-1, "-1", "all", 1.5, True])
def test_a_keep_that_is_not_a_count_is_refused_naming_the_role_variable(keep):
    with pytest.raises(AnsibleFilterError, match=r"keep \(publish_keep\) is .*write 0"):
        flt.glance_uploads([ROW], [], dict(SETTINGS, keep=keep))
    overrides = {"img": {"keep": keep}}
    with pytest.raises(AnsibleFilterError, match=r"image_overrides\['img'\]\.keep \(publish_image_overrides\)"):
        flt.glance_uploads([ROW], [], dict(SETTINGS, image_overrides=overrides))


@pytest.mark.parametrize("keep, given", [(0, None), ("", None), (None, None), ("2", 2), (3, 3)])
def test_keep_counts(keep, given):
    [upload] = flt.glance_uploads([ROW], [], dict(SETTINGS, keep=keep))
    assert upload.get("keep") == given


def test_sbom_hash_and_summary_become_properties():
    # Key order as a fingerprint record keeps it (sorted): the text is the same as for a fresh build.
    row = dict(ROW, sbom={"path": "/o/img.cdx.json", "sha256": "5" * 64,
                          "summary": {"container-tarball": 1, "deb": 412, "licensed-package": 0, "python": 87}})
    [upload] = flt.glance_uploads([row], [PLAIN_SPEC], SETTINGS)
    assert upload["properties"] == {
        "dbaas_sbom_sha256": "5" * 64,
        "dbaas_sbom_summary": "412 deb, 87 python, 1 container-tarball, 0 licensed-package",
        "p": "1",
    }
    # An operator's own value for the same key wins; a row without an SBOM gets neither property.
    overridden = dict(SETTINGS, properties={"dbaas_sbom_summary": "mine"})
    [upload] = flt.glance_uploads([row], [PLAIN_SPEC], overridden)
    assert upload["properties"]["dbaas_sbom_summary"] == "mine"
    [plain] = flt.glance_uploads([ROW], [PLAIN_SPEC], SETTINGS)
    assert "dbaas_sbom_sha256" not in plain["properties"]
