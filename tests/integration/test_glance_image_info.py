# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dbaas.guest_images.glance_image_info against a real Glance: filters, JMESPath, never a change."""

from __future__ import annotations

import time

import pytest
from test_glance_image import images_named, make_qcow2, unique


@pytest.fixture(scope="module")
def family_images(run_module, cloud_config, tmp_path_factory):
    """Two images of one family (different OS versions) and one outside it, published by the module."""
    folder = tmp_path_factory.mktemp("info-images")
    family = unique("info")
    env = {"XDG_CACHE_HOME": str(folder / "cache")}
    published = {}
    for label, args in (("old", {"family": family, "os_version": "11", "tags": ["x"]}),
                        ("new", {"family": family, "os_version": "12", "tags": ["x", "y"]}),
                        ("other", {"os_version": "12"})):
        path = make_qcow2(folder, f"{family}-{label}", mib=1)
        rc, result = run_module("glance_image", {"name": f"{family}-{label}", "filename": str(path),
                                                 "os_distro": "debian", **args}, env=env)
        assert rc == 0, result
        published[label] = result["image"]["id"]
        time.sleep(1.1)
    return family, published


def test_filters_and_query(run_module, family_images, cloud_config):
    family, ids = family_images
    admin = cloud_config.connect(cloud_config.admin_cloud)
    before = {i.id: i.updated_at for i in images_named(admin, f"{family}-new") + images_named(admin, f"{family}-old")}

    rc, result = run_module("glance_image_info", {"family": family})
    assert rc == 0 and result["changed"] is False, result
    assert [i["id"] for i in result["images"]] == [ids["new"], ids["old"]]  # newest first

    rc, result = run_module("glance_image_info", {"name": f"{family}-other"})
    assert rc == 0 and [i["id"] for i in result["images"]] == [ids["other"]]

    rc, result = run_module("glance_image_info", {"tags": ["y"], "family": family})
    assert [i["id"] for i in result["images"]] == [ids["new"]]

    rc, result = run_module("glance_image_info", {"family": family, "properties": {"os_version": 11}})
    assert [i["id"] for i in result["images"]] == [ids["old"]]

    rc, result = run_module("glance_image_info", {"family": family, "status": "active",
                                                  "query": "[0].{id: id, v: properties.os_version}"}, check=True)
    assert rc == 0, result
    assert result["query_result"] == {"id": ids["new"], "v": "12"}

    rc, result = run_module("glance_image_info", {"id": ids["other"], "query": "[].properties.os_distro"})
    assert result["query_result"] == ["debian"]

    rc, result = run_module("glance_image_info", {"name": unique("nothing")})
    assert rc == 0 and result["images"] == []

    after = {i.id: i.updated_at for i in images_named(admin, f"{family}-new") + images_named(admin, f"{family}-old")}
    assert after == before


def test_bad_query_is_refused_before_connecting(run_module):
    rc, result = run_module("glance_image_info", {"query": "[?"}, cloud="no-such-cloud")
    assert rc != 0
    assert "Option 'query' is not a valid JMESPath expression" in result["msg"]
