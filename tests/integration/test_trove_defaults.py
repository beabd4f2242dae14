# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify stage: the default image answers an untouched Trove 26 control plane, before it is published.

The default container-mode image is verified ONCE per session, by the
verify stage of the very ``build_guest.yml`` run that builds it (the
``trove_images`` fixture, mode ``required``, the playbook's default): a private
RabbitMQ on loopback, qemu (KVM only where its probe boot works, else TCG) on
an overlay, the user-data of Trove 26's own ``prepare_cloud_config`` at its
default settings on a config drive, a blank ``/dev/vdb``, and Trove's own
client asking ``rpc_ping`` and ``get_filesystem_stats``. These tests read what
that run left (report row, ``.verify.json``, the kept console) and drive the
module and role directly for the failures, on images that already exist:

- a plain Debian image (the ``base_image`` fixture, no agent) fails within its
  short timeout saying the agent never answered, and the publish stage does
  not upload it to the real Glance;
- a broker that refuses the guest's user is named before anything boots;
- a rerun does not boot again (the record matches);
- verify leaves the image's bytes alone.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import time

import pytest
import yaml
from fixtures.layers import TroveImage
from lib import imageinspect
from lib.digest import sha256

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.releases import AGENT_VERSION
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify.request import transport_url

FAIL_TIMEOUT = 150  # the plain image's bound: the agent it lacks can never answer
STEPS = ("kernel", "cloud_init_done", "first_answer", "filesystem_stats")


def _own_leftovers() -> list:
    """Processes and folders of the verify stage still there (brokers, qemu, socat forwards)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace")
        except OSError:
            continue
        if "dbaas-verify-" in argv:
            found.append(f"{pid}: {argv.replace(chr(0), ' ')[:200]}")
    return found


def test_default_image_passed_verify_in_its_build_run(trove_images):
    image: TroveImage = trove_images.container
    row = image.report_entry
    assert row["status"] in ("built", "reused"), row
    assert row["verify"]["result"] in ("passed", "reused"), row["verify"]
    record = image.record
    assert record is not None, f"no {image.name}.verify.json beside the image"
    assert record["result"] == "passed", record
    assert record["fingerprint"] == row["fingerprint"]
    assert record["sha256"] == row["outputs"][0]["sha256"]
    assert record["trove_version"] == AGENT_VERSION
    assert record["accelerator"] in ("kvm", "tcg")
    assert record["broker"] == "private"
    # Trove's defaults were in force, not ours: the image had to know ubuntu:root and read user-data.
    assert record["trove_defaults"]["injected_config_owner"] == "ubuntu"
    assert record["trove_defaults"]["injected_config_group"] == "root"
    assert record["trove_defaults"]["use_nova_server_config_drive"] is False
    # The agent formatted and mounted the 2 GiB volume and said so over RPC.
    assert record["filesystem_stats"]["total"] == pytest.approx(2, abs=0.25), record
    times = record["times"]
    assert all(step in times for step in STEPS), times
    assert [times[step] for step in STEPS] == sorted(times[step] for step in STEPS), times
    assert times["first_answer"] < record["timeout"]
    print(f"\nverify step times ({record['accelerator']}, {record.get('accelerator_note') or 'KVM worked'}): {times}")

    # The kept console: the agent reached the broker named only in trove-guestagent.conf, cloud-init
    # wrote both files (no unknown owner), the precheck found them, the preloaded container image is there.
    console = pathlib.Path(record["console_log"]).read_text(encoding="utf-8")
    assert "Unknown user or group" not in console
    assert "trove-guestagent.conf is missing" not in console
    assert "guest_info.conf is missing" not in console
    assert re.search(r"Cloud-init v\. \S+ finished at .*Datasource DataSourceConfigDrive", console)
    repo_tag = trove_images.inputs.tarball["repo_tag"]
    assert f"Loaded image: {repo_tag}" in console
    assert re.search(r"dbaas-container-preload: done in \d+s", console)

    md = (trove_images.output_dir / "build-report.md").read_text()
    line = next(line for line in md.splitlines() if line.startswith(f"| {image.name} |"))
    assert re.search(r"\| (passed|reused) \((kvm|tcg), first answer \d+ s\) \|$", line), line
    report = json.loads((trove_images.output_dir / "build-report.json").read_text())
    package = next(r for r in report["images"] if r["name"] == trove_images.package.name)
    assert package["verify"]["result"] == "skipped"
    assert not (trove_images.output_dir / f"{trove_images.package.name}.verify.json").exists()
    assert _own_leftovers() == []


def test_verify_leaves_the_image_bytes_alone(trove_images):
    image = trove_images.container
    assert sha256(image.qcow2) == image.report_entry["outputs"][0]["sha256"]
    # use_nova_server_config_drive=False (Trove's default): cloud-init must also read the metadata
    # service, so the OpenStack datasource is listed in the image.
    with imageinspect.mounted_root(image.qcow2) as root:
        sources = yaml.safe_load((root / "etc/cloud/cloud.cfg.d/91-dib-cloud-init-datasources.cfg").read_text())
    assert "OpenStack" in sources["datasource_list"], sources


def test_rerun_reuses_the_record_and_boots_nothing(trove_images, run_playbook):
    image = trove_images.container
    record_file = trove_images.output_dir / f"{image.name}.verify.json"
    before = record_file.read_bytes()
    run = run_playbook("build_guest.yml", dict(trove_images.extra_vars, build_guest_select="[?mode=='container']"),
                       timeout=1800)
    assert run.rc == 0, run.output[-6000:]
    row = run.image(image.name)
    assert row["status"] == "reused", row
    assert row["verify"]["result"] == "reused", row["verify"]
    assert record_file.read_bytes() == before
    assert "starting a private RabbitMQ" not in run.output


def _verify_playbook(tmp_path, tasks) -> str:
    path = tmp_path / "verify.yml"
    path.write_text(yaml.safe_dump([{"name": "verify", "hosts": "build_hosts", "gather_facts": False,
                                     "tasks": tasks}], sort_keys=False))
    return str(path)


def test_plain_debian_without_agent_fails_verify_in_time_and_is_not_published(
        base_image, run_playbook, cloud_config, tmp_path):
    """The verify stage and the publish stage wired as build_guest.yml wires them, on the base image."""
    row = dict(base_image.report_entry)
    spec = {"name": row["name"], "trove": {"datastore": "mysql", "datastore_version": "8.0"}}
    playbook = _verify_playbook(tmp_path, [
        {"name": "Stage verify", "ansible.builtin.include_role": {"name": "dbaas.guest_images.verify"},
         "vars": {"verify_rows": [row], "verify_specs": [spec], "verify_timeout": FAIL_TIMEOUT,
                  "verify_accelerator": "tcg", "verify_force": True}},
        {"name": "Stage publish", "ansible.builtin.include_role": {"name": "dbaas.guest_images.publish"},
         "vars": {"publish_cloud": cloud_config.admin_cloud,
                  "publish_images": "{{ verify_results | rejectattr('status', 'equalto', 'failed') | list }}",
                  "publish_specs": [spec]}},
        {"name": "Show the rows",
         "ansible.builtin.copy": {"content": "{{ verify_results | to_json }}", "dest": str(tmp_path / "rows.json"),
                                  "mode": "0644"}},
    ])
    started = time.monotonic()
    run = run_playbook(playbook, {}, env_extra=cloud_config.env, timeout=1800)
    elapsed = time.monotonic() - started
    assert run.rc == 0, run.output[-6000:]
    rows = json.loads((tmp_path / "rows.json").read_text())
    verify = rows[0]["verify"]
    assert rows[0]["status"] == "failed", rows
    assert verify["result"] == "failed"
    assert verify["step"] in ("cloud-init", "agent-rpc"), verify
    assert "the guest agent never answered" in verify["message"], verify["message"]
    # Either the bounded wait ran out, or the console showed the cause first (a plain Debian image has no
    # `ubuntu` user, Trove's injected_config_owner, so cloud-init stops writing Trove's files).
    assert (f"within {FAIL_TIMEOUT} s" in verify["message"]
            or "cloud-init could not write Trove's files" in verify["message"]), verify["message"]
    assert "--- serial console (tail) ---" in verify["message"]
    record = json.loads((base_image.output_dir / f"{row['name']}.verify.json").read_text())
    assert record["result"] == "failed" and record["step"] == verify["step"]
    # The bound holds: the private broker, Trove's user-data, the boot, the timeout, the cleanup.
    assert record["timeout"] == FAIL_TIMEOUT
    assert record["duration"] < FAIL_TIMEOUT + 180, record["duration"]
    print(f"\nplain image: verify failed at {record['step']} after {record['duration']} s "
          f"(whole playbook {elapsed:.0f} s)")
    conn = cloud_config.connect(cloud_config.admin_cloud)
    # Not uploaded under its name, nor under a unique name of its family (<name>-<UTC time>).
    assert [i.id for i in conn.image.images() if i.name.startswith(row["name"])] == []
    assert sha256(base_image.qcow2) == row["outputs"][0]["sha256"]
    assert _own_leftovers() == []


def test_broker_refusing_the_guest_user_is_named_before_the_boot(base_image, rabbitmq, run_playbook, tmp_path):
    account = rabbitmq.account()
    wrong = "not-" + account.password
    url = transport_url(account.user, wrong, account.vhost, "127.0.0.1", rabbitmq.port)
    playbook = _verify_playbook(tmp_path, [
        {"name": "Verify against a broker that refuses the guest",
         "dbaas.guest_images.guest_verify": {
             "image": str(base_image.qcow2), "datastore_manager": "mysql", "datastore_version": "8.0",
             "broker_url": url, "accelerator": "tcg", "timeout": FAIL_TIMEOUT, "force": True}},
    ])
    started = time.monotonic()
    run = run_playbook(playbook, {}, env_extra={"ANSIBLE_VERBOSITY": "3"}, timeout=900)
    assert run.rc != 0, run.output[-3000:]
    out = " ".join(run.output.split())
    assert f"the broker at 127.0.0.1:{rabbitmq.port} refused the guest's user '{account.user}'" in out, out[-3000:]
    assert "ACCESS_REFUSED" in out
    assert wrong not in run.output and account.password not in run.output
    assert time.monotonic() - started < 300
    # Refused before the long work: nothing booted.
    record = json.loads(base_image.qcow2.with_suffix(".verify.json").read_text())
    assert record["step"] == "broker" and record["times"] == {} and record["console_log"] is None, record
    assert record["duration"] < 60, record
