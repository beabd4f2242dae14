# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running ``dbaas.guest_images.dib_image`` from the controller with progress lines.

PRIVATE to the collection, controller only: no compatibility promise outside it.

A DIB build takes minutes.  The module is started asynchronously and
polled; the module's progress file is read and a line printed when the
phase changes or at least once a minute::

    [dib_image debian-12] install.d 05:12 elapsed, running 50-trove-guest-agent

Each poll is a long poll, ONE command on the build host
(:func:`poll_command`): it refreshes the build's heartbeat file, then waits
up to ``dib_image_poll_interval`` seconds (a variable, default 10; the first
polls wait less) for the async job's results file to hold the module's
result, checking every :data:`POLL_TICK` seconds, and answers with the
progress file and the job's state (:func:`parse_poll_reply`).  So the end of
a build is seen within a fraction of a second, and ``async_status`` runs
only to collect the result of a job that has ended (or when a poll got no
reply to trust); the results file and the heartbeat then go in one ``rm``.

The heartbeat (:mod:`module_utils._dib.heartbeat`): async_wrapper runs the
module in a session of its own, so when the controller is killed (a
cancelled AWX job, a lost SSH session) only the missing heartbeat tells
the build host; after ``dib_image_heartbeat_misses`` poll intervals
(default 3) without one, the build stops itself and cleans up.  A poll
beats when it starts and waits no longer than the interval minus the
last poll's own round trip, so a beat comes at least every interval.  The
polling runs in an Ansible worker process, which has a session of its own
too and outlives a killed ``ansible-playbook``: it stops polling (and so
beating) as soon as the process that started it is gone.

Before that, a quick check-mode run of the module (the probe) asks whether
DIB must run at all: an unchanged image, or input the module refuses, is
answered at once without the cost of an async start and its polling.  In
check mode, or when the task is itself ``async``, the module runs the
ordinary way.  A job whose async_wrapper is gone without a result (killed
with its process group) is reported as such, not waited for.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shlex
import time
from collections.abc import Callable
from typing import Any

from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.abandoned import note_path, summary
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.heartbeat import heartbeat_path
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.progress import (
    format_line,
    progress_path,
    read_state,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import option_default
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._dib_staging import remote_home_path

display = Display()

DEFAULT_POLL_INTERVAL = 10.0
REPORT_EVERY = 60
# Seconds async_wrapper lets the module run beyond its own timeout and lock wait.
ASYNC_MARGIN = 600
# Keys async_status adds around the module's own result.
ASYNC_KEYS = ("ansible_job_id", "started", "finished", "results_file", "stdout", "stderr", "stdout_lines",
              "stderr_lines", "erased")


# Seconds between two looks at the job's results file during a poll (POSIX sh: sleep 0.2).
POLL_TICK = 0.2
_MARK = "#dib_image-poll"
# async_wrapper's record of a job that runs: {"started": 1, "finished": 0, ...} (true/false since 2.19).
_RUNNING_RECORD = '{"started"'


@dataclasses.dataclass(frozen=True)
class PollReply:
    """What one poll found on the build host.

    ``job``: ``running``, ``finished`` (the results file holds the module's
    result), ``missing`` (no results file) or ``unknown`` (no reply to trust);
    ``wrapper``: ``alive``, ``gone`` (no async_wrapper process of the job) or
    ``unknown`` (not asked, or no pgrep); ``ticks``: how many
    :data:`POLL_TICK` the poll waited; ``state``: the progress file's state.
    """

    job: str
    wrapper: str = "unknown"
    ticks: int = 0
    state: dict[str, Any] | None = None


@dataclasses.dataclass
class Job:
    """A build started under async_wrapper, as the polls see it (see :meth:`ModuleRun.start`)."""

    name: str
    dest: str
    jid: str
    results_file: str
    job_file: str
    status_file: str | None
    beat_file: str | None
    status_args: dict[str, Any]
    cleanup_args: dict[str, Any]
    patience: float
    deadline: float
    wait: float
    overhead: float = 0.0
    last_phase: str | None = None
    last_report: float = 0.0
    dead_polls: int = 0


def _job_pattern(jid: str) -> str | None:
    """pgrep pattern of the job's async_wrapper processes (None for a job id of another form)."""
    # async_wrapper has the job id (before its ".pid" suffix) on its command line; the
    # bracket keeps the pattern from matching the shell that runs pgrep.
    job = jid.split(".", 1)[0]
    if not job[1:].isdigit():
        return None
    return f"[{job[0]}]{job[1:]}"


def _sh_word(text: str, jid: str) -> str:
    """``text`` as one sh word in which the job id never appears as written.

    The poll's own command line (its shell, sudo, an SSH client on the same
    machine) must not match the pgrep pattern that looks for the job's
    async_wrapper, so the word is quoted in two pieces split inside the id.
    A leading ``~/`` is left to the shell to expand.
    """
    prefix = ""
    if text.startswith("~/"):
        prefix, text = "~/", text[2:]
    job = jid.split(".", 1)[0]
    cut = text.find(job) + 1 if job else 0
    if cut <= 0:
        return prefix + shlex.quote(text)
    return prefix + _single_quoted(text[:cut]) + _single_quoted(text[cut:])


def _single_quoted(text: str) -> str:
    """Always quoted (shlex.quote leaves a plain word bare, and two bare words would join as written)."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def poll_command(job_file: str, jid: str, ticks: int, beat_file: str | None = None,
                 progress_file: str | None = None, results_file: str | None = None) -> str:
    """POSIX sh for one poll: beat, wait up to ``ticks`` ticks for the job to end, answer.

    The beat writes ``results_file`` into ``beat_file`` only when that file
    exists (the module made it; it is never made anew after the module
    removed it).  Once the job has finished the beat file goes with it.  The
    answer is parsed by :func:`parse_poll_reply`.
    """
    lines = [f"job={_sh_word(job_file, jid)}"]
    beat = shlex.quote(beat_file) if beat_file else None
    if beat:
        lines.append(f"[ -f {beat} ] && printf '%s\\n' {_sh_word(results_file or job_file, jid)} > {beat}")
    lines += [
        "n=0 s=running",
        "while :; do",
        '  if [ ! -f "$job" ]; then s=missing; break; fi',
        '  r=; IFS= read -r r 2>/dev/null < "$job"',
        f"  case $r in {shlex.quote(_RUNNING_RECORD)}*|'') ;; *) s=finished; break;; esac",
        f"  [ $n -ge {int(ticks)} ] && break",
        # A sleep without fractions (no such host seen) waits a second: five ticks.
        "  if sleep 0.2 2>/dev/null; then n=$((n+1)); else sleep 1; n=$((n+5)); fi",
        "done",
        "w=unknown",
    ]
    pattern = _job_pattern(jid)
    if pattern:
        lines.append(f"if [ $s = running ]; then pgrep -f {shlex.quote(pattern)} >/dev/null 2>&1;"
                     " case $? in 0) w=alive;; 1) w=gone;; esac; fi")
    if beat:
        lines.append(f"[ $s = finished ] && rm -f {beat}")
    lines.append(f"printf '%s\\n' '{_MARK} progress'")
    if progress_file:
        lines.append(f"cat {shlex.quote(progress_file)} 2>/dev/null")
    lines.append(f"printf '\\n%s %s %s %s\\n' '{_MARK} job' \"$s\" \"$w\" \"$n\"")
    return "\n".join(lines)


def parse_poll_reply(stdout: str) -> PollReply:
    """The reply of :func:`poll_command`; ``job`` is ``unknown`` when there is none to trust."""
    lines = stdout.replace("\r\n", "\n").split("\n")
    job_lines = [index for index, line in enumerate(lines) if line.startswith(f"{_MARK} job ")]
    if not job_lines:
        return PollReply("unknown")
    end = job_lines[-1]
    words = lines[end].split()[2:]
    if len(words) != 3 or words[0] not in ("running", "finished", "missing") or not words[2].isdigit():
        return PollReply("unknown")
    starts = [index for index in range(end) if lines[index] == f"{_MARK} progress"]
    text = "\n".join(lines[starts[-1] + 1:end]).strip() if starts else ""
    wrapper = words[1] if words[1] in ("alive", "gone") else "unknown"
    return PollReply(words[0], wrapper, int(words[2]), read_state(text) if text else None)


def poll_ticks(wait: float, overhead: float) -> int:
    """Ticks a poll may wait so that it ends ``wait`` seconds after it started (at least one)."""
    return max(1, int((wait - max(0.0, overhead)) / POLL_TICK + 1e-9))


def should_report(state: dict[str, Any], last_phase: str | None, last_report: float, now: float) -> bool:
    """Print on every phase change, and at least every REPORT_EVERY seconds."""
    return state.get("phase") != last_phase or now - last_report >= REPORT_EVERY


def warning_text(warning: Any) -> str:
    """The message of a module's warning: newer ansible-core hands them over as summaries of an event."""
    message = getattr(getattr(warning, "event", None), "msg", None)
    return message if isinstance(message, str) else str(warning)


def _int_option(args: dict[str, Any], option: str) -> int:
    value = args.get(option)
    return int(option_default(option) if value in (None, "") else value)


class ModuleRun:
    """The one way the action plugin runs the module for a task: plain, or async with progress."""

    def __init__(self, action: Any, module: str, task_vars: dict[str, Any]):
        self._action = action
        self._task = action._task
        self._module = module
        self._task_vars = task_vars
        # The worker's parent is the ansible-playbook process; when it dies the worker is re-parented.
        self._controller = os.getppid()
        # Warnings of module runs whose results are not handed back as they are (the probes of ask_all).
        self.warnings: list[str] = []

    def controller_gone(self) -> bool:
        """True once the ansible-playbook process that started this worker is gone."""
        return os.getppid() != self._controller

    def _execute(self, module: str, args: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._action._execute_module(
            module_name=module, module_args=args, task_vars=self._task_vars, **kwargs
        )
        return result

    def execute(self, args: dict[str, Any]) -> dict[str, Any]:
        """The module's result for ``args`` (build-host paths already)."""
        answer = self.answer_first(args)
        if answer is not None:
            return answer
        return _own_changed(self.run_with_progress(args, *self._poll_settings()))

    def answer_first(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """The result when no polled build is needed (plain run, or the probe's answer); None: DIB must run."""
        connection = self._action._connection
        if self._task.async_val:
            # The task asked for async itself: the task executor polls, as for any module.
            return self._execute(self._module, args, wrap_async=not connection.has_native_async)
        if self._task.check_mode or connection.has_native_async:
            return self._execute(self._module, args)
        if not args.get("force"):
            # An unchanged image (or bad input) is answered in a fraction of a second by a
            # check-mode run; the async start and its polling are paid only when DIB must run.
            probe = self.probe(args)
            if probe.get("failed"):
                return probe
            if not probe.get("changed"):
                # Nothing to build; a note of an abandoned build is consumed only by a real run.
                return self._execute(self._module, args) if probe.get("previous_build") else probe
        return None

    def ask_all(self, builds: list[dict[str, Any]], batch_module: str | None = None) -> list[dict[str, Any] | None]:
        """:meth:`answer_first` for every build; with ``batch_module`` the probes are ONE check-mode run of it.

        One module run on the build host instead of one per image: a no-op rerun of a large matrix
        costs about what one image costs. Its warnings are kept in :attr:`warnings`.
        """
        connection = self._action._connection
        if not batch_module or self._task.async_val or connection.has_native_async:
            return [self.answer_first(args) for args in builds]
        check_mode = self._task.check_mode
        asked = [index for index, args in enumerate(builds) if check_mode or not args.get("force")]
        answers: list[dict[str, Any] | None] = [None] * len(builds)
        if not asked:
            return answers
        self._task.check_mode = True
        try:
            probe = self._execute(batch_module, {"builds": [builds[index] for index in asked]})
        finally:
            self._task.check_mode = check_mode
        found = probe.get("results")
        if probe.get("failed") or not isinstance(found, list) or len(found) != len(asked):
            # Refused as a whole (the controller checked the same options): each build says why on its own.
            return [self.answer_first(args) for args in builds]
        self.warnings.extend(warning_text(warning) for warning in probe.get("warnings") or [])
        for index, result in zip(asked, found, strict=True):
            if check_mode or result.get("failed"):
                answers[index] = result
            elif not result.get("changed"):
                # Nothing to build; a note of an abandoned build is consumed only by a real run.
                answers[index] = self._execute(self._module, builds[index]) if result.get("previous_build") else result
        return answers

    def _poll_settings(self) -> tuple[float, int]:
        interval = float(self._task_vars.get("dib_image_poll_interval", DEFAULT_POLL_INTERVAL))
        misses = int(self._task_vars.get("dib_image_heartbeat_misses", option_default("heartbeat_misses")))
        return interval, misses

    def execute_many(
        self,
        builds: list[dict[str, Any]],
        at_once: int = 1,
        fail_fast: bool = False,
        for_slot: Callable[[dict[str, Any], int], dict[str, Any]] | None = None,
        batch_module: str | None = None,
    ) -> list[dict[str, Any]]:
        """The results of several builds on this host, in their order; at most ``at_once`` DIB runs at a time.

        Every build is asked first (:meth:`answer_first`), so bad input and unchanged images are
        answered before any DIB starts. The builds that must run then go, in order, into the first
        free build slot (1 .. ``at_once``); ``for_slot(args, slot)`` gives a build its slot's options
        (its own DIB cache). The running jobs are polled in turns, each poll waiting at most the poll
        interval divided by the number of running jobs, so every job still beats once an interval.
        With ``fail_fast`` no build starts after one failed (those are answered as not started).
        ``batch_module`` (``dib_images``) asks all builds in one module run (:meth:`ask_all`).
        """
        results = self.ask_all(builds, batch_module)
        queue = [index for index, result in enumerate(results) if result is None]
        interval, misses = self._poll_settings()
        free = list(range(1, max(1, at_once) + 1))
        running: dict[int, tuple[Job, int]] = {}
        failed_name: str | None = None

        def finish(index: int, result: dict[str, Any], slot: int) -> None:
            nonlocal failed_name
            result = _own_changed(result)
            if at_once > 1:
                result["slot"] = slot
            results[index] = result
            if result.get("failed") and failed_name is None:
                failed_name = str(builds[index].get("name", "?"))

        while queue or running:
            while queue and free and not (fail_fast and failed_name):
                index, slot = queue.pop(0), free.pop(0)
                args = for_slot(builds[index], slot) if for_slot else builds[index]
                job = self.start(args, interval, misses)
                if isinstance(job, dict):
                    finish(index, job, slot)
                    free = sorted(free + [slot])
                else:
                    running[index] = (job, slot)
            if fail_fast and failed_name:
                for index in queue:
                    results[index] = {"failed": True, "changed": False, "msg": f"dib_image: not started: the build"
                                      f" of {failed_name} failed first (fail_fast)"}
                queue = []
            share = interval / max(1, len(running))
            for index, (job, slot) in list(running.items()):
                result = self.poll(job, interval, longest=share)
                if result is not None:
                    del running[index]
                    free = sorted(free + [slot])
                    finish(index, result, slot)
        return [result or {} for result in results]

    def probe(self, args: dict[str, Any]) -> dict[str, Any]:
        """Run the module in check mode: would it build?"""
        check_mode = self._task.check_mode
        self._task.check_mode = True
        try:
            return self._execute(self._module, args)
        finally:
            self._task.check_mode = check_mode

    def _read_progress(self, path: str) -> dict[str, Any] | None:
        """The build's progress file."""
        result = self._action._low_level_execute_command(f"cat {shlex.quote(path)}", sudoable=True)
        if result.get("rc") != 0:
            return None
        return read_state(to_text(result.get("stdout", "")))

    def _shell(self, command: str) -> None:
        self._action._low_level_execute_command(command, sudoable=True)

    def _poll(self, command: str) -> PollReply:
        """One long poll on the build host (see :func:`poll_command`)."""
        result = self._action._low_level_execute_command(command, sudoable=True)
        if result.get("rc") != 0:
            return PollReply("unknown")
        return parse_poll_reply(to_text(result.get("stdout", "")))

    def _forget(self, results_file: str, cleanup_args: dict[str, Any] | None, beat_file: str | None) -> None:
        """Remove what is left of an ended job: its results file and the heartbeat, in one command.

        With the results file's path (async_wrapper gives it at the start) that is
        what async_status's cleanup does, without a module run; without it,
        async_status cleans up (``cleanup_args``; None: no results file to clean up).
        """
        if cleanup_args and not results_file:
            self._execute("ansible.legacy.async_status", cleanup_args)
        files = [path for path in (results_file if cleanup_args else None, beat_file) if path]
        if files:
            self._shell("rm -f " + " ".join(shlex.quote(path) for path in files))

    def run_with_progress(self, args: dict[str, Any], interval: float, misses: int = 3) -> dict[str, Any]:
        """Start the module under async_wrapper and poll it, printing progress lines, until it ends."""
        job = self.start(args, interval, misses)
        if isinstance(job, dict):
            return job
        while True:
            result = self.poll(job, interval)
            if result is not None:
                return result

    def start(self, args: dict[str, Any], interval: float, misses: int = 3) -> Job | dict[str, Any]:
        """Start the module under async_wrapper: the job to :meth:`poll`, or the result of a start that failed."""
        # async_wrapper kills the module after this; the module's own timeout should act first.
        async_limit = _int_option(args, "timeout") + _int_option(args, "lock_timeout") + ASYNC_MARGIN
        name = args.get("name", "?")
        dest = args.get("dest") or ""
        if dest.startswith("~"):
            dest = remote_home_path(self._action, dest)
        status_file = progress_path(dest, name) if os.path.isabs(dest) else None
        beat_file = heartbeat_path(dest, name, secrets.token_hex(8)) if status_file else None
        if beat_file:
            args = dict(args, heartbeat_path=beat_file, heartbeat_interval=interval, heartbeat_misses=misses)
        self._task.async_val = async_limit
        try:
            started = self._execute(self._module, args, wrap_async=True)
        finally:
            self._task.async_val = 0
        jid = started.get("ansible_job_id")
        if started.get("failed") or not jid:
            return started
        # At once, so that a job's events name every build, even one that ends before the first poll.
        host = self._task_vars.get("inventory_hostname", "?")
        display.display(f"[dib_image {name}] started on {host} (job {jid}); progress follows")
        # Unexpanded on purpose: async_status expands it in the same environment async_wrapper did.
        async_dir = self._action.get_shell_option("async_dir", default="~/.ansible_async")
        results_file = str(started.get("results_file") or "")
        status_args = {"jid": jid, "mode": "status", "_async_dir": async_dir}
        return Job(
            name=str(name), dest=dest, jid=str(jid), results_file=results_file,
            job_file=results_file or f"{async_dir.rstrip('/')}/{jid}", status_file=status_file, beat_file=beat_file,
            status_args=status_args, cleanup_args=dict(status_args, mode="cleanup"),
            patience=async_limit + 120, deadline=time.monotonic() + async_limit + 120,
            # Wait little at first (the first progress lines come soon), then up to the interval.
            wait=min(1.0, interval),
        )

    def poll(self, job: Job, interval: float, longest: float | None = None) -> dict[str, Any] | None:
        """One long poll of a started job, waiting at most ``longest`` seconds (default: the interval).

        Prints a progress line when due; answers None while the job runs, else the module's result.
        """
        if self.controller_gone():
            # Nobody will read a result: stop beating, so the build host stops the build.
            return {"failed": True, "msg": "dib_image: the ansible-playbook process is gone; the build stops"
                    " itself once its heartbeat is missed"}
        if time.monotonic() > job.deadline:
            return {"failed": True, "msg": f"dib_image: no result from the build host after {job.patience} s"
                    f" (job {job.jid})"}
        ticks = poll_ticks(min(job.wait, interval if longest is None else longest), job.overhead)
        began = time.monotonic()
        reply = self._poll(poll_command(job.job_file, job.jid, ticks, job.beat_file, job.status_file,
                                        job.results_file))
        took = time.monotonic() - began
        job.wait = min(job.wait * 2, interval)
        state = reply.state
        if reply.job != "unknown":
            # The round trip and the host's own work: the next poll waits that much less. A longer
            # one counts at once, a shorter one only by halves (a loaded host's jitter).
            job.overhead = max(took - reply.ticks * POLL_TICK, job.overhead / 2)
        if reply.job != "running":
            # Ended (or no reply to trust): async_status has the word.
            status = self._execute("ansible.legacy.async_status", job.status_args)
            if status.get("finished") or (status.get("failed") and not status.get("started", True)):
                return self._collect(job, reply, status)
            # It runs on after all: this poll's wait is still owed.
            time.sleep(max(0.0, ticks * POLL_TICK - took))
        now = time.time()
        if state and "started_at" in state and should_report(state, job.last_phase, job.last_report, now):
            display.display(format_line(job.name, state, now))
            job.last_phase, job.last_report = state.get("phase"), now
        if reply.job == "running" and reply.wrapper == "gone":
            # No async_wrapper process is left, yet it recorded no result: the job was killed
            # (SIGKILL to its process group). Give a late result one more poll to appear.
            job.dead_polls += 1
            if job.dead_polls >= 2:
                self._forget(job.results_file, job.cleanup_args, job.beat_file)
                return _died(state, job.dest, job.name)
        else:
            job.dead_polls = 0
        return None

    def _collect(self, job: Job, reply: PollReply, status: dict[str, Any]) -> dict[str, Any]:
        """The result of an ended job; what is left of it on the build host removed."""
        missing = bool(status.get("failed")) and (
            not status.get("started", True) or status.get("msg") == "could not find job" or reply.job == "missing")
        # The poll that saw the end removed the heartbeat already.
        self._forget(job.results_file, None if missing else job.cleanup_args,
                     None if reply.job == "finished" else job.beat_file)
        if missing and job.status_file:
            # No job any more: a build that stopped itself because this controller was silent for too
            # long discards its async result; its note says what happened.
            note = self._read_note(note_path(job.dest, job.name))
            if note:
                return {"failed": True, "msg": f"dib_image: {note['summary']}: {note.get('detail')}",
                        "previous_build": note, "abandoned": True}
        result = {k: v for k, v in status.items() if k not in ASYNC_KEYS}
        if _killed_under_its_wrapper(result):
            # The module's process group was killed but async_wrapper lived on and recorded the
            # module's empty output: the same event as a wrapper killed with it.
            return _died(self._read_progress(job.status_file) if job.status_file else None, job.dest, job.name)
        return result

    def _read_note(self, path: str) -> dict[str, Any] | None:
        result = self._action._low_level_execute_command(f"cat {shlex.quote(path)}", sudoable=True)
        if result.get("rc") != 0:
            return None
        try:
            note = json.loads(to_text(result.get("stdout", "")))
        except ValueError:
            return None
        if not isinstance(note, dict) or "cause" not in note:
            return None
        note["summary"] = summary(note)
        return note


def _own_changed(result: dict[str, Any]) -> dict[str, Any]:
    """async_wrapper marks every result changed; the module's own word counts."""
    if "built" in result:
        result["changed"] = bool(result.get("built"))
    return result


def _killed_under_its_wrapper(result: dict[str, Any]) -> bool:
    """async_wrapper's record of a module that printed nothing at all (it was killed before its result)."""
    return bool(result.get("failed")) and not str(result.get("data", "-")).strip() and \
        "No start of json char found" in str(result.get("msg", ""))


def _died(state: dict[str, Any] | None, dest: str, name: str) -> dict[str, Any]:
    pid = f" (PID {state['pid']})" if state and state.get("pid") else ""
    return {
        "failed": True,
        "msg": f"dib_image: the module process{pid} on the build host died without a result"
        f" (was it killed?); its guardian stops DIB and cleans up. DIB's log: "
        f"{os.path.join(dest, name + '.log')}",
    }
