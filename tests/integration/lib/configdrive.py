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
import shutil
import uuid as uuidlib

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import configdrive


def nova_files(files):
    """Nova's server-create ``personality``: ``{path: text}`` -> ``[{path, contents(base64)}]``."""
    return [
        {"path": path, "contents": base64.b64encode(_bytes(content)).decode("ascii")}
        for path, content in files.items()
    ]


def _bytes(content):
    return content if isinstance(content, bytes) else content.encode("utf-8")


def build_config_drive(dest, files, *, instance_uuid=None, hostname="trove-guest", user_data=None):
    """Write a ``config-2`` ISO to ``dest`` (the collection's own writer) and return its path.

    ``files`` is ``{guest path: text or bytes}``, as a Trove API call would
    inject them. The personality is decoded the way Nova decodes it, so the
    drive holds exactly what Nova would write.
    """
    if shutil.which("genisoimage") is None:
        raise RuntimeError("genisoimage is missing: install it (bindep.txt, profile test)")
    decoded = {item["path"]: base64.b64decode(item["contents"]) for item in nova_files(files)}
    return configdrive.build(dest, instance_uuid or str(uuidlib.uuid4()), user_data, hostname=hostname,
                             files=decoded, publisher="dbaas.guest_images tests")


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
