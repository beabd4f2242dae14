# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``config-2`` drive as Nova writes it, carrying the user-data Trove's taskmanager made.

PRIVATE to the collection: no compatibility promise outside it.

An ISO 9660 image labelled ``config-2`` with ``openstack/<version>/meta_data.json``
and ``user_data``, written with the flags of ``nova.virt.configdrive``.
The guest's files are NOT in the metadata's ``files`` list: Trove 26 puts
them in the user-data as cloud-config ``write_files``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile

PROJECT = "00000000000000000000000000000000"


def build(dest: str, instance_uuid: str, user_data: str, hostname: str = "trove-verify") -> str:
    """Write the drive to ``dest`` (mode 0600: the user-data holds the broker password); return ``dest``."""
    tree = tempfile.mkdtemp(prefix="configdrive-", dir=os.path.dirname(os.path.abspath(dest)))
    try:
        metadata = {
            "uuid": instance_uuid, "name": hostname, "hostname": hostname, "launch_index": 0,
            "availability_zone": "nova", "project_id": PROJECT, "meta": {}, "public_keys": {},
            "files": [], "devices": [],
        }
        for version in ("latest", "2012-08-10"):
            folder = os.path.join(tree, "openstack", version)
            os.makedirs(folder)
            with open(os.path.join(folder, "meta_data.json"), "w", encoding="utf-8") as handle:
                json.dump(metadata, handle)
            with open(os.path.join(folder, "user_data"), "w", encoding="utf-8") as handle:
                handle.write(user_data)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        subprocess.run(
            ["genisoimage", "-o", dest, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
             "-publisher", "dbaas.guest_images verify", "-quiet", "-J", "-r", "-V", "config-2", tree],
            check=True, capture_output=True,
        )
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return dest
