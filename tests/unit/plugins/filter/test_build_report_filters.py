# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build stage filters are registered and hand over to module_utils."""

from ansible_collections.dbaas.guest_images.plugins.filter import build_report as filters


def test_filters_registered():
    names = set(filters.FilterModule().filters())
    assert {"build_report_row", "dib_environment_for_image"} <= names


def test_report_row():
    row = filters.build_report_row({"built": True, "images": [], "fingerprint": "f"}, "img", "localhost")
    assert (row["name"], row["build_host"], row["status"], row["fingerprint"]) == ("img", "localhost", "built", "f")


def test_environment_for_image_of_other_distribution():
    env = {"DIB_DISTRIBUTION_MIRROR": "http://m/debian", "DIB_DEBIAN_SECURITY_MIRROR": "http://m/debian-security"}
    by_dist = {"ubuntu": {"DIB_DISTRIBUTION_MIRROR": "http://u/ubuntu"}}
    result = filters.dib_environment_for_image(env, by_dist, "debian", ["ubuntu-minimal"])
    assert result["DIB_DISTRIBUTION_MIRROR"] == "http://u/ubuntu"
    assert filters.dib_environment_for_image(env, by_dist, "debian", ["debian-minimal"]) == env


def test_stage_times():
    assert "build_report_stage_times" in filters.FilterModule().filters()
    rows = [{"name": "img", "outputs": [{"path": "/o/img.qcow2"}], "stages": {"dib": 9.0}}]
    published = [{"path": "/o/img.qcow2", "image_id": "i1", "duration": 2.0}]
    out = filters.build_report_stage_times(rows, 1.5, published, [{"image_id": "i1", "duration": 0.5}])
    assert out[0]["stages"] == {"prepare": 1.5, "dib": 9.0, "publish": 2.0, "register": 0.5}
    assert filters.build_report_stage_times(rows)[0]["stages"] == {"dib": 9.0}
