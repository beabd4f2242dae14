#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How long after the dib_image module's end does its task end?

The action plugin starts the module under async_wrapper and polls it; a build
that ends between two polls is noticed only at the next one. This measures
that delay on localhost, for the checkout it runs from (run it on two
checkouts to compare them side by side):

- module end: the moment async_wrapper replaced its "started" record in the
  job's results file with the module's result (a thread watches a private
  async folder, ``ANSIBLE_ASYNC_DIR``, every 10 ms);
- task end: ``v2_runner_on_ok``/``v2_runner_on_failed`` of the dib_image task,
  from a small callback plugin written into the work folder.

It also prints the longest gap between two heartbeats it saw (the
heartbeat file's modification times, looked at every 10 ms), which must not
exceed the poll interval by more than a round trip.

``--fake N`` (default 6): N forced builds with the stand-in
``disk-image-create`` of the unit tests (seconds each; the build's length
varies so that it ends at different points of the poll cycle).
``--real``: a cold build of the plain Debian 12 image (``debian-12-base``) with
``playbooks/build_guest.yml``, then a no-op rerun (no async job: the task's
own duration is printed). ``--commands`` also counts the commands the plugin
runs on the build host during the task (from ``-vvv`` output); ``--ssh`` runs
the fake builds over SSH (an sshd of its own on 127.0.0.1, this user, a key of
its own), ``--become`` with ``become: true``.

    .venv/bin/python bench/bench_poll_latency.py [--fake N] [--real] [--interval S] [--commands]
        [--ssh] [--become] [--workdir DIR]
"""

import argparse
import getpass
import importlib.util
import json
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from fixtures import build as build_fixtures  # noqa: E402
from lib.sshd import own_user_sshd  # noqa: E402

CALLBACK = '''\
import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "dib_task_times"
    CALLBACK_NEEDS_ENABLED = True

    def _record(self, event, task):
        if not str(task.action).endswith("dib_image"):
            return
        with open(os.environ["DIB_TASK_TIMES_FILE"], "a") as out:
            out.write(json.dumps({"event": event, "time": time.time(), "task": task.get_name()}) + "\\n")

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._record("start", task)

    def v2_runner_on_ok(self, result):
        self._record("end", result._task)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record("end", result._task)
'''
_JOB = re.compile(r"^j\d+\.\d+$")


class JobWatcher(threading.Thread):
    """Notes when each async job's results file first holds the module's result, and each heartbeat."""

    def __init__(self, folder: pathlib.Path, dest: pathlib.Path):
        super().__init__(daemon=True)
        self.folder = folder
        self.dest = dest
        self.finished: dict[str, float] = {}
        self.beats: list[float] = []
        self.halt = threading.Event()

    def _beat(self):
        for path in self.dest.glob(".*.heartbeat-*") if self.dest.is_dir() else ():
            try:
                when = path.stat().st_mtime
            except OSError:
                continue
            if not self.beats or when > self.beats[-1]:
                self.beats.append(when)

    def longest_beat_gap(self) -> float | None:
        gaps = [later - earlier for earlier, later in zip(self.beats[:-1], self.beats[1:], strict=True)]
        return max(gaps) if gaps else None

    def run(self):
        while not self.halt.is_set():
            self._beat()
            for entry in os.scandir(self.folder) if self.folder.is_dir() else ():
                if entry.name in self.finished or not _JOB.match(entry.name):
                    continue
                try:
                    with open(entry.path, encoding="utf-8") as handle:
                        head = handle.read(16)
                except OSError:
                    continue
                if head and not head.startswith('{"started"'):
                    self.finished[entry.name] = time.time()
            time.sleep(0.01)


def _env(workdir: pathlib.Path) -> dict:
    env = build_fixtures.playbook_env()
    callbacks = workdir / "callback_plugins"
    callbacks.mkdir(exist_ok=True)
    (callbacks / "dib_task_times.py").write_text(CALLBACK)
    env["ANSIBLE_CALLBACK_PLUGINS"] = str(callbacks)
    env["ANSIBLE_CALLBACKS_ENABLED"] = "dib_task_times"
    env["ANSIBLE_ASYNC_DIR"] = str(workdir / "async")
    return env


def _measured(env, workdir: pathlib.Path, label: str, argv: list, commands: bool, dest: pathlib.Path) -> dict:
    """Run one playbook; the dib_image task's duration and the delay after the module's end."""
    times = workdir / f"times-{label}.jsonl"
    if times.exists():
        times.unlink()
    env = dict(env, DIB_TASK_TIMES_FILE=str(times))
    watcher = JobWatcher(workdir / "async", dest)
    watcher.start()
    argv = argv + (["-vvv"] if commands else [])
    proc = subprocess.run(argv, env=env, cwd=str(REPO), capture_output=True, text=True, check=False)
    watcher.halt.set()
    watcher.join()
    if proc.returncode != 0:
        sys.exit(f"{label}: the playbook failed (rc {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    events = [json.loads(line) for line in times.read_text().splitlines()]
    start = next(e["time"] for e in events if e["event"] == "start")
    end = next(e["time"] for e in events if e["event"] == "end")
    row = {"label": label, "task_s": round(end - start, 2)}
    if watcher.finished:
        row["after_module_end_s"] = round(end - max(watcher.finished.values()), 2)
    gap = watcher.longest_beat_gap()
    if gap is not None:
        row["beats"] = len(watcher.beats)
        row["longest_beat_gap_s"] = round(gap, 2)
    if commands:
        task = next(e["task"] for e in events if e["event"] == "start")
        sections = [part for part in proc.stdout.split("\nTASK [") if part.partition("\n")[0].find(task) >= 0]
        row["commands"] = sum(len(re.findall(r"^<[^>]+> (?:SSH: )?EXEC ", part, re.MULTILINE)) for part in sections)
    print(json.dumps(row), flush=True)
    return row


def ssh_host(workdir: pathlib.Path):
    """A throw-away sshd on 127.0.0.1 that lets this user in with a key of its own: (port, key)."""
    return own_user_sshd(str(workdir / "sshd"))


def bench_fake(env, workdir: pathlib.Path, count: int, interval: float, commands: bool, connection: str = "local",
               become: bool = False) -> list:
    if connection == "ssh":
        with ssh_host(workdir) as (port, key):
            host_vars = (f"ansible_host=127.0.0.1 ansible_port={port} ansible_user={getpass.getuser()}"
                         f" ansible_ssh_private_key_file={key}")
            env = dict(env, ANSIBLE_HOST_KEY_CHECKING="False")
            return _bench_fake(env, workdir, count, interval, commands, host_vars, become)
    return _bench_fake(env, workdir, count, interval, commands, "ansible_connection=local", become)


def _bench_fake(env, workdir, count, interval, commands, host_vars, become) -> list:
    sys.path.insert(0, env["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0])
    spec = importlib.util.spec_from_file_location(
        "fake_dib", REPO / "tests" / "unit" / "plugins" / "modules" / "test_dib_image.py")
    fake = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fake)
    root = workdir / "fake"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir()
    dib = fake.make_fake_dib(root)
    rows = []
    for index in range(count):
        # 10 log lines of STEP seconds each: builds of about 17 to 27 s, past the first quick polls
        # (1, 2, 4, 8 s), ending anywhere in a poll cycle.
        step = 1.5 + 1.0 * ((index * 0.37) % 1.0)
        params = fake.params(dib, root / "out", environment={"DIB_RELEASE": "bookworm", "FAKE_DIB_STEP": str(step)},
                             force=True)
        params = {k: v for k, v in params.items() if v not in (None, [], {}) or k == "environment"}
        play = root / "site.yml"
        play.write_text(f"- hosts: builder\n  gather_facts: false\n  become: {become}\n  tasks:\n" + textwrap.indent(
            f"- name: Build\n  dbaas.guest_images.dib_image: {json.dumps(params)}\n", "    "))
        inventory = root / "inventory.ini"
        inventory.write_text(f"builder {host_vars} ansible_python_interpreter={sys.executable}\n")
        argv = ["ansible-playbook", "-i", str(inventory), str(play), "-e", f"dib_image_poll_interval={interval}"]
        rows.append(_measured(env, workdir, f"fake-{index}", argv, commands, root / "out"))
    return rows


def bench_real(env, workdir: pathlib.Path, interval: float | None, commands: bool) -> list:
    out = workdir / "real-out"
    shutil.rmtree(out, ignore_errors=True)
    cache = workdir / "real-cache"
    cache.mkdir(exist_ok=True)
    extra_vars = build_fixtures.base_image_vars(out, cache)
    if interval is not None:
        extra_vars["dib_image_poll_interval"] = interval
    vars_file = build_fixtures.write_vars(extra_vars, workdir)
    argv = build_fixtures.playbook_argv("build_guest.yml", vars_file)
    return [_measured(env, workdir, "real-cold", argv, commands, out),
            _measured(env, workdir, "real-noop", argv, commands, out)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--fake", type=int, default=6, help="forced builds with the stand-in DIB (0: none)")
    parser.add_argument("--real", action="store_true", help="also a real cold build and its no-op rerun")
    parser.add_argument("--interval", type=float, help="dib_image_poll_interval (default: the plugin's default)")
    parser.add_argument("--commands", action="store_true", help="count build-host commands (runs with -vvv)")
    parser.add_argument("--ssh", action="store_true", help="fake builds over SSH (an sshd on 127.0.0.1)")
    parser.add_argument("--become", action="store_true", help="fake builds with become (sudo)")
    parser.add_argument("--workdir", help="work folder (default: a new temporary folder, removed at the end)")
    args = parser.parse_args()
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="bench-poll-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = _env(workdir)
    load = os.getloadavg()[0]
    rows = []
    try:
        if args.fake:
            rows += bench_fake(env, workdir, args.fake, 10.0 if args.interval is None else args.interval,
                               args.commands, "ssh" if args.ssh else "local", args.become)
        if args.real:
            rows += bench_real(env, workdir, args.interval, args.commands)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    delays = [row["after_module_end_s"] for row in rows if "after_module_end_s" in row]
    if delays:
        print(f"task end after module end: median {statistics.median(delays):.2f} s, max {max(delays):.2f} s,"
              f" min {min(delays):.2f} s ({len(delays)} builds)")
    print(f"load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end ({os.cpu_count()} cores)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
