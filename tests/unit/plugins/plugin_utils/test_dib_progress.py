# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The long poll of dib_image's action plugin: the command it runs on the build host, and its reply.

The command is run by the real /bin/sh (what Ansible runs it with) against
files laid out like async_wrapper's; the reply parser gets real replies and
the damaged ones a connection can bring.
"""

import json
import os
import random
import subprocess
import sys
import threading
import time

import pytest

from ansible_collections.dbaas.guest_images.plugins.plugin_utils import _dib_progress as progress

STATE = {"name": "img", "phase": "install.d", "hook": "50-fake", "started_at": 1000.0, "pid": 4242}


def started_record(jid, legacy=False):
    """async_wrapper's first record (ansible-core 2.19 writes true/false, older ones 1/0)."""
    flags = (1, 0) if legacy else (True, False)
    return json.dumps({"started": flags[0], "finished": flags[1], "ansible_job_id": jid})


def finish(path, record):
    """Replace the record the way async_wrapper does (write aside, rename)."""
    with open(f"{path}.tmp", "w") as out:
        out.write(json.dumps(record))
    os.rename(f"{path}.tmp", path)


@pytest.fixture
def job(tmp_path):
    """A job id no process on this machine has, its results file, heartbeat and progress file."""
    jid = f"j{random.randint(10**11, 10**12 - 1)}.{os.getpid()}"
    folder = tmp_path / "async dir's"  # a space and a quote: every path is quoted
    folder.mkdir()
    dest = tmp_path / "out"
    dest.mkdir()
    files = {
        "jid": jid,
        "results": folder / jid,
        "beat": dest / ".img.heartbeat-0123abcd",
        "progress": dest / ".img.progress.json",
    }
    files["results"].write_text(started_record(jid))
    files["beat"].write_text("")
    files["progress"].write_text(json.dumps(STATE))
    return files


def run_poll(job, ticks, **over):
    args = dict(beat_file=str(job["beat"]), progress_file=str(job["progress"]), results_file=str(job["results"]))
    args.update(over)
    command = progress.poll_command(str(job["results"]), job["jid"], ticks, **args)
    began = time.monotonic()
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=60, check=False)
    took = time.monotonic() - began
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    return progress.parse_poll_reply(proc.stdout), took


def test_running_job_waits_its_ticks_and_beats(job):
    os.utime(job["beat"], (1000, 1000))
    reply, took = run_poll(job, ticks=5)
    assert (reply.job, reply.ticks, reply.state) == ("running", 5, STATE)
    assert 5 * progress.POLL_TICK <= took < 5 * progress.POLL_TICK + 2
    # The beat: fresh, and naming the results file for the module to discard if it must stop.
    assert job["beat"].stat().st_mtime > 1000
    assert job["beat"].read_text() == f"{job['results']}\n"
    # No process of this job id exists: async_wrapper is gone.
    assert reply.wrapper == "gone"


def test_the_legacy_started_record_is_running_too(job):
    job["results"].write_text(started_record(job["jid"], legacy=True))
    reply, _took = run_poll(job, ticks=1)
    assert reply.job == "running"


def test_an_end_during_the_wait_is_seen_within_a_tick(job):
    ended = {}

    def end_later():
        time.sleep(1.0)
        finish(job["results"], {"changed": True, "built": True, "images": []})
        ended["at"] = time.monotonic()

    writer = threading.Thread(target=end_later)
    writer.start()
    try:
        reply, _took = run_poll(job, ticks=50)  # up to 10 s
        seen = time.monotonic()
    finally:
        writer.join()
    assert reply.job == "finished"
    assert seen - ended["at"] < 0.5
    assert 4 <= reply.ticks < 10
    # The job is over: its heartbeat goes with it; the wrapper is not asked about.
    assert not job["beat"].exists()
    assert reply.wrapper == "unknown"


def test_a_failure_record_is_finished(job):
    finish(job["results"], {"failed": True, "msg": "boom", "ansible_job_id": job["jid"]})
    reply, took = run_poll(job, ticks=50)
    assert (reply.job, reply.ticks) == ("finished", 0) and took < 2


def test_missing_results_file_answers_at_once_and_keeps_the_beat(job):
    job["results"].unlink()
    reply, took = run_poll(job, ticks=50)
    assert (reply.job, reply.ticks) == ("missing", 0) and took < 2
    assert job["beat"].exists()


def test_a_beat_file_the_module_removed_is_not_made_anew(job):
    job["beat"].unlink()
    reply, _took = run_poll(job, ticks=1)
    assert reply.job == "running"
    assert not job["beat"].exists()


def test_no_progress_file_yet(job):
    job["progress"].unlink()
    reply, _took = run_poll(job, ticks=1)
    assert reply.job == "running" and reply.state is None
    reply, _took = run_poll(job, ticks=1, beat_file=None, progress_file=None)
    assert reply.job == "running" and reply.state is None


def test_a_live_wrapper_is_seen_and_the_poll_itself_does_not_count(job):
    # The poll's own command line holds the results file's path (and so the job id): only a
    # process that really carries the job id may count as its async_wrapper.
    assert run_poll(job, ticks=1)[0].wrapper == "gone"
    wrapper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", job["jid"], "600"])
    try:
        reply, _took = run_poll(job, ticks=1)
    finally:
        wrapper.kill()
        wrapper.wait()
    assert reply.wrapper == "alive"


def test_the_job_id_is_never_written_out_in_the_command(job):
    command = progress.poll_command(str(job["results"]), job["jid"], 3, str(job["beat"]), str(job["progress"]),
                                    str(job["results"]))
    assert job["jid"].split(".")[0] not in command


def test_home_relative_results_file(tmp_path):
    jid = "j555000111222.1"
    home = tmp_path / "home"
    (home / ".ansible_async").mkdir(parents=True)
    finish(home / ".ansible_async" / jid, {"changed": False})
    command = progress.poll_command(f"~/.ansible_async/{jid}", jid, 5)
    proc = subprocess.run(["/bin/sh", "-c", command], capture_output=True, text=True, timeout=30, check=False,
                          env=dict(os.environ, HOME=str(home)))
    assert progress.parse_poll_reply(proc.stdout).job == "finished"


def reply_text(job="running", wrapper="alive", ticks="5", state="", newline="\n"):
    """A reply as poll_command prints it; ``state``: the progress file's text ("": STATE, None: no file)."""
    state = STATE if state == "" else state
    body = ["#dib_image-poll progress"]
    if state is not None:
        body.append(state if isinstance(state, str) else json.dumps(state))
    body += ["", f"#dib_image-poll job {job} {wrapper} {ticks}", ""]
    return newline.join(body)


@pytest.mark.parametrize("newline", ["\n", "\r\n"])  # \r\n: a become method that needs a terminal
def test_parse_reply(newline):
    reply = progress.parse_poll_reply("BECOME-SUCCESS-abc" + newline + reply_text(newline=newline))
    assert reply == progress.PollReply("running", "alive", 5, STATE)


def test_parse_reply_states():
    assert progress.parse_poll_reply(reply_text("finished", "unknown", "0")).job == "finished"
    assert progress.parse_poll_reply(reply_text("missing", "unknown", "0")).job == "missing"
    assert progress.parse_poll_reply(reply_text(wrapper="gone")).wrapper == "gone"
    assert progress.parse_poll_reply(reply_text(wrapper="odd")).wrapper == "unknown"
    assert progress.parse_poll_reply(reply_text(state=None)).state is None
    # A progress file caught half written, or not the module's, is no state.
    assert progress.parse_poll_reply(reply_text(state='{"phase": "inst')).state is None
    assert progress.parse_poll_reply(reply_text(state='{"other": 1}')).state is None


@pytest.mark.parametrize("stdout", [
    "",
    "sh: 1: Syntax error\n",
    reply_text(job="sleeping"),
    reply_text(ticks="x"),
    "#dib_image-poll progress\n{}\n#dib_image-poll job running\n",
])
def test_no_reply_to_trust(stdout):
    assert progress.parse_poll_reply(stdout) == progress.PollReply("unknown")


def test_poll_ticks_keep_a_beat_within_the_wait():
    assert progress.poll_ticks(10.0, 0.0) == 50
    assert progress.poll_ticks(10.0, 0.5) == 47
    assert progress.poll_ticks(1.0, 0.0) == 5
    # A round trip longer than the wait: still one look after the first.
    assert progress.poll_ticks(0.5, 2.0) == 1
    assert progress.poll_ticks(2.0, -0.3) == 10
