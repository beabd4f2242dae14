# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-image lock, exercised across real processes."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.lock import ImageLock, LockTimeout, cache_lock

HOLDER = textwrap.dedent(
    """
    import sys, time
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.lock import ImageLock
    lock = ImageLock(sys.argv[1], sys.argv[2], timeout=30)
    lock.acquire()
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
    lock.release()
    """
)


def start_holder(dest, name, hold):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(dest), name, str(hold)], stdout=subprocess.PIPE, env=env, text=True
    )
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_times_out_naming_holder(tmp_path):
    holder = start_holder(tmp_path, "img", 30)
    try:
        lock = ImageLock(str(tmp_path), "img", timeout=1, poll=0.1)
        started = time.monotonic()
        with pytest.raises(LockTimeout) as err:
            lock.acquire()
        assert time.monotonic() - started >= 1
        message = str(err.value)
        assert "image 'img'" in message
        assert f"PID {holder.pid}" in message
        assert str(tmp_path / ".img.lock") in message
        assert err.value.holder_pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_waits_for_holder_to_finish(tmp_path):
    holder = start_holder(tmp_path, "img", 1.5)
    lock = ImageLock(str(tmp_path), "img", timeout=30, poll=0.1)
    lock.acquire()
    try:
        assert lock.waited > 0.5
        assert (tmp_path / ".img.lock").read_text().strip() == str(os.getpid())
    finally:
        lock.release()
    holder.wait()


def test_killed_holder_frees_the_lock(tmp_path):
    holder = start_holder(tmp_path, "img", 60)
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with ImageLock(str(tmp_path), "img", timeout=5, poll=0.1) as lock:
        assert lock.fd is not None


def test_other_images_do_not_block(tmp_path):
    holder = start_holder(tmp_path, "one", 30)
    try:
        with ImageLock(str(tmp_path), "two", timeout=0, poll=0.1):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_builds_sharing_a_cache_wait_and_the_message_names_the_cache(tmp_path):
    holder = start_holder(tmp_path, "dbaas-guest-images-cache", 30)
    try:
        lock = cache_lock(str(tmp_path), timeout=0.5)
        with pytest.raises(LockTimeout) as err:
            lock.acquire()
        message = str(err.value)
        assert f"DIB image cache '{tmp_path}'" in message
        assert f"PID {holder.pid}" in message
        assert "cache_dir" in message
    finally:
        holder.kill()
        holder.wait()
    other = cache_lock(str(tmp_path), timeout=5)
    other.acquire()
    other.release()
