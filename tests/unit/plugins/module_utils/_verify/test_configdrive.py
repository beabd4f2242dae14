# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config-2 drive, read back with isoinfo (from genisoimage, the tool that writes it)."""

import json
import os
import subprocess

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import configdrive


def read(iso, path):
    return subprocess.run(["isoinfo", "-R", "-i", iso, "-x", path], capture_output=True, check=True).stdout


def test_user_data_drive_is_private_and_lists_no_files(tmp_path):
    iso = configdrive.build(str(tmp_path / "cd.iso"), "uuid-1", "#cloud-config\n{}\n")
    assert os.stat(iso).st_mode & 0o777 == 0o600
    meta = json.loads(read(iso, "/openstack/latest/meta_data.json"))
    assert (meta["uuid"], meta["files"]) == ("uuid-1", [])
    assert read(iso, "/openstack/2012-08-10/user_data") == b"#cloud-config\n{}\n"
    label = subprocess.run(["isoinfo", "-d", "-i", iso], capture_output=True, text=True, check=True).stdout
    assert "Volume id: config-2" in label


def test_personality_files_are_stored_as_nova_stores_them(tmp_path):
    files = {"/etc/trove/conf.d/guest_info.conf": b"[DEFAULT]\nguest_id=g\n", "/etc/x.bin": b"\x00\x01"}
    iso = configdrive.build(str(tmp_path / "cd.iso"), "uuid-2", None, hostname="h", files=files)
    meta = json.loads(read(iso, "/openstack/latest/meta_data.json"))
    assert meta["files"] == [{"path": "/etc/trove/conf.d/guest_info.conf", "content_path": "/content/0000"},
                             {"path": "/etc/x.bin", "content_path": "/content/0001"}]
    assert read(iso, "/openstack/content/0001") == b"\x00\x01"
    assert subprocess.run(["isoinfo", "-R", "-i", iso, "-x", "/openstack/latest/user_data"],
                          capture_output=True, check=True).stdout == b""
