# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot proof of the package-mode image: it boots under qemu and the guest agent starts.

The container-mode image is not booted here: the verify stage of the run that
builds it (``trove_images``) boots it with Trove's own user-data and asks its
agent over RabbitMQ, and ``test_trove_defaults.py`` reads that result and the
console it kept (the preloaded container image, cloud-init, the agent). The
package-mode image is skipped by verify (its Trove 26 agent needs Docker), so
this file proves what it can do without Docker: the agent reads the files and
prepares the volume.

It is booted the way Nova boots a Trove instance: a config drive
(``config-2``) carries ``/etc/trove/conf.d/guest_info.conf`` and
``trove-guestagent.conf`` (what Trove's taskmanager injects), and a blank
second virtio disk is the Cinder volume (``/dev/vdb``). Everything is read
from the serial console: cloud-init's own summary line and the guest agent's own log lines (the
test's ``trove-guestagent.conf`` turns on debug logging to stderr, which the
unit sends to the console). The agent config lacks only ``transport_url``:
with it, the agent would answer RPCs.

``DBAAS_BOOT_TIMEOUT`` (seconds, default 900) bounds each boot; TCG on a
loaded 2-core machine is slow.
"""

import os
import re
import time
import uuid

from lib import imageinspect
from lib.configdrive import trove_guest_files

BOOT_TIMEOUT = int(os.environ.get("DBAAS_BOOT_TIMEOUT", "900"))

CLOUD_INIT_DONE = r"Cloud-init v\. \S+ finished at .*Datasource DataSourceConfigDrive"
AGENT = r"trove-guestagent\[\d+\]: "


def agent_conf(manager, mount_point):
    """trove-guestagent.conf as an operator would write it, minus transport_url."""
    return (
        "[DEFAULT]\n"
        "debug = True\n"
        "use_stderr = True\n"
        "control_exchange = trove\n"
        "# transport_url = rabbit://... is the one thing this test leaves out\n"
        f"[{manager}]\n"
        f"mount_point = {mount_point}\n"
    )


class Clock:
    """One deadline for the whole boot; each wait gets what is left."""

    def __init__(self, budget):
        self.started = time.monotonic()
        self.deadline = self.started + budget
        self.marks = []

    def left(self):
        return max(1, int(self.deadline - time.monotonic()))

    def wait(self, guest, pattern, what):
        match = guest.wait_for(pattern, self.left(), what)
        self.marks.append(f"{time.monotonic() - self.started:6.0f}s {what}")
        return match


def _agent_read_its_config(guest, clock, guest_id, mount_point):
    """The agent parsed both injected files, passed its guest_id check and prepared the volume."""
    clock.wait(guest, CLOUD_INIT_DONE, "cloud-init finished from the config drive")
    # Printed by trove.cmd.guest only after the guest_id check passed and the
    # datastore manager of guest_info.conf was found in the registry.
    clock.wait(guest, AGENT + r".*Creating user and group for database service", "agent: database service user")
    # mount_point comes from trove-guestagent.conf, in the section of the
    # datastore_manager that guest_info.conf names.
    clock.wait(guest, AGENT + rf".*Preparing the storage for /dev/vdb, mount path {re.escape(mount_point)}\b",
               "agent: storage preparation on /dev/vdb")
    clock.wait(guest, AGENT + rf'.*CMD "sudo mount [^"]*/dev/vdb {re.escape(mount_point)}" returned: 0',
               "agent: volume mounted")
    console = guest.console()
    assert "guest_id parameter is not set" not in console
    assert "Manager class not registered" not in console
    assert "trove-guestagent not started" not in console, "the unit's precheck did not find guest_info.conf"


def test_package_image_boots_and_agent_prepares_the_volume(trove_images, boot_guest):
    image = trove_images.package
    guest_id = str(uuid.uuid4())
    mount_point = f"/var/lib/trove-test-{guest_id[:8]}"
    files = trove_guest_files(guest_id, "mariadb", image.entry["datastore_version"],
                              guestagent_conf=agent_conf("mariadb", mount_point))
    clock = Clock(BOOT_TIMEOUT)
    with boot_guest(image.qcow2, files=files, instance_uuid=guest_id) as guest:
        _agent_read_its_config(guest, clock, guest_id, mount_point)
    print("\n".join(clock.marks))


# The root file system's size, printed on the console once cloud-init's user scripts run.
ROOT_SIZE_USER_DATA = """#cloud-config
runcmd:
  - [sh, -c, 'echo "dbaas-test root size: $(df -BM --output=size / | tail -n 1 | tr -dc 0-9) MiB" > /dev/ttyS0']
"""


def test_guest_without_trove_files_says_why_the_agent_waits(trove_images, boot_guest):
    """A server not created by Trove (config drive without the files): a plain message, no traceback.

    Its root disk is 2 GiB larger than the image, as a flavor's is: the root file system has grown into it
    by the time cloud-init runs the user's scripts.
    """
    image = trove_images.package.qcow2
    disk_gib = int(imageinspect.qemu_img_info(image)["virtual-size"] / 1024 ** 3) + 2
    clock = Clock(BOOT_TIMEOUT)
    with boot_guest(image, files={}, volume_gib=0, user_data=ROOT_SIZE_USER_DATA, disk_gib=disk_gib) as guest:
        size = clock.wait(guest, r"dbaas-test root size: (\d+) MiB", "root file system size")
        clock.wait(guest, CLOUD_INIT_DONE, "cloud-init finished from the config drive")
        clock.wait(guest, r"trove-guestagent not started: /etc/trove/conf\.d/guest_info\.conf is missing",
                   "precheck message on the console")
        assert "Traceback" not in guest.console()
    print("\n".join(clock.marks))
    # ext4's own overhead keeps df's size a little under the partition's.
    assert int(size.group(1)) > (disk_gib - 0.5) * 1024, (size.group(1), disk_gib)
