# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What changes the build fingerprint, what does not, and the rebuild decision."""

import os
import time

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import fingerprint as fp


def make_tree(root):
    os.makedirs(os.path.join(root, "install.d"))
    with open(os.path.join(root, "install.d", "50-foo"), "w") as handle:
        handle.write("#!/bin/bash\necho foo\n")
    os.chmod(os.path.join(root, "install.d", "50-foo"), 0o755)
    with open(os.path.join(root, "element-deps"), "w") as handle:
        handle.write("package-installs\n")
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(str(tmp_path / "elem"))


def test_tree_hash_is_stable_and_ignores_timestamps(tree):
    first = fp.tree_sha256(tree)
    past = time.time() - 86400
    for root, _dirs, files in os.walk(tree):
        for name in files:
            os.utime(os.path.join(root, name), (past, past))
    assert fp.tree_sha256(tree) == first


def test_tree_hash_changes_with_content(tree):
    before = fp.tree_sha256(tree)
    with open(os.path.join(tree, "install.d", "50-foo"), "a") as handle:
        handle.write("echo bar\n")
    assert fp.tree_sha256(tree) != before


def test_tree_hash_changes_with_mode(tree):
    before = fp.tree_sha256(tree)
    os.chmod(os.path.join(tree, "install.d", "50-foo"), 0o644)
    assert fp.tree_sha256(tree) != before


def test_tree_hash_changes_with_new_empty_file_and_rename(tree):
    before = fp.tree_sha256(tree)
    open(os.path.join(tree, "install.d", "60-empty"), "w").close()
    with_empty = fp.tree_sha256(tree)
    assert with_empty != before
    os.rename(os.path.join(tree, "install.d", "60-empty"), os.path.join(tree, "install.d", "61-empty"))
    assert fp.tree_sha256(tree) not in (before, with_empty)


def test_tree_hash_hashes_symlink_target_not_followed(tree, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("one")
    os.symlink(str(outside), os.path.join(tree, "link"))
    before = fp.tree_sha256(tree)
    outside.write_text("two")  # content behind the link is not part of the tree
    assert fp.tree_sha256(tree) == before
    os.unlink(os.path.join(tree, "link"))
    os.symlink("/elsewhere", os.path.join(tree, "link"))
    assert fp.tree_sha256(tree) != before


def test_tree_hash_ignores_pycache(tree):
    before = fp.tree_sha256(tree)
    os.makedirs(os.path.join(tree, "__pycache__"))
    with open(os.path.join(tree, "__pycache__", "x.cpython-311.pyc"), "wb") as handle:
        handle.write(b"\0bytecode")
    assert fp.tree_sha256(tree) == before


def test_single_file_input_hash(tmp_path):
    path = tmp_path / "pkg.tar"
    path.write_bytes(b"abc")
    first = fp.tree_sha256(str(path))
    path.write_bytes(b"abd")
    assert fp.tree_sha256(str(path)) != first


def base_components(tree, tmp_path, **over):
    pkg = tmp_path / "pkg"
    if not pkg.exists():
        pkg.mkdir()
        (pkg / "agent.whl").write_bytes(b"wheel-1")
    args = dict(
        elements=["debian-minimal", "vm"],
        resolved_elements={"debian-minimal": tree},
        environment={"DIB_RELEASE": "bookworm", "DIB_MIRROR": "http://m"},
        packages=["vim"],
        formats=["qcow2"],
        size=4,
        arch="amd64",
        dib_version="3.43.0",
        inputs={"DATASTORE_PKG_LOCATION": str(pkg)},
    )
    args.update(over)
    return fp.compute_components(**args)


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"elements": ["debian-minimal"]}, ["elements"]),
        ({"environment": {"DIB_RELEASE": "trixie", "DIB_MIRROR": "http://m"}}, ["environment.DIB_RELEASE"]),
        ({"packages": ["vim", "curl"]}, ["packages"]),
        ({"formats": ["qcow2", "raw"]}, ["formats"]),
        ({"size": 5}, ["size"]),
        ({"arch": "arm64"}, ["arch"]),
        ({"dib_version": "3.44.0"}, ["dib_version"]),
    ],
)
def test_each_component_changes_fingerprint(tree, tmp_path, change, expected):
    old = base_components(tree, tmp_path)
    new = base_components(tree, tmp_path, **change)
    assert fp.fingerprint_of(old) != fp.fingerprint_of(new)
    assert fp.changed_components(old, new) == expected


def test_compress_off_is_its_own_fingerprint_and_on_keeps_the_old_one(tree, tmp_path):
    default = base_components(tree, tmp_path)
    assert base_components(tree, tmp_path, compress=True) == default  # fingerprints made before the option
    assert "compress" not in default
    off = base_components(tree, tmp_path, compress=False)
    assert fp.fingerprint_of(off) != fp.fingerprint_of(default)
    assert fp.changed_components(default, off) == ["compress"]
    # Without a qcow2 there is nothing to compress: the same image either way.
    assert base_components(tree, tmp_path, formats=["raw"], compress=False) == base_components(
        tree, tmp_path, formats=["raw"])


def test_input_content_change_is_named(tree, tmp_path):
    old = base_components(tree, tmp_path)
    (tmp_path / "pkg" / "agent.whl").write_bytes(b"wheel-2")
    new = base_components(tree, tmp_path)
    assert fp.changed_components(old, new) == ["inputs.DATASTORE_PKG_LOCATION"]


def test_element_content_change_is_named(tree, tmp_path):
    old = base_components(tree, tmp_path)
    with open(os.path.join(tree, "install.d", "50-foo"), "a") as handle:
        handle.write("# tweak\n")
    new = base_components(tree, tmp_path)
    assert fp.changed_components(old, new) == ["element_content.debian-minimal"]


def test_environment_order_and_input_location_do_not_matter(tree, tmp_path):
    old = base_components(tree, tmp_path)
    env = {"DIB_MIRROR": "http://m", "DIB_RELEASE": "bookworm"}
    moved = tmp_path / "moved"
    moved.mkdir()
    (moved / "agent.whl").write_bytes(b"wheel-1")
    new = base_components(tree, tmp_path, environment=env, inputs={"DATASTORE_PKG_LOCATION": str(moved)})
    assert fp.fingerprint_of(old) == fp.fingerprint_of(new)


def test_secret_environment_values_are_hashed(tree, tmp_path):
    comps = base_components(tree, tmp_path, environment={"DIB_DEV_USER_PASSWORD": "hunter2", "DIB_RELEASE": "x"})
    assert comps["environment"]["DIB_RELEASE"] == "x"
    assert "hunter2" not in comps["environment"]["DIB_DEV_USER_PASSWORD"]
    assert comps["environment"]["DIB_DEV_USER_PASSWORD"].startswith("sha256:")
    other = base_components(tree, tmp_path, environment={"DIB_DEV_USER_PASSWORD": "hunter3", "DIB_RELEASE": "x"})
    assert fp.fingerprint_of(comps) != fp.fingerprint_of(other)


def test_diff_shows_only_changed_parts(tree, tmp_path):
    old = base_components(tree, tmp_path)
    new = base_components(tree, tmp_path, environment={"DIB_RELEASE": "trixie", "DIB_MIRROR": "http://m"}, size=6)
    changed = fp.changed_components(old, new)
    diff = fp.diff_of(old, new, changed)
    assert diff == {
        "before": {"environment": {"DIB_RELEASE": "bookworm"}, "size": 4},
        "after": {"environment": {"DIB_RELEASE": "trixie"}, "size": 6},
    }


def record_for(tmp_path, components, built_at=None):
    out = tmp_path / "img.qcow2"
    out.write_bytes(b"x" * 10)
    return {
        "version": fp.FINGERPRINT_VERSION,
        "fingerprint": fp.fingerprint_of(components),
        "components": components,
        "images": [{"path": str(out), "format": "qcow2", "size": 10, "sha256": "0"}],
        "built_at_epoch": time.time() if built_at is None else built_at,
    }


def test_decide(tree, tmp_path):
    comps = base_components(tree, tmp_path)
    fingerprint = fp.fingerprint_of(comps)
    expected = [str(tmp_path / "img.qcow2")]

    build, reason, changed = fp.decide(None, fingerprint, comps, expected, force=False, max_age_hours=720)
    assert build and "no previous build" in reason

    record = record_for(tmp_path, comps)
    build, reason, changed = fp.decide(record, fingerprint, comps, expected, force=False, max_age_hours=720)
    assert (build, changed) == (False, [])
    assert reason.startswith("unchanged")

    build, reason, _changed = fp.decide(record, fingerprint, comps, expected, force=True, max_age_hours=720)
    assert build and reason == "forced: force=true"

    old = record_for(tmp_path, comps, built_at=time.time() - 800 * 3600)
    build, reason, _changed = fp.decide(old, fingerprint, comps, expected, force=False, max_age_hours=720)
    assert build and "hours old" in reason
    build, _reason, _changed = fp.decide(old, fingerprint, comps, expected, force=False, max_age_hours=0)
    assert not build

    (tmp_path / "img.qcow2").write_bytes(b"short")
    build, reason, _changed = fp.decide(record, fingerprint, comps, expected, force=False, max_age_hours=720)
    assert build and "changed size" in reason

    os.unlink(str(tmp_path / "img.qcow2"))
    build, reason, _changed = fp.decide(record, fingerprint, comps, expected, force=False, max_age_hours=720)
    assert build and "missing" in reason

    new = base_components(tree, tmp_path, size=9)
    build, reason, changed = fp.decide(record, fp.fingerprint_of(new), new, expected, force=False, max_age_hours=0)
    assert build and changed == ["size"] and reason == "fingerprint changed: size"


def test_decide_wants_every_requested_format(tree, tmp_path):
    comps = base_components(tree, tmp_path)
    record = record_for(tmp_path, comps)
    expected = [str(tmp_path / "img.qcow2"), str(tmp_path / "img.raw")]
    build, reason, _changed = fp.decide(record, fp.fingerprint_of(comps), comps, expected, force=False, max_age_hours=0)
    assert build and "img.raw is missing" in reason


def test_record_roundtrip_and_garbage(tmp_path):
    assert fp.load_record(str(tmp_path), "img") is None
    fp.write_record(str(tmp_path), "img", {"version": fp.FINGERPRINT_VERSION, "fingerprint": "abc"})
    assert fp.load_record(str(tmp_path), "img")["fingerprint"] == "abc"
    (tmp_path / "img.fingerprint.json").write_text("{not json")
    assert fp.load_record(str(tmp_path), "img") is None
    assert [p.name for p in tmp_path.iterdir()] == ["img.fingerprint.json"]
