# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Config drives the way Nova builds them, for boot tests.

Nova writes an ISO 9660 image labelled ``config-2`` holding
``openstack/latest/meta_data.json``. Files given at server creation (Trove
uses this for ``/etc/trove/conf.d/guest_info.conf`` and
``trove-guestagent.conf``) arrive base64-encoded in the API request; Nova
decodes them and stores each one under ``openstack/content/NNNN``, listed in
the metadata's ``files`` entries (``path`` in the guest, ``content_path`` on
the drive). cloud-init's ConfigDrive datasource writes them in the guest.
"""

import base64
import json
import os
import shutil
import subprocess
import tempfile
import uuid as uuidlib


def nova_files(files):
    """Nova's server-create ``personality``: ``{path: text}`` -> ``[{path, contents(base64)}]``."""
    return [
        {"path": path, "contents": base64.b64encode(_bytes(content)).decode("ascii")}
        for path, content in files.items()
    ]


def _bytes(content):
    return content if isinstance(content, bytes) else content.encode("utf-8")


def build_config_drive(dest, files, *, instance_uuid=None, hostname="trove-guest",
                       public_keys=None, user_data=None, meta=None):
    """Write a ``config-2`` ISO to ``dest`` and return its path.

    ``files`` is ``{guest path: text or bytes}``, as a Trove API call would
    inject them. The personality is decoded the way Nova decodes it, so the
    drive holds exactly what Nova would write.
    """
    if shutil.which("genisoimage") is None:
        raise RuntimeError("genisoimage is missing: install it (bindep.txt, profile test)")
    instance_uuid = instance_uuid or str(uuidlib.uuid4())
    tree = tempfile.mkdtemp(prefix="configdrive-")
    try:
        content_dir = os.path.join(tree, "openstack", "content")
        os.makedirs(content_dir)
        entries = []
        for index, item in enumerate(nova_files(files)):
            name = f"{index:04d}"
            with open(os.path.join(content_dir, name), "wb") as handle:
                handle.write(base64.b64decode(item["contents"]))
            entries.append({"path": item["path"], "content_path": f"/content/{name}"})
        metadata = {
            "uuid": instance_uuid,
            "name": hostname,
            "hostname": hostname,
            "launch_index": 0,
            "availability_zone": "nova",
            "project_id": "00000000000000000000000000000000",
            "meta": dict(meta or {}),
            "public_keys": dict(public_keys or {}),
            "files": entries,
            "devices": [],
        }
        for version in ("latest", "2012-08-10"):
            version_dir = os.path.join(tree, "openstack", version)
            os.makedirs(version_dir)
            with open(os.path.join(version_dir, "meta_data.json"), "w") as handle:
                json.dump(metadata, handle)
            if user_data is not None:
                with open(os.path.join(version_dir, "user_data"), "wb") as handle:
                    handle.write(_bytes(user_data))
        # Same flags as nova.virt.configdrive.
        subprocess.run(
            ["genisoimage", "-o", dest, "-ldots", "-allow-lowercase", "-allow-multidot", "-l",
             "-publisher", "dbaas.guest_images tests", "-quiet", "-J", "-r", "-V", "config-2", tree],
            check=True, capture_output=True,
        )
    finally:
        shutil.rmtree(tree, ignore_errors=True)
    return dest


def trove_guest_files(guest_id, datastore_manager, datastore_version, *, guestagent_conf,
                      tenant_id="00000000000000000000000000000000"):
    """The two files Trove's taskmanager injects (trove.instance.models.get_injected_files).

    ``guest_info.conf`` is written as Trove writes it; ``guestagent_conf`` is
    the operator's ``trove-guestagent.conf`` text. Returns ``{guest path: text}``.
    """
    guest_info = (
        "[DEFAULT]\n"
        f"guest_id={guest_id}\n"
        f"datastore_manager={datastore_manager}\n"
        f"datastore_version={datastore_version}\n"
        f"tenant_id={tenant_id}\n"
        "network_isolation=False\n"
    )
    return {
        "/etc/trove/conf.d/guest_info.conf": guest_info,
        "/etc/trove/conf.d/trove-guestagent.conf": guestagent_conf,
    }
