# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""build_guest.yml over real SSH build hosts: one build per image, affinity, failures isolated.

The hosts are sshd instances on loopback ports (``lib/sshd.py``), each with its
own unprivileged user and home; host key checking is on (a known_hosts file
the fixture writes) and SSH connection sharing is off, so a stopped sshd
really is unreachable. The images are the smallest real DIB images that
still publish: ``debian-minimal`` without partitions or a boot loader, as
qcow2. Only two hosts ever build (each with its own DIB cache, so no two
builds share an apt lock); the others are unreachable or refused in prepare.

Cases share one fleet and run in order: the four images built in the first
case are reused by the later ones.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import subprocess
import tempfile
import time

import pytest
import yaml
from fixtures.build import REPO
from lib.sshd import BASE_DIR, SshFleet
from lib.tls import TlsFront, make_pki

IMAGES = ["fleet-a", "fleet-b", "fleet-c", "fleet-d"]
OUTPUT = "fleet-out"
BROKEN_ELEMENT = "fleet-broken"
BROKEN_MESSAGE = "fleet-broken: this element fails on purpose"

# Runs in the lane of the SSH build host tests, beside the others (fixtures/lanes.py).
pytestmark = pytest.mark.ssh_hosts


def entry(name: str, **extra) -> dict:
    # The environment only tells the images apart (fingerprints); the content is the same. Uncompressed:
    # compressing is most of DIB's conversion time, and these images are only ever uploaded over loopback.
    return dict({"name": name, "elements": ["debian-minimal"], "formats": ["qcow2"], "compress": False,
                 "environment": {"DIB_RELEASE": "bookworm", "FLEET_IMAGE": name}}, **extra)


class Fleet:
    """The SSH hosts plus a controller folder for reports, inventories and vars."""

    def __init__(self, hosts: SshFleet, folder: pathlib.Path, env: dict):
        self.hosts = hosts
        self.folder = folder
        self.env = env
        self.report_dir = folder / "report"

    def output(self, host: str) -> pathlib.Path:
        return pathlib.Path(self.hosts.hosts[host].home) / OUTPUT

    def run(self, names: list[str], images: list[dict], group: str = "build_hosts", playbook: str | None = None,
            extra: dict | None = None, check: bool = False, env: dict | None = None, host_vars: dict | None = None):
        proc = self.start(names, images, group=group, playbook=playbook, extra=extra, check=check, env=env,
                          host_vars=host_vars)
        output = proc.communicate(timeout=3600)[0]
        return self.finish(proc, output)

    def start(self, names: list[str], images: list[dict], group: str = "build_hosts", playbook: str | None = None,
              extra: dict | None = None, check: bool = False, env: dict | None = None,
              host_vars: dict | None = None) -> subprocess.Popen:
        """Start the playbook on the chosen hosts; ``finish`` reads its report."""
        inventory = self.folder / f"inventory-{group}-{'-'.join(names)}.yml"
        own = {name: dict(values, **(host_vars or {}).get(name, {}))
               for name, values in self._interpreters(names).items()}
        inventory.write_text(yaml.safe_dump(self.hosts.inventory(group, names, extra=own)))
        extra_vars = {"build_guest_images": images, "build_guest_output_dir": OUTPUT,
                      "build_guest_report_dir": str(self.report_dir), "build_guest_host_group": group,
                      **(extra or {})}
        vars_file = self.folder / "vars.json"
        vars_file.write_text(json.dumps(extra_vars))
        argv = ["ansible-playbook", "-i", str(inventory), playbook or str(REPO / "playbooks" / "build_guest.yml"),
                "-e", f"@{vars_file}"] + (["--check"] if check else [])
        return subprocess.Popen(argv, env=dict(self.env, **(env or {})), cwd=str(self.folder), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)

    def finish(self, proc: subprocess.Popen, output: str):
        report_path = self.report_dir / "build-report.json"
        report = json.loads(report_path.read_text()) if report_path.is_file() else None
        return proc.returncode, output, report

    python = "/usr/bin/python3"

    def _interpreters(self, names: list[str]) -> dict:
        # diskimage-builder in a virtualenv of the system Python per host (the prepare stage
        # installs it with become the first time; kept for later runs): a virtualenv of this
        # machine's root-only Python would not run as the build users.
        return {name: {"ansible_python_interpreter": self.python, "build_host_python": "/usr/bin/python3",
                       "build_host_dib_venv": f"{BASE_DIR}/dib-{name}"} for name in names}

    def use_openstacksdk(self) -> None:
        """Publishing runs on the build hosts: give them a Python with openstacksdk (made once, kept)."""
        venv = pathlib.Path(BASE_DIR) / "build-host-python"
        python = venv / "bin" / "python"
        usable = python.exists() and subprocess.run(
            [str(python), "-c", "import openstack"], capture_output=True, check=False).returncode == 0
        if not usable:
            subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, capture_output=True)
            subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "openstacksdk"],
                           check=True, capture_output=True, timeout=900)
        self.python = str(python)


@pytest.fixture(scope="module")
def fleet(ansible_env, tmp_path_factory):
    hosts = SshFleet.start([("b1", True), ("b2", True), ("b3", True), ("nosudo", False)])
    try:
        folder = tmp_path_factory.mktemp("fleet")
        yield Fleet(hosts, folder, ansible_env)
    finally:
        hosts.close()


def rows(report: dict) -> dict:
    return {row["name"]: row for row in report["images"]}


def records(fleet: Fleet, host: str) -> dict:
    out = fleet.output(host)
    found = {}
    for path in sorted(out.glob("*.fingerprint.json")):
        found[path.name[: -len(".fingerprint.json")]] = json.loads(path.read_text())
    return found


def _identity(path: pathlib.Path):
    stat = path.stat()
    return (stat.st_ino, stat.st_mtime_ns)


def test_a_four_images_over_two_hosts_each_built_once_at_the_same_time(fleet):
    rc, output, report = fleet.run(["b1", "b2"], [entry(name) for name in IMAGES])
    assert rc == 0, output[-6000:]
    by_name = rows(report)
    assert sorted(by_name) == IMAGES
    assert all(row["status"] == "built" for row in by_name.values()), report
    hosts = {name: row["build_host"] for name, row in by_name.items()}
    assert sorted(hosts.values()) == ["b1", "b1", "b2", "b2"]
    # Built exactly once: each image's files are on its own host only.
    held = {host: records(fleet, host) for host in ("b1", "b2")}
    for name, host in hosts.items():
        other = "b2" if host == "b1" else "b1"
        assert name in held[host] and name not in held[other]
        assert (fleet.output(host) / f"{name}.qcow2").is_file()
    # Both hosts built at the same time: some build interval of b1 overlaps one of b2.
    spans = {host: [(rec["built_at_epoch"] - rec["duration"], rec["built_at_epoch"]) for rec in held[host].values()]
             for host in held}
    assert any(s1 < e2 and s2 < e1 for s1, e1 in spans["b1"] for s2, e2 in spans["b2"]), spans
    # The plan was printed first and kept in the report.
    assert [item["name"] for item in report["plan"]] == IMAGES
    assert "image -> build host" in output or "fleet-a -> b" in output
    markdown = (fleet.report_dir / "build-report.md").read_text()
    for name, host in hosts.items():
        assert f"| {name} | {host} | built |" in markdown


def test_b_rerun_reuses_every_image_on_the_same_host(fleet):
    before = {host: {path.name: _identity(path) for path in fleet.output(host).iterdir()} for host in ("b1", "b2")}
    previous = json.loads((fleet.report_dir / "build-report.json").read_text())
    first = {row["name"]: row["build_host"] for row in previous["images"]}
    rc, output, report = fleet.run(["b1", "b2"], [entry(name) for name in IMAGES])
    assert rc == 0, output[-6000:]
    by_name = rows(report)
    assert {name: row["status"] for name, row in by_name.items()} == dict.fromkeys(IMAGES, "reused")
    assert {name: row["build_host"] for name, row in by_name.items()} == first
    assert all(item["reason"].startswith("affinity: ") for item in report["plan"]), report["plan"]
    # No DIB process ran: no image, log or fingerprint file was written again.
    after = {host: {path.name: _identity(path) for path in fleet.output(host).iterdir()} for host in ("b1", "b2")}
    assert after == before


def test_d_a_stopped_host_has_its_images_planned_onto_the_others(fleet):
    # b3 is stopped before the run; the plan puts no previous image on it,
    # so give it work by planning fresh: the report of the earlier runs is set aside.
    fleet.hosts.hosts["b3"].stop()
    try:
        saved = fleet.report_dir / "build-report.json"
        kept = saved.read_text()
        previous = json.loads(kept)
        # b3 was the host of two images in the "previous" report: they must be moved.
        for row in previous["images"]:
            if row["name"] in ("fleet-a", "fleet-c"):
                row["build_host"] = "b3"
        saved.write_text(json.dumps(previous))
        rc, output, report = fleet.run(["b1", "b2", "b3"], [entry(name) for name in IMAGES])
        assert rc == 0, output[-6000:]
        plan = {item["name"]: item for item in report["plan"]}
        for name in ("fleet-a", "fleet-c"):
            assert plan[name]["moved_from"] == "b3"
            assert plan[name]["host"] in ("b1", "b2")
            assert "moved from b3 (unreachable: " in plan[name]["reason"], plan[name]
            assert "Connection refused" in plan[name]["reason"] or "connect" in plan[name]["reason"]
        assert all(row["build_host"] in ("b1", "b2") for row in report["images"])
        assert all(row["status"] in ("built", "reused") for row in report["images"]), report["images"]
    finally:
        fleet.hosts.hosts["b3"].start()


def test_e_a_host_without_sudo_is_refused_in_prepare_and_its_images_move(fleet):
    saved = fleet.report_dir / "build-report.json"
    previous = json.loads(saved.read_text())
    for row in previous["images"]:
        if row["name"] == "fleet-b":
            row["build_host"] = "nosudo"
    saved.write_text(json.dumps(previous))
    rc, output, report = fleet.run(["b1", "b2", "nosudo"], [entry(name) for name in IMAGES])
    assert rc == 0, output[-6000:]
    plan = {item["name"]: item for item in report["plan"]}
    reason = plan["fleet-b"]["reason"]
    assert plan["fleet-b"]["moved_from"] == "nosudo" and plan["fleet-b"]["host"] in ("b1", "b2")
    assert "prepare failed: nosudo cannot build images" in reason, reason
    assert "cannot run sudo without a password" in reason
    assert all(row["build_host"] != "nosudo" for row in report["images"])


def test_e_without_replanning_the_images_of_the_refused_host_are_reported_unreachable(fleet):
    saved = fleet.report_dir / "build-report.json"
    previous = json.loads(saved.read_text())
    for row in previous["images"]:
        if row["name"] == "fleet-b":
            row["build_host"] = "nosudo"
    saved.write_text(json.dumps(previous))
    rc, output, report = fleet.run(["b1", "b2", "nosudo"], [entry(name) for name in IMAGES],
                                   extra={"build_guest_replan": False})
    assert rc != 0
    by_name = rows(report)
    assert by_name["fleet-b"]["status"] == "unreachable"
    assert "replanning is off (build_guest_replan)" in by_name["fleet-b"]["error"]
    assert "1 image(s) not built: fleet-b (unreachable on nosudo)" in " ".join(output.split())
    assert all(by_name[name]["status"] == "reused" for name in IMAGES if name != "fleet-b")


def broken_entry(folder: pathlib.Path) -> dict:
    """An image whose own element fails at once (root.d), before any download."""
    elements = pathlib.Path(tempfile.mkdtemp(prefix="fleet-elements-", dir=str(folder)))
    hook = elements / BROKEN_ELEMENT / "root.d" / "01-fleet-broken"
    hook.parent.mkdir(parents=True)
    hook.write_text(f"#!/bin/bash\necho '{BROKEN_MESSAGE}' >&2\nexit 3\n")
    hook.chmod(0o755)
    return entry("fleet-broken", elements=["debian-minimal", BROKEN_ELEMENT], element_paths=[str(elements)])


def test_c_a_broken_image_fails_with_dibs_error_and_the_others_are_published(fleet, cloud_config, keystone):
    # fleet-b's last row is "unreachable" (the case before): the three others keep their hosts.
    kept = ["fleet-a", "fleet-c", "fleet-d"]
    images = [entry(name) for name in kept] + [broken_entry(fleet.folder)]
    # The cloud by name, from the controller's clouds.yaml (password in its secure.yaml), its Keystone
    # behind TLS with a client certificate (CA, certificate and key files on the controller only): the
    # build hosts, which publish, have none of these files.
    pki = make_pki(fleet.folder / "pki")
    front = TlsFront(keystone.service.port, pki)
    clouds = keystone.clouds()
    cloud = clouds["clouds"][cloud_config.member_cloud]
    public = {"clouds": {cloud_config.member_cloud: dict(cloud, auth={
        key: value for key, value in cloud["auth"].items() if key != "password"} | {"auth_url": front.url("/v3")},
        cacert=str(pki["ca.pem"]), cert=str(pki["client.pem"]), key=str(pki["client.key"]))}}
    secure = {"clouds": {cloud_config.member_cloud: {"auth": {"password": cloud["auth"]["password"]}}}}
    (fleet.folder / "clouds.yaml").write_text(yaml.safe_dump(public))
    (fleet.folder / "secure.yaml").write_text(yaml.safe_dump(secure))
    fleet.use_openstacksdk()
    try:
        rc, output, report = fleet.run(["b1", "b2"], images, extra={"build_guest_cloud": cloud_config.member_cloud},
                                       env={"OS_CLIENT_CONFIG_FILE": str(fleet.folder / "clouds.yaml"),
                                            "OS_CLIENT_SECURE_FILE": str(fleet.folder / "secure.yaml")})
    finally:
        front.close()
    assert rc != 0, output[-4000:]
    assert front.handshakes > 0  # the build hosts reached Keystone through TLS, with the client certificate
    by_name = rows(report)
    assert by_name["fleet-broken"]["status"] == "failed"
    assert BROKEN_MESSAGE in by_name["fleet-broken"]["error"] or "01-fleet-broken" in by_name["fleet-broken"]["error"]
    assert all(by_name[name]["status"] == "reused" for name in kept)
    assert "fleet-broken (failed on" in " ".join(output.split())
    conn = cloud_config.connect(cloud_config.member_cloud)
    published = {image.name for image in conn.image.images()}
    # The publish role gives each image of a family its own name: <name>-<UTC time>.
    for name in kept:
        assert any(re.fullmatch(rf"{re.escape(name)}(-\d{{14}})?", got) for got in published), (name, published)
    assert not any(got.startswith("fleet-broken") for got in published), published
    # Nothing secret stays on a build host: no file under the users' homes or
    # their temp folders holds the password or the client certificate's key.
    password = cloud["auth"]["password"]
    key_body = pki["client.key"].read_text().splitlines()[1]
    for name in ("b1", "b2"):
        home = pathlib.Path(fleet.hosts.hosts[name].home)
        for path in home.rglob("*"):
            if path.is_file() and not path.is_symlink() and path.stat().st_size < 50 * 1024 * 1024:
                with contextlib.suppress(OSError):
                    data = path.read_bytes()
                    assert password.encode() not in data, f"the cloud password is in {path}"
                    assert key_body.encode() not in data, f"the client key is in {path}"
    assert password not in output and key_body not in output


def test_import_playbook_by_fqcn_with_its_own_group_and_roles_directly(fleet):
    caller = fleet.folder / "deploy.yml"
    caller.write_text(yaml.safe_dump([
        {"name": "Own deployment play", "hosts": "localhost", "gather_facts": False,
         "tasks": [{"name": "Say hello", "ansible.builtin.debug": {"msg": "deploying"}}]},
        {"ansible.builtin.import_playbook": "dbaas.guest_images.build_guest",
         "vars": {"build_guest_host_group": "trove_image_builders"}},
    ]))
    both = ["fleet-a", "fleet-d"]
    rc, output, report = fleet.run(["b1", "b2"], [entry(name) for name in both], group="trove_image_builders",
                                   playbook=str(caller))
    assert rc == 0, output[-6000:]
    # The report file also keeps the other images' rows of earlier runs: this run's are those of `both`.
    assert {row["name"]: row["status"] for row in report["images"] if row["name"] in both} == dict.fromkeys(
        both, "reused")
    # The roles called directly from a play of the caller's own, on its group.
    direct = fleet.folder / "direct.yml"
    direct.write_text(yaml.safe_dump([{
        "name": "Build with the roles", "hosts": "trove_image_builders", "gather_facts": False,
        "tasks": [
            {"name": "Prepare", "ansible.builtin.include_role": {"name": "dbaas.guest_images.build_host"}},
            {"name": "Build", "ansible.builtin.include_role": {"name": "dbaas.guest_images.build_image"},
             "vars": {"build_image_spec": "{{ entry | dbaas.guest_images.compose_guest_image }}",
                      "build_image_dest": f"~/{OUTPUT}",
                      "build_image_dib_command": "{{ build_host_dib_command }}",
                      "build_image_dib_environment": "{{ build_host_dib_environment }}",
                      "build_image_host_distribution": "{{ build_host_distribution }}"},
             "when": "inventory_hostname == 'b1'"},
            {"name": "Check", "ansible.builtin.assert": {"that": "build_image_results[0].status == 'reused'"},
             "when": "inventory_hostname == 'b1'"},
        ],
        "vars": {"entry": entry(
            next(row["name"] for row in report["images"] if row["build_host"] == "b1"))},
    }]))
    inventory = fleet.folder / "inventory-direct.yml"
    inventory.write_text(yaml.safe_dump(fleet.hosts.inventory("trove_image_builders", ["b1", "b2"],
                                                              extra=fleet._interpreters(["b1", "b2"]))))
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(direct)], env=fleet.env,
                          cwd=str(fleet.folder), capture_output=True, text=True, timeout=900, check=False)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]


def test_check_mode_shows_the_plan_and_changes_nothing(fleet):
    report_path = fleet.report_dir / "build-report.json"
    before = _identity(report_path)
    outputs = {host: {p.name: _identity(p) for p in fleet.output(host).iterdir()} for host in ("b1", "b2")}
    images = [entry(name) for name in IMAGES] + [entry("fleet-new")]
    rc, output, _report = fleet.run(["b1", "b2"], images, check=True)
    assert rc == 0, output[-4000:]
    assert "fleet-new -> b" in output and "longest first" in output
    assert _identity(report_path) == before
    assert {host: {p.name: _identity(p) for p in fleet.output(host).iterdir()} for host in ("b1", "b2")} == outputs


def test_no_fitting_host_is_refused_before_any_stage(fleet):
    rc, output, _report = fleet.run(["b1", "b2"], [entry("fleet-gpu", labels=["gpu"])])
    assert rc != 0
    assert "build_guest_images entry 'fleet-gpu': no build host of group 'build_hosts' fits" in " ".join(output.split())
    assert "PLAY [Prepare]" not in output
    assert not (fleet.output("b1") / "fleet-gpu.fingerprint.json").exists()


def _unsafe(value: str) -> str:
    return "!unsafe " + json.dumps(value)


def test_f_ansible_runner_with_an_awx_private_data_dir(fleet):
    """The job the way AWX runs it: ansible-runner, project/, inventory/, env/extravars with survey answers.

    Two images: fleet-d (reused on its host) and the broken one, whose build starts and fails in
    seconds, so the job shows progress lines without paying for a build, and fails as AWX should see it.
    """
    job = fleet.folder / "awx-job"
    (job / "inventory").mkdir(parents=True)
    (job / "env").mkdir()
    (job / "project").symlink_to(REPO)
    (job / "inventory" / "hosts").write_text(yaml.safe_dump(fleet.hosts.inventory(
        "trove_image_builders", ["b1", "b2"], extra=fleet._interpreters(["b1", "b2"]))))
    # Survey answers reach the job as unsafe strings (integers as numbers), the
    # job template's own extra vars as plain YAML.
    survey = {"build_guest_select": "[?name=='fleet-d' || name=='fleet-broken']", "build_guest_cloud": "",
              "build_guest_host_group": "trove_image_builders", "build_guest_force": "false",
              "build_guest_replan": "true"}
    template = {"build_guest_images": [entry(name) for name in IMAGES] + [broken_entry(fleet.folder)],
                "build_guest_output_dir": OUTPUT, "build_guest_report_dir": str(fleet.report_dir)}
    lines = [f"{key}: {_unsafe(value)}" for key, value in survey.items()]
    lines += ["build_guest_builds_per_host: 1", "publish_keep: 3"]
    lines += [f"{key}: {json.dumps(value)}" for key, value in template.items()]
    (job / "env" / "extravars").write_text("\n".join(lines) + "\n")
    (job / "env" / "envvars").write_text(yaml.safe_dump({
        "ANSIBLE_COLLECTIONS_PATH": fleet.env["ANSIBLE_COLLECTIONS_PATH"], "ANSIBLE_NOCOLOR": "1"}))
    runner = pathlib.Path(fleet.env["PATH"].split(":")[0]) / "ansible-runner"
    proc = subprocess.run([str(runner), "run", str(job), "-p", "playbooks/build_guest.yml", "--ident", "job1"],
                          env=fleet.env, capture_output=True, text=True, timeout=1800, check=False)
    assert proc.returncode != 0, "the job passed although fleet-broken failed"
    assert (job / "artifacts" / "job1" / "status").read_text().strip() == "failed"
    events = [json.loads(path.read_text())
              for path in sorted((job / "artifacts" / "job1" / "job_events").glob("*.json"),
                                 key=lambda p: int(p.name.split("-")[0]))]
    stdout = " ".join(" ".join(event.get("stdout", "") for event in events).split())
    assert "fleet-d -> b2 (affinity: b2 holds its last build" in stdout, stdout[-3000:]
    assert "[dib_image fleet-broken]" in stdout, "no per-image progress line in the job events"
    assert f"see {fleet.report_dir}/build-report.md" in stdout
    (stats,) = [event for event in events if event.get("event") == "playbook_on_stats"]
    artifact = stats["event_data"]["artifact_data"]
    results = {r["name"]: r for r in artifact["build_guest_results"]}
    assert (results["fleet-d"]["status"], results["fleet-d"]["build_host"]) == ("reused", "b2")
    assert results["fleet-d"]["glance_image_id"] is None
    assert results["fleet-broken"]["status"] == "failed"
    assert artifact["build_guest_report_path"] == str(fleet.report_dir / "build-report.json")


def slow_entry(folder: pathlib.Path) -> dict:
    """An image whose own element waits in root.d (before any download) until the build is stopped."""
    elements = pathlib.Path(tempfile.mkdtemp(prefix="fleet-elements-", dir=str(folder)))
    hook = elements / "fleet-slow" / "root.d" / "01-fleet-slow"
    hook.parent.mkdir(parents=True)
    hook.write_text("#!/bin/bash\nsleep 900\n")
    hook.chmod(0o755)
    return entry("fleet-slow", elements=["debian-minimal", "fleet-slow"], element_paths=[str(elements)])


def test_g_a_host_lost_mid_build_is_reported_unreachable_and_its_build_stops(fleet):
    host = fleet.hosts.hosts["b1"]
    out = fleet.output(host.name)
    progress = out / ".fleet-slow.progress.json"
    proc = fleet.start(["b1"], [slow_entry(fleet.folder)])
    try:
        deadline = time.monotonic() + 600
        while not (progress.is_file() and '"root.d"' in progress.read_text(errors="replace")):
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[0][-4000:]
            time.sleep(1)
        host.stop()  # the controller's next poll cannot connect
        output = proc.communicate(timeout=600)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        host.start()
    rc, output, report = fleet.finish(proc, output)
    assert rc != 0 and report is not None, output[-6000:]
    row = rows(report)["fleet-slow"]
    assert row["status"] == "unreachable", row
    assert row["build_host"] == "b1"
    assert "b1: unreachable: the host stopped answering during its build stage" in row["reason"], row
    assert "1 image(s) not built: fleet-slow (unreachable on b1)" in " ".join(output.split())
    # Without its controller the build stopped itself on the host: DIB gone, nothing left, a note for the next run.
    note = out / "fleet-slow.abandoned.json"
    deadline = time.monotonic() + 180
    while not note.is_file() and time.monotonic() < deadline:
        time.sleep(2)
    assert json.loads(note.read_text())["cause"] == "controller gone"
    assert not (out / "fleet-slow.qcow2").exists()
    assert not [name for name in os.listdir(out) if name.startswith(".fleet-slow.tmp-")], os.listdir(out)
    # The stop is SIGTERM, a grace period, then SIGKILL: give the element's process that long to be gone.
    deadline = time.monotonic() + 60
    while subprocess.run(["pgrep", "-f", "01-fleet-slow"], capture_output=True, check=False).returncode == 0:
        assert time.monotonic() < deadline, "the element's process outlived the stopped build by 60 s"
        time.sleep(1)


def test_h_two_builds_at_once_on_one_host_each_with_its_own_cache(fleet):
    """build_guest_builds_per_host 2 (a host variable): two real DIB builds side by side on b1."""
    names = ["fleet-p1", "fleet-p2"]
    rc, output, report = fleet.run(["b1"], [entry(name) for name in names],
                                   host_vars={"b1": {"build_guest_builds_per_host": 2}})
    assert rc == 0, output[-6000:]
    by_name = rows(report)
    assert {name: (by_name[name]["status"], by_name[name]["build_host"]) for name in names} == dict.fromkeys(
        names, ("built", "b1")), report
    assert sorted(by_name[name]["build_slot"] for name in names) == [1, 2]
    home = pathlib.Path(fleet.hosts.hosts["b1"].home)
    caches = {by_name[name]["build_slot"]: by_name[name]["cache_dir"] for name in names}
    assert caches[2] == caches[1] + "-slot2", caches
    # Each slot's own cache got its own debootstrap base (no apt lock shared between the two builds).
    slot2 = home / ".cache" / "image-create-slot2"
    assert list(slot2.glob("debootstrap-*.tar.gz")), sorted(p.name for p in slot2.iterdir())
    # The two DIB runs overlapped in time, and each printed its progress.
    held = records(fleet, "b1")
    (s1, e1), (s2, e2) = [(held[name]["built_at_epoch"] - held[name]["duration"], held[name]["built_at_epoch"])
                          for name in names]
    assert s1 < e2 and s2 < e1, (s1, e1, s2, e2)
    for name in names:
        assert f"[dib_image {name}] started on b1" in output
    markdown = (fleet.report_dir / "build-report.md").read_text()
    assert any(f"| {name} | b1 (slot 2) | built |" in markdown for name in names), markdown
