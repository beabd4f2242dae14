# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dib_image action plugin: progress lines, result shape, file shipping.

Runs real ansible-playbook against localhost with the stand-in
``disk-image-create`` of tests/unit/plugins/modules/test_dib_image.py.
"""

import fcntl
import importlib.util
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from ansible_collections.dbaas.guest_images.plugins.plugin_utils import _dib_progress as progress
from ansible_collections.dbaas.guest_images.plugins.plugin_utils import _dib_staging as staging

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "fake_dib_module_tests", os.path.join(_HERE, "..", "modules", "test_dib_image.py")
)
fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake)


def collections_root():
    for entry in sys.path:
        if entry and os.path.isdir(os.path.join(entry, "ansible_collections", "dbaas", "guest_images")):
            return entry
    raise AssertionError("collection not importable")


def playbook(tmp_path, tasks, extra_files=None):
    (tmp_path / "play").mkdir(exist_ok=True)
    path = tmp_path / "play" / "site.yml"
    path.write_text(
        "- hosts: localhost\n  gather_facts: false\n  connection: local\n  tasks:\n" + textwrap.indent(tasks, "    ")
    )
    for name, content in (extra_files or {}).items():
        target = tmp_path / "play" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    return path


def run_playbook(tmp_path, path, *args):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = dict(
        os.environ,
        HOME=str(home),
        ANSIBLE_COLLECTIONS_PATH=collections_root(),
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
        ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default",
        ANSIBLE_CALLBACK_RESULT_FORMAT="json",
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_FORCE_COLOR="0",
        ANSIBLE_PYTHON_INTERPRETER=sys.executable,
    )
    env.pop("ANSIBLE_CONFIG", None)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path)]
    return subprocess.run(cmd + list(args), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=300, check=False, cwd=str(tmp_path))


def task_yaml(dib, dest, register="out", **over):
    params = fake.params(dib, dest, **over)
    params = {k: v for k, v in params.items() if v not in (None, [], {}) or k in ("environment",)}
    saved = dest.parent / (register + ".json")
    return (
        f"- name: Build\n  dbaas.guest_images.dib_image: {json.dumps(params)}\n  register: {register}\n"
        f"- name: Show\n  ansible.builtin.copy:\n    content: \"{{{{ {register} | to_json }}}}\"\n    dest: {saved}\n"
    )


def test_should_report():
    state = {"phase": "install.d"}
    assert progress.should_report(state, None, 0, 100)
    assert not progress.should_report(state, "install.d", 100, 130)
    assert progress.should_report(state, "install.d", 100, 160)
    assert progress.should_report({"phase": "finalise.d"}, "install.d", 100, 101)


def test_pack_and_stage_command_roundtrip(tmp_path):
    src = tmp_path / "elements"
    (src / "trove-guest" / "install.d").mkdir(parents=True)
    hook = src / "trove-guest" / "install.d" / "50-agent"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o750)
    os.symlink("install.d/50-agent", str(src / "trove-guest" / "link"))
    archive = tmp_path / "a.tar.gz"
    staging.pack(str(src), str(archive))
    stage = tmp_path / "stage" / "abc123"
    stage.parent.mkdir()
    (stage).mkdir()
    (stage / "stale").write_text("from an interrupted run")
    subprocess.check_call(["bash", "-c", staging.stage_command(str(archive), str(stage))])
    assert (stage / ".complete").exists()
    assert not (stage / "stale").exists()
    staged_hook = stage / "elements" / "trove-guest" / "install.d" / "50-agent"
    assert oct(staged_hook.stat().st_mode & 0o777) == oct(0o750)
    assert os.readlink(str(stage / "elements" / "trove-guest" / "link")) == "install.d/50-agent"
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.fingerprint import tree_sha256

    assert tree_sha256(str(stage / "elements")) == tree_sha256(str(src))
    with tarfile.open(str(archive)) as handle:
        assert handle.getnames()[0] == "elements"


def test_progress_lines_and_clean_result(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    tasks = task_yaml(dib, dest, environment={"DIB_RELEASE": "bookworm", "FAKE_DIB_STEP": "1"})
    path = playbook(tmp_path, tasks)
    proc = run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5")
    assert proc.returncode == 0, proc.stdout
    lines = [line for line in proc.stdout.splitlines() if line.startswith("[dib_image img] ")]
    assert lines, proc.stdout
    phases = [line.split()[2] for line in lines]
    assert "root.d" in phases and "install.d" in phases
    assert any(line.endswith(("running 50-fake", "running 08-debootstrap")) for line in lines), lines
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["built"] is True and result["changed"] is True
    assert "ansible_job_id" not in result and "finished" not in result and "results_file" not in result
    assert result["images"][0]["path"] == str(dest / "img.qcow2")
    # The heartbeat was on (polls every 0.5 s), did not stop a healthy build, and is gone with it.
    assert not [name for name in os.listdir(dest) if ".heartbeat-" in name]
    assert not os.listdir(tmp_path / "home" / ".ansible_async")

    again = run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5")
    assert again.returncode == 0, again.stdout
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["built"] is False and result["changed"] is False
    build_section = again.stdout.partition("TASK [Build]")[2].partition("TASK [Show]")[0]
    assert "ok: [localhost]" in build_section and "changed:" not in build_section
    assert "[dib_image img]" not in build_section  # nothing built, nothing to report

    # A note of an abandoned build (say a forced rebuild) is reported, and consumed, by a run that builds nothing.
    note = dest / "img.abandoned.json"
    note.write_text(json.dumps({"outcome": "abandoned", "cause": "controller gone", "phase": "install.d"}))
    third = run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5")
    assert third.returncode == 0, third.stdout
    result = json.loads((tmp_path / "out.json").read_text())
    assert result["built"] is False
    assert result["previous_build"]["summary"] == "previous build was abandoned: controller gone at install.d"
    assert not note.exists()


def test_check_mode_runs_plain(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    path = playbook(tmp_path, task_yaml(dib, dest).split("- name: Show", maxsplit=1)[0])
    proc = run_playbook(tmp_path, path, "--check", "--diff")
    assert proc.returncode == 0, proc.stdout
    assert "would build" in proc.stdout or "changed: [localhost]" in proc.stdout
    assert not (dib["state"] / "runs").exists()


def test_failure_reaches_the_controller(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    path = playbook(tmp_path, task_yaml(dib, dest, mode="fail").split("- name: Show", maxsplit=1)[0])
    proc = run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5")
    assert proc.returncode != 0
    assert "FAKE_SETTING must be set" in proc.stdout
    assert "failed_hook" in proc.stdout


SHIPPING_ACTION = """\
from ansible_collections.dbaas.guest_images.plugins.action.dib_image import ActionModule as Base


class ActionModule(Base):
    # The test host is localhost; pretend it is remote so files get shipped.
    def _needs_shipping(self):
        return True
"""


def test_controller_files_are_shipped_once(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    elements = tmp_path / "play" / "files" / "elements"
    (elements / "extra").mkdir(parents=True)
    (elements / "extra" / "element-deps").write_text("")
    pkg = tmp_path / "play" / "files" / "agent.tar.gz"
    pkg.write_bytes(b"pretend tarball")
    params = fake.params(dib, dest, elements=["fake-os", "extra"])
    params.update(element_paths=["files/elements"], inputs={"DATASTORE_PKG_LOCATION": str(pkg)})
    tasks = f"- name: Build shipped\n  dib_image_shipped: {json.dumps(params)}\n"
    path = playbook(tmp_path, tasks, {"action_plugins/dib_image_shipped.py": SHIPPING_ACTION})

    proc = run_playbook(tmp_path, path, "-v", "-e", "dib_image_poll_interval=0.5")
    assert proc.returncode == 0, proc.stdout
    env = dict(line.split("=", 1) for line in (dib["state"] / "env").read_text().splitlines() if "=" in line)
    stage_root = str(tmp_path / "home" / ".cache" / "dbaas-guest-images" / "stage") + "/"
    assert env["ELEMENTS_PATH"].startswith(stage_root) and env["ELEMENTS_PATH"].endswith("/elements")
    assert env["DATASTORE_PKG_LOCATION"].startswith(stage_root)
    with open(env["DATASTORE_PKG_LOCATION"], "rb") as staged:
        assert staged.read() == b"pretend tarball"
    assert "shipping" in proc.stdout

    again = run_playbook(tmp_path, path, "-vv", "-e", "dib_image_poll_interval=0.5")
    assert again.returncode == 0, again.stdout
    assert "shipping" not in again.stdout and "already staged" in again.stdout
    assert '"built": false' in again.stdout

    (elements / "extra" / "install.d").mkdir()
    (elements / "extra" / "install.d" / "10-new").write_text("#!/bin/sh\n")
    third = run_playbook(tmp_path, path, "-v", "-e", "dib_image_poll_interval=0.5")
    assert third.returncode == 0, third.stdout
    assert "shipping" in third.stdout
    assert '"built": true' in third.stdout


@pytest.mark.parametrize("value", ["/abs/only/on/build/host", "relative/missing"])
def test_build_host_paths_pass_through(tmp_path, value):
    class Loader:
        def path_dwim(self, path):
            return str(tmp_path / path)

    loader = Loader()
    assert staging.controller_path(loader, value) is None
    (tmp_path / "relative").mkdir()
    (tmp_path / "relative" / "missing").write_text("now present")
    if not value.startswith("/"):
        assert staging.controller_path(loader, value) == str(tmp_path / value)


def test_module_killed_with_its_wrapper_is_reported(tmp_path):
    """SIGKILL to the async job's process group (what an async timeout does): the play fails promptly."""
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    path = playbook(tmp_path, task_yaml(dib, dest, mode="sleep").split("- name: Show", maxsplit=1)[0])
    home = tmp_path / "home"
    home.mkdir()
    # The module's wrapper unpacks it under TMPDIR: a folder of the test's own, checked at the end.
    module_tmp = tmp_path / "module-tmp"
    module_tmp.mkdir()
    env = dict(os.environ, HOME=str(home), ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"),
               TMPDIR=str(module_tmp))
    env.pop("ANSIBLE_CONFIG", None)
    play = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path),
         "-e", "dib_image_poll_interval=0.5"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=str(tmp_path),
    )
    try:
        child = int(fake.wait_for(dib["state"] / "child", timeout=120))
        status = dest / ".img.progress.json"
        assert fake.wait_gone(lambda: status.exists() and json.loads(status.read_text()).get("pid"), 30)
        module_pid = json.loads(status.read_text())["pid"]
        os.killpg(os.getpgid(module_pid), 9)
        out = play.communicate(timeout=120)[0]
    finally:
        if play.poll() is None:
            play.kill()
    assert play.returncode != 0
    assert "died without a result" in out, out
    assert fake.wait_gone(lambda: not fake.alive(child))
    assert fake.leftovers(str(dest)) == []
    assert "the module process died" in (dest / "img.log").read_text()
    # What the killed wrapper unpacked is removed too (its own cleanup never ran).
    assert fake.wait_gone(lambda: not [p.name for p in module_tmp.glob("ansible_*_payload_*")]), \
        sorted(os.listdir(module_tmp))


def test_killed_playbook_stops_its_build(tmp_path):
    """SIGKILL to the playbook's process group (a cancelled job): the build notices the silence and stops."""
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    path = playbook(tmp_path, task_yaml(dib, dest, mode="sleep").split("- name: Show", maxsplit=1)[0])
    home = tmp_path / "home"
    home.mkdir()
    env = dict(os.environ, HOME=str(home), ANSIBLE_COLLECTIONS_PATH=collections_root(), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PYTHON_INTERPRETER=sys.executable, ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"))
    env.pop("ANSIBLE_CONFIG", None)
    play = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(path),
         "-e", "dib_image_poll_interval=1", "-e", "dib_image_heartbeat_misses=3"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(tmp_path), start_new_session=True,
    )
    try:
        child = int(fake.wait_for(dib["state"] / "child", timeout=120))

        def beats():
            return [name for name in os.listdir(dest) if ".heartbeat-" in name]

        assert fake.wait_gone(lambda: beats() and (dest / beats()[0]).read_text().strip(), 30), "no heartbeat"
        os.killpg(play.pid, 9)
        play.wait(timeout=30)
        killed = time.monotonic()
        assert fake.wait_gone(lambda: not fake.alive(child), 60), "DIB still runs without its controller"
        stopped = time.monotonic() - killed
    finally:
        if play.poll() is None:
            os.killpg(play.pid, 9)
    assert stopped < 45, stopped  # 3 polls of 1 s (at least MIN_SILENCE, 30 s), plus the cleanup
    assert fake.wait_gone(lambda: fake.leftovers(str(dest)) == [] and not beats())
    assert json.loads((dest / "img.abandoned.json").read_text())["cause"] == "controller gone"
    # The lock is free and no async result is left for a controller that will never read it.
    assert fake.wait_gone(lambda: not os.listdir(home / ".ansible_async"), 20), os.listdir(home / ".ansible_async")
    lock = dest / ".img.lock"
    with open(lock) as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
