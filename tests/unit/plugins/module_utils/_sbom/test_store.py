# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SBOM files beside the image: staged in the work folder, previous kept, reuse checks the recorded sha256."""

from __future__ import annotations

import hashlib
import json

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import inventory, store

ELEMENTS = {"dbaas-sbom": "f" * 64}
OUTPUTS = [{"path": "/x/img.qcow2", "format": "qcow2", "size": 1, "sha256": "d" * 64}]


def _stage(tmp_path, raw, **changes):
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    inv = work / "inventory.json"
    inv.write_text(json.dumps(raw(**changes)))
    dest = tmp_path / "dest"
    dest.mkdir(exist_ok=True)
    return store.stage(inventory_path=str(inv), work_dir=str(work), dest=str(dest), name="img", outputs=OUTPUTS,
                       dib_version="3.43.0", arch="amd64", element_content=ELEMENTS)


def test_first_build_has_nothing_to_compare(tmp_path, raw):
    staged = _stage(tmp_path, raw)
    assert staged.changes is None
    assert not (tmp_path / "dest/img.cdx.json").exists(), "nothing at dest before install"
    store.install(staged)
    path = tmp_path / "dest/img.cdx.json"
    assert staged.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert not (tmp_path / "dest/img.cdx.previous.json").exists()
    assert staged.result()["summary"] == {"deb": 5, "python": 3, "container-tarball": 1, "licensed-package": 1}
    assert "previous_path" not in staged.result()


def test_second_build_keeps_the_previous_and_compares(tmp_path, raw):
    store.install(_stage(tmp_path, raw))
    first = (tmp_path / "dest/img.cdx.json").read_bytes()
    debs = [p for p in raw()["dpkg"] if p["name"] != "adduser"]
    second = _stage(tmp_path, raw, dpkg=debs)
    store.install(second)
    assert (tmp_path / "dest/img.cdx.previous.json").read_bytes() == first
    assert [e["name"] for e in second.changes["removed"]] == ["adduser"]
    assert second.result()["previous_path"] == str(tmp_path / "dest/img.cdx.previous.json")


def test_reused_only_when_the_file_is_the_recorded_one(tmp_path, raw):
    staged = _stage(tmp_path, raw)
    store.install(staged)
    record = {"sbom": staged.record()}
    assert store.reused(record) == dict(staged.record(), changes="unchanged")
    (tmp_path / "dest/img.cdx.json").write_text("{}")
    assert store.reused(record) is None
    assert store.reused(None) is None
    assert store.reused({}) is None


def test_missing_inventory_is_an_error(tmp_path):
    with pytest.raises(inventory.InventoryError, match="wrote no inventory"):
        store.stage(inventory_path=str(tmp_path / "none"), work_dir=str(tmp_path), dest=str(tmp_path), name="img",
                    outputs=OUTPUTS, dib_version="3", arch="amd64", element_content={})
