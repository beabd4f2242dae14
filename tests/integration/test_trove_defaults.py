# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The default image works with an untouched Trove 26 control plane.

The default container-mode image (built once per session by the
``trove_images`` fixture) is booted the way Nova boots a Trove instance, with
what Trove's own code makes at its default settings:

- user-data from ``trove.instance.models.BaseInstance.prepare_cloud_config``
  of the files of ``get_injected_files`` (``guest_info.conf`` and the
  operator's ``trove-guestagent.conf``), cloud-config ``write_files`` owned
  ``injected_config_owner:injected_config_group`` = ``ubuntu:root``; the
  only non-default is the broker in ``trove-guestagent.conf``;
- on a ``config-2`` drive (as ``user_data``), a blank raw ``/dev/vdb``;
- qemu TCG, the image under a throw-away overlay, user networking that
  reaches nothing but the broker: ``10.0.2.100:5672`` in the guest is a
  socat per connection to the session's RabbitMQ on the host's loopback.

Then Trove's client (``trove.guestagent.api.API``) asks ``rpc_ping`` until it
answers and ``get_filesystem_stats``. From the outside the test checks that
the agent read BOTH files: it answered on the topic of ``guest_info.conf``'s
``guest_id`` over the broker only ``trove-guestagent.conf`` names, the unit's
precheck did not report the agent config missing, cloud-init reported no
unknown owner, and the files are in the guest's disk afterwards.

``DBAAS_BOOT_TIMEOUT`` (seconds, default 900) bounds the boot to the first answer.
"""

import os
import re
import time
import uuid

import pytest
import yaml
from lib import imageinspect, qemu
from lib.configdrive import build_config_drive
from lib.trove_guest import ControlPlane, guestagent_conf, taskmanager_user_data, trove_python

BOOT_TIMEOUT = int(os.environ.get("DBAAS_BOOT_TIMEOUT", "900"))
BROKER_IN_GUEST = ("10.0.2.100", 5672)
VOLUME_GIB = 2
CONF_DIR = "/etc/trove/conf.d"

CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. \S+ finished at .*Datasource DataSourceConfigDrive")
AGENT_CONF_MISSING = "trove-guestagent.conf is missing"
UNKNOWN_OWNER = re.compile(r"Unknown user or group|getpwnam\(\): name not found")
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def plain_console(guest):
    return ANSI.sub("", guest.console())


class Timeline:
    """Wall-clock marks after qemu start (the control plane reports epoch times too)."""

    def __init__(self):
        self.started = time.time()
        self.marks = {}

    def mark(self, what, at=None):
        self.marks.setdefault(what, (at or time.time()) - self.started)

    def report(self):
        return "\n".join(f"{seconds:7.1f}s {what}" for what, seconds in sorted(self.marks.items(), key=lambda m: m[1]))


def _leftover_socat(port):
    """Pids of socat processes still forwarding to ``port`` (spawned by qemu's guestfwd)."""
    found = []
    needle = f"TCP:127.0.0.1:{port}".encode()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"socat" and any(needle in arg for arg in argv):
            found.append(int(pid))
    return found


def _failure(what, guest, probe, timeline):
    return (f"{what}\n--- step times ---\n{timeline.report()}\n--- control plane events ---\n"
            f"{probe.events()}\n{probe.log_tail(8)}\n--- serial console (tail) ---\n"
            f"{ANSI.sub('', guest.tail(60))}")


def test_default_image_answers_trove_26_at_its_defaults(trove_images, rabbitmq, tmp_path):
    image = trove_images.container
    python = trove_python()
    guest_id = str(uuid.uuid4())
    account = rabbitmq.account()
    agent_conf = guestagent_conf(account.url(*BROKER_IN_GUEST), control_exchange="trove")
    injected = taskmanager_user_data(python, guest_id, "mysql", image.entry["datastore_version"], agent_conf)

    # Trove's defaults, not ours: the owner the image must know, files in user-data, no config drive.
    assert injected.defaults["injected_config_owner"] == "ubuntu"
    assert injected.defaults["injected_config_group"] == "root"
    assert injected.defaults["use_nova_server_config_drive"] is False
    assert injected.defaults["network_isolation"] is True
    cloud_config = yaml.safe_load(injected.user_data)
    assert sorted(item["path"] for item in cloud_config["write_files"]) == [
        f"{CONF_DIR}/guest_info.conf", f"{CONF_DIR}/trove-guestagent.conf"]
    assert {item["owner"] for item in cloud_config["write_files"]} == {"ubuntu:root"}

    iso = build_config_drive(str(tmp_path / "config-drive.iso"), {}, instance_uuid=guest_id,
                             user_data=injected.user_data)
    forward = qemu.guestfwd_to_loopback(*BROKER_IN_GUEST, rabbitmq.port)
    timeline = Timeline()
    ctx = qemu.boot(str(image.qcow2), config_drive=iso, volume_gib=VOLUME_GIB, memory_mib=2048, smp=2,
                    accel="tcg", nic_options=f"restrict=on,{forward}", keep_log=str(tmp_path / "serial.log"),
                    workdir=str(tmp_path))
    probe = ControlPlane(python, tmp_path / "control-plane", guest_id, injected.rpc_key,
                         account.url("127.0.0.1", rabbitmq.port), control_exchange="trove",
                         budget=BOOT_TIMEOUT)
    try:
        with ctx as guest:
            timeline = Timeline()
            probe.start()
            while not probe.finished():
                console = plain_console(guest)
                if CLOUD_INIT_DONE.search(console):
                    timeline.mark("cloud-init finished (config drive)")
                # Either line means the agent runs without trove-guestagent.conf: it would retry a
                # broker on localhost until the deadline, so say it now.
                if AGENT_CONF_MISSING in console or UNKNOWN_OWNER.search(console):
                    pytest.fail(_failure("the guest agent started without trove-guestagent.conf "
                                         "(cloud-init did not write it)", guest, probe, timeline))
                if guest.process.poll() is not None:
                    pytest.fail(_failure(f"qemu exited (rc {guest.process.returncode})", guest, probe, timeline))
                time.sleep(1)
            if CLOUD_INIT_DONE.search(plain_console(guest)):
                timeline.mark("cloud-init finished (config drive)")
            answered = probe.event("rpc_ping")
            if answered is None:
                pytest.fail(_failure(f"the guest agent never answered rpc_ping within {BOOT_TIMEOUT} s",
                                     guest, probe, timeline))
            timeline.mark(f"first rpc_ping answer (attempt {answered['attempts']})", answered["t"])
            stats = probe.event("filesystem_stats")
            assert stats is not None, _failure("get_filesystem_stats did not answer", guest, probe, timeline)
            timeline.mark("get_filesystem_stats answer", stats["t"])
            print(f"\nstep times after qemu start (TCG, 2 vCPU, 2 GiB):\n{timeline.report()}")

            console = plain_console(guest)
            missing = _failure("the precheck did not find trove-guestagent.conf", guest, probe, timeline)
            assert AGENT_CONF_MISSING not in console, missing
            unknown = _failure("cloud-init could not chown the injected files", guest, probe, timeline)
            assert not UNKNOWN_OWNER.search(console), unknown
            # The volume Trove attached, formatted and mounted by the agent at the mysql mount point.
            assert stats["stats"]["total"] == pytest.approx(VOLUME_GIB, abs=0.25), stats
            assert stats["stats"]["block_size"] > 0

            guest.stop()
            with imageinspect.mounted_root(guest.overlay, workdir=str(tmp_path)) as root:
                conf_dir = root / CONF_DIR.lstrip("/")
                assert (conf_dir / "trove-guestagent.conf").read_text() == injected.files[
                    f"{CONF_DIR}/trove-guestagent.conf"]
                assert (conf_dir / "guest_info.conf").read_text() == injected.files[f"{CONF_DIR}/guest_info.conf"]
                owner = next(line.split(":") for line in (root / "etc/passwd").read_text().splitlines()
                             if line.startswith("ubuntu:"))
                assert owner[6] in ("/usr/sbin/nologin", "/sbin/nologin"), owner
                assert int(owner[2]) < 1000, f"the owner account is not a system account: {owner}"
                # use_nova_server_config_drive=False (Trove's default): cloud-init must also read the
                # metadata service, so the OpenStack datasource is listed and present.
                sources = yaml.safe_load((root / "etc/cloud/cloud.cfg.d/91-dib-cloud-init-datasources.cfg").read_text())
                assert "OpenStack" in sources["datasource_list"], sources
                assert list(root.glob("usr/lib/python3/dist-packages/cloudinit/sources/DataSourceOpenStack.py"))
    finally:
        probe.stop()
        # qemu is gone; its socat children see the end of their STDIO and exit.
        deadline = time.monotonic() + 30
        while _leftover_socat(rabbitmq.port) and time.monotonic() < deadline:
            time.sleep(1)
    assert _leftover_socat(rabbitmq.port) == [], "socat forwards outlived qemu"
