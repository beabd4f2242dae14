# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A ``config-2`` drive as Nova writes it, carrying the user-data Trove's taskmanager made.

PRIVATE to the collection: no compatibility promise outside it.

An ISO 9660 image labelled ``config-2`` with ``openstack/<version>/meta_data.json``
and ``user_data``, written with the flags of ``nova.virt.configdrive``.
The verify stage puts no file in the metadata's ``files`` list: Trove 26 puts
the guest's files in the user-data as cloud-config ``write_files``. (The
boot tests also write drives the older way, with ``files``.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping

PROJECT = "00000000000000000000000000000000"


def build(
    dest: str, instance_uuid: str, user_data: str | None, hostname: str = "trove-verify",
    files: Mapping[str, bytes] | None = None, publisher: str = "dbaas.guest_images verify",
) -> str:
    """Write the drive to ``dest`` (mode 0600: the user-data holds the broker password); return ``dest``.

    ``files`` (``{guest path: content}``) are the server-create personality of older Trove releases: Nova
    stores each under ``openstack/content/NNNN`` and lists it in the metadata's ``files``.
    """
    tree = tempfile.mkdtemp(prefix="configdrive-", dir=os.path.dirname(os.path.abspath(dest)))
    try:
        entries = []
        if files:
            content = os.path.join(tree, "openstack", "content")
            os.makedirs(content)
            for index, (path, data) in enumerate(files.items()):
                name = f"{index:04d}"
                with open(os.path.join(content, name), "wb") as handle:
                    handle.write(data)
                entries.append({"path": path, "content_path": f"/content/{name}"})
        metadata = {
            "uuid": instance_uuid, "name": hostname, "hostname": hostname, "launch_index": 0,
            "availability_zone": "nova", "project_id": PROJECT, "meta": {}, "public_keys": {},
            "files": entries, "devices": [],
        }
        for version in ("latest", "2012-08-10"):
            folder = os.path.join(tree, "openstack", version)
            os.makedirs(folder)
            with open(os.path.join(folder, "meta_data.json"), "w", encoding="utf-8") as handle:
                json.dump(metadata, handle)
            if user_data is not None:
                with open(os.path.join(folder, "user_data"), "w", encoding="utf-8") as handle:
                    handle.write(user_data)
        fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.close(fd)
        # The flags of nova.virt.configdrive.
        subprocess.run(
            ["genisoimage", "-o", dest, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
             "-publisher", publisher, "-quiet", "-J", "-r", "-V", "config-2", tree],
            check=True, capture_output=True,
        )
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return dest
