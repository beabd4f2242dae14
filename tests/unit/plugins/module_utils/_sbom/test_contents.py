# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which images carry package P below version V."""

from __future__ import annotations

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import contents


def _with_openssl(raw, version):
    return [dict(p, version=version) if p["name"] == "openssl" else p for p in raw()["dpkg"]]


def test_images_below_a_version(build_doc, raw):
    old = build_doc("old-image")
    fixed = build_doc("fixed-image", dpkg=_with_openssl(raw, "3.0.16-1~deb12u1"))
    rows = contents.carrying([old, fixed], "openssl", below="3.0.16-1~deb12u1")
    assert rows == [{"image": "old-image", "kind": "deb", "name": "openssl", "version": "3.0.15-1~deb12u1",
                     "purl": "pkg:deb/debian/openssl@3.0.15-1~deb12u1?arch=amd64&distro=debian-12"}]
    assert [r["image"] for r in contents.carrying([old, fixed], "openssl")] == ["fixed-image", "old-image"]


def test_dpkg_order_with_tilde_and_epoch(build_doc, raw):
    rc = build_doc("rc", dpkg=_with_openssl(raw, "3.0.16~rc1-1"))
    epoch = build_doc("epoch", dpkg=_with_openssl(raw, "1:3.0.1-1"))
    assert [r["image"] for r in contents.carrying([rc, epoch], "openssl", below="3.0.16-1")] == ["rc"]


def test_python_names_are_pep503(build_doc):
    rows = contents.carrying([build_doc()], "OSLO_Messaging", below="15")
    assert [(r["kind"], r["name"], r["version"]) for r in rows] == [("python", "oslo.messaging", "14.9.0")]


def test_licensed_packages_are_found(build_doc):
    rows = contents.carrying([build_doc()], "acme-dbtools", kinds=["licensed-package"])
    assert [r["version"] for r in rows] == ["1.2.3"]


@pytest.mark.parametrize(("args", "message"), [
    (("",), "package: give the name"),
    (("openssl", "x.y"), "below: 'x.y' is not a Debian version"),
])
def test_bad_queries(build_doc, args, message):
    with pytest.raises(contents.QueryError, match=message):
        contents.carrying([build_doc()], *args)


def test_not_an_sbom():
    with pytest.raises(contents.QueryError, match="SBOM #0 is not a CycloneDX document"):
        contents.carrying([{"a": 1}], "openssl")
    with pytest.raises(contents.QueryError, match="kinds: rpm unknown"):
        contents.carrying([], "openssl", kinds=["rpm"])
