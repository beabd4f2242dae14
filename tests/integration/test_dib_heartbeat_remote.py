# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A killed controller stops a build on a remote build host: the heartbeat travels over SSH.

A real sshd on loopback is the build host; the build is the stand-in
``disk-image-create`` of the unit tests (it holds the image lock and a
child process in install.d until it is killed), so the test costs seconds,
not a DIB build. The real DIB case, on localhost, is in test_build_guest.py.
"""

import fcntl
import importlib.util
import json
import os
import pathlib
import pwd
import signal
import subprocess
import sys
import time

import pytest
from lib.sshd import SSHD, own_user_sshd

_FAKE = pathlib.Path(__file__).resolve().parents[1] / "unit" / "plugins" / "modules" / "test_dib_image.py"
_spec = importlib.util.spec_from_file_location("fake_dib_for_remote_tests", _FAKE)
fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake)

# Runs in the lane of the SSH build host tests, beside the others (fixtures/lanes.py).
pytestmark = pytest.mark.ssh_hosts


@pytest.fixture
def ssh_build_host(tmp_path):
    """A throw-away sshd on 127.0.0.1 that lets this user in with a key of its own."""
    if not os.access(SSHD, os.X_OK):
        pytest.fail(f"{SSHD} is not installed: run `scripts/run setup test` (bindep.txt lists openssh-server)")
    with own_user_sshd(str(tmp_path / "sshd")) as (port, key):
        yield {"port": port, "key": key}


def test_killed_controller_stops_a_remote_build(ssh_build_host, ansible_env, tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    params = fake.params(dib, dest, mode="sleep")
    params = {k: v for k, v in params.items() if v not in (None, [], {}) or k == "environment"}
    user = pwd.getpwuid(os.getuid())
    home, user = pathlib.Path(user.pw_dir), user.pw_name
    play = tmp_path / "play.yml"
    play.write_text(
        "- hosts: builder\n  gather_facts: false\n  tasks:\n"
        f"    - name: Build\n      dbaas.guest_images.dib_image: {json.dumps(params)}\n"
    )
    inventory = tmp_path / "inventory.ini"
    inventory.write_text(
        f"builder ansible_host=127.0.0.1 ansible_port={ssh_build_host['port']} ansible_user={user}"
        f" ansible_ssh_private_key_file={ssh_build_host['key']} ansible_python_interpreter={sys.executable}\n"
    )
    env = dict(ansible_env, ANSIBLE_HOST_KEY_CHECKING="False",
               # No ControlPersist master left running after the kill; every poll is its own SSH session.
               ANSIBLE_SSH_ARGS="-o ControlMaster=no -o UserKnownHostsFile=/dev/null")
    proc = subprocess.Popen(
        ["ansible-playbook", "-i", str(inventory), str(play), "-e", "dib_image_poll_interval=2"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        child = int(fake.wait_for(dib["state"] / "child", timeout=120))

        def beats():
            return sorted(dest.glob(".img.heartbeat-*"))

        assert fake.wait_gone(lambda: beats() and beats()[0].read_text().strip(), 60), "no heartbeat over SSH"
        async_result = pathlib.Path(beats()[0].read_text().strip())
        assert async_result.parent == home / ".ansible_async"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        killed = time.monotonic()
        assert fake.wait_gone(lambda: not fake.alive(child), 60), "the build went on without its controller"
        stopped = time.monotonic() - killed
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    print(f"remote build stopped {stopped:.0f} s after the playbook was killed")
    # 3 polls of 2 s are less than the silence always allowed (MIN_SILENCE, 30 s), then the cleanup.
    assert stopped < 60
    assert fake.wait_gone(lambda: fake.leftovers(str(dest)) == [] and not beats(), 30), os.listdir(dest)
    note = json.loads((dest / "img.abandoned.json").read_text())
    assert (note["cause"], note["phase"]) == ("controller gone", "install.d")
    assert fake.wait_gone(lambda: not async_result.exists(), 30), f"{async_result} was left behind"
    with open(dest / ".img.lock") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
