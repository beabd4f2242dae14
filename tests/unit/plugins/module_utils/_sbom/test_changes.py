# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changed between two SBOMs: added, removed, upgraded, downgraded, in dpkg's order."""

from __future__ import annotations

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import changes


def _with_deb(raw, name, version, arch="amd64"):
    debs = [p for p in raw()["dpkg"] if p["name"] != name]
    if version is not None:
        debs.append({"name": name, "version": version, "arch": arch, "source": name, "source_version": version})
    return debs


def test_same_document_no_changes(build_doc):
    result = changes.compare(build_doc(), build_doc())
    assert changes.is_empty(result)
    assert changes.lines(result) == []


def test_upgrade_downgrade_added_removed(build_doc, raw):
    old = build_doc()
    debs = _with_deb(raw, "openssl", "3.0.16-1~deb12u1")
    debs = [p for p in debs if p["name"] != "adduser"]
    debs.append({"name": "tree", "version": "2.1.0-1", "arch": "amd64", "source": "tree", "source_version": "2.1.0-1"})
    debs = [dict(p, version="2.36-9+deb12u3") if p["name"] == "libc6" else p for p in debs]
    new = build_doc(dpkg=debs)
    result = changes.compare(old, new)
    assert result == {
        "added": [{"kind": "deb", "name": "tree", "arch": "amd64", "version": "2.1.0-1"}],
        "removed": [{"kind": "deb", "name": "adduser", "arch": "all", "version": "3.134"}],
        "upgraded": [{"kind": "deb", "name": "openssl", "arch": "amd64", "from": "3.0.15-1~deb12u1",
                      "to": "3.0.16-1~deb12u1"}],
        "downgraded": [{"kind": "deb", "name": "libc6", "arch": "amd64", "from": "2.36-9+deb12u4",
                        "to": "2.36-9+deb12u3"}],
    }
    assert changes.lines(result) == [
        "+ tree 2.1.0-1",
        "- adduser 3.134",
        "openssl 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1 (upgraded)",
        "libc6 2.36-9+deb12u4 → 2.36-9+deb12u3 (downgraded)",
    ]


def test_debian_order_not_string_order(build_doc, raw):
    old = build_doc(dpkg=_with_deb(raw, "curl", "7.88.1-10+deb12u9"))
    new = build_doc(dpkg=_with_deb(raw, "curl", "7.88.1-10+deb12u12"))
    assert [e["name"] for e in changes.compare(old, new)["upgraded"]] == ["curl"]
    epoch = build_doc(dpkg=_with_deb(raw, "curl", "1:7.0-1"))
    assert [e["name"] for e in changes.compare(new, epoch)["upgraded"]] == ["curl"]


def test_python_container_and_licensed_changes(build_doc, raw):
    old = build_doc()
    envs = raw()["python_environments"]
    envs[0]["distributions"][0]["version"] = "26.0.1"
    tarballs = raw()["container_tarballs"]
    tarballs[0]["images"][0]["config_digest"] = "sha256:" + "9" * 64
    licensed = raw()["licensed_packages"]
    licensed[0]["version"] = "1.2.10"
    result = changes.compare(old, build_doc(python_environments=envs, container_tarballs=tarballs,
                                            licensed_packages=licensed))
    lines = changes.lines(result)
    assert "python trove 26.0.0 → 26.0.1 (upgraded)" in lines
    assert "licensed acme-dbtools 1.2.3 → 1.2.10 (upgraded)" in lines
    assert [e["kind"] for e in result["upgraded"] + result["downgraded"]].count("container-tarball") == 1
    assert not result["added"] and not result["removed"]


def test_multiarch_packages_are_separate(build_doc, raw):
    old = build_doc()
    debs = raw()["dpkg"] + [{"name": "libc6", "version": "2.36-9+deb12u4", "arch": "i386", "source": "glibc",
                             "source_version": "2.36-9+deb12u4"}]
    result = changes.compare(old, build_doc(dpkg=debs))
    assert result["added"] == [{"kind": "deb", "name": "libc6", "arch": "i386", "version": "2.36-9+deb12u4"}]
