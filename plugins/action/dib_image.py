# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``dbaas.guest_images.dib_image``.

Two things only the controller can do:

1. Ship files.  ``element_paths`` and ``inputs`` that exist on the
   controller are copied to the build host, into
   ``~/.cache/dbaas-guest-images/stage/<content sha256>/<name>``, and the
   module is called with those remote paths.  A folder whose content did
   not change is not copied again (the staging folder is named by its
   content hash).  With the ``local`` connection the paths are used as
   they are.
2. Show progress.  A DIB build takes minutes; the module is started
   asynchronously, and every ``dib_image_poll_interval`` seconds (a
   variable, default 10) the action reads the module's progress file and
   prints a line when the phase changes or at least once a minute::

       [dib_image debian-12] install.d 05:12 elapsed, running 50-trove-guest-agent

   Before that, a quick check-mode run of the module asks whether DIB
   must run at all: an unchanged image, or input the module refuses, is
   answered at once without the cost of an async start and its polling.
   In check mode, or when the task is itself ``async``, the module runs
   the ordinary way.

All real work is done by the module, which also works without this plugin.
"""

from __future__ import annotations

import os
import secrets
import shlex
import tarfile
import tempfile
import time

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.fingerprint import tree_sha256
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.progress import (
    format_line,
    progress_path,
    read_state,
)

display = Display()

MODULE = "dbaas.guest_images.dib_image"
STAGE_ROOT = "~/.cache/dbaas-guest-images/stage"
DEFAULT_POLL_INTERVAL = 10
REPORT_EVERY = 60
# Keys async_status adds around the module's own result.
_ASYNC_KEYS = ("ansible_job_id", "started", "finished", "results_file", "stdout", "stderr", "stdout_lines",
               "stderr_lines", "erased")


def should_report(state: dict, last_phase: str | None, last_report: float, now: float) -> bool:
    """Print on every phase change, and at least every REPORT_EVERY seconds."""
    return state.get("phase") != last_phase or now - last_report >= REPORT_EVERY


def pack(local_path: str, archive_path: str) -> None:
    """tar.gz of a file or folder under its own base name; modes and symlinks kept as they are."""
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(local_path, arcname=os.path.basename(local_path.rstrip(os.sep)), recursive=True)


def stage_command(archive: str, stage_dir: str) -> str:
    """Shell command that unpacks ``archive`` into ``stage_dir`` atomically and marks it complete."""
    part = f"{stage_dir}.part-{secrets.token_hex(4)}"
    return " && ".join(
        [
            f"mkdir -p {shlex.quote(part)}",
            f"tar -xzf {shlex.quote(archive)} -C {shlex.quote(part)}",
            f"touch {shlex.quote(part + '/.complete')}",
            f"rm -rf {shlex.quote(stage_dir)}",
            f"mv {shlex.quote(part)} {shlex.quote(stage_dir)}",
        ]
    )


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    # --- file shipping -------------------------------------------------------

    def _needs_shipping(self) -> bool:
        return getattr(self._connection, "transport", None) != "local"

    def _controller_path(self, path: str) -> str | None:
        """The controller-side path for ``path``, or None when it is not on the controller."""
        if not path:
            return None
        candidate = os.path.expanduser(path)
        if not os.path.isabs(candidate):
            candidate = self._loader.path_dwim(candidate)
        return candidate if os.path.exists(candidate) else None

    def _remote_ok(self, command: str) -> bool:
        return self._low_level_execute_command(command, sudoable=True).get("rc") == 0

    def _stage(self, path: str, stage_root: str) -> str:
        local = self._controller_path(path)
        if local is None:
            return path  # already a build-host path; the module validates it
        digest = tree_sha256(local)
        stage_dir = self._connection._shell.join_path(stage_root, digest)
        remote_path = self._connection._shell.join_path(stage_dir, os.path.basename(local.rstrip(os.sep)))
        if self._remote_ok("test -e {}".format(shlex.quote(stage_dir + "/.complete"))):
            display.vv(f"dib_image: {local} already staged at {remote_path}")
            return remote_path
        display.v(f"dib_image: shipping {local} to {remote_path}")
        if not self._connection._shell.tmpdir:
            self._make_tmp_path()
        remote_archive = self._connection._shell.join_path(self._connection._shell.tmpdir, f"stage-{digest}.tar.gz")
        fd, local_archive = tempfile.mkstemp(suffix=".tar.gz")
        os.close(fd)
        try:
            pack(local, local_archive)
            self._transfer_file(local_archive, remote_archive)
            self._fixup_perms2([remote_archive], execute=False)
        finally:
            os.unlink(local_archive)
        result = self._low_level_execute_command(stage_command(remote_archive, stage_dir), sudoable=True)
        if result.get("rc") != 0:
            raise AnsibleError("dib_image: could not stage {} on the build host at {}: {}".format(
                local, stage_dir, to_text(result.get("stderr") or result.get("stdout")).strip()))
        return remote_path

    def _remote_home_path(self, path: str) -> str:
        """Expand ``~`` the way the module's own process will see it (the become user's ``$HOME``)."""
        result = self._low_level_execute_command('echo "$HOME"', sudoable=True)
        home = to_text(result.get("stdout", "")).strip().splitlines()
        if result.get("rc") != 0 or not home or not home[-1].startswith("/"):
            raise AnsibleError("dib_image: cannot find the home folder on the build host to stage files in")
        return home[-1].rstrip("/") + path[1:]

    def _ship(self, args: dict) -> dict:
        stage_root = self._remote_home_path(STAGE_ROOT)
        args = dict(args)
        if args.get("element_paths"):
            args["element_paths"] = [self._stage(p, stage_root) for p in args["element_paths"]]
        if args.get("inputs"):
            args["inputs"] = {var: self._stage(p, stage_root) for var, p in args["inputs"].items()}
        return args

    # --- progress ----------------------------------------------------------------

    def _read_progress(self, path: str) -> dict | None:
        result = self._low_level_execute_command(f"cat {shlex.quote(path)}", sudoable=True)
        if result.get("rc") != 0:
            return None
        return read_state(to_text(result.get("stdout", "")))

    def _job_gone(self, jid: str) -> bool:
        """True when no async_wrapper process of this job is left on the build host."""
        # async_wrapper has the job id (before its ".pid" suffix) on its command line; the
        # bracket keeps the pattern from matching the shell that runs pgrep.
        job = jid.split(".", 1)[0]
        if not job[1:].isdigit():
            return False
        result = self._low_level_execute_command(f"pgrep -f '[{job[0]}]{job[1:]}'", sudoable=True)
        return result.get("rc") == 1  # 1: nothing matched; anything else (no pgrep...) proves nothing

    def _probe(self, args: dict, task_vars: dict) -> dict:
        """Run the module in check mode: would it build?"""
        check_mode = self._task.check_mode
        self._task.check_mode = True
        try:
            return self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars)
        finally:
            self._task.check_mode = check_mode

    def _run_with_progress(self, args: dict, task_vars: dict, interval: float) -> dict:
        timeout = int(args.get("timeout") or 3600)
        lock_timeout = int(args.get("lock_timeout") or 1800)
        # async_wrapper kills the module after this; the module's own timeout should act first.
        async_limit = timeout + lock_timeout + 600
        self._task.async_val = async_limit
        try:
            started = self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars, wrap_async=True)
        finally:
            self._task.async_val = 0
        jid = started.get("ansible_job_id")
        if started.get("failed") or not jid:
            return started
        # Unexpanded on purpose: async_status expands it in the same environment async_wrapper did.
        async_dir = self.get_shell_option("async_dir", default="~/.ansible_async")
        name = args.get("name", "?")
        dest = args.get("dest") or ""
        if dest.startswith("~"):
            dest = self._remote_home_path(dest)
        status_file = progress_path(dest, name) if os.path.isabs(dest) else None
        last_phase, last_report = None, 0.0
        dead_polls = 0
        status_args = {"jid": jid, "mode": "status", "_async_dir": async_dir}
        deadline = time.monotonic() + async_limit + 120
        # Poll soon at first (an unchanged image answers in a second or two), then every interval.
        wait = min(1.0, interval)
        while True:
            time.sleep(wait)
            wait = min(wait * 2, interval)
            if time.monotonic() > deadline:
                waited = async_limit + 120
                return {"failed": True, "msg": f"dib_image: no result from the build host after {waited} s (job {jid})"}
            status = self._execute_module(
                module_name="ansible.legacy.async_status", module_args=status_args, task_vars=task_vars
            )
            if status.get("finished") or (status.get("failed") and not status.get("started", True)):
                break
            state = self._read_progress(status_file) if status_file else None
            now = time.time()
            if state and "started_at" in state and should_report(state, last_phase, last_report, now):
                display.display(format_line(name, state, now))
                last_phase, last_report = state.get("phase"), now
            if self._job_gone(jid):
                # No async_wrapper process is left, yet it recorded no result: the job was killed
                # (SIGKILL to its process group). Give a late result one more poll to appear.
                dead_polls += 1
                if dead_polls >= 2:
                    self._execute_module(
                        module_name="ansible.legacy.async_status", module_args=dict(status_args, mode="cleanup"),
                        task_vars=task_vars,
                    )
                    pid = f" (PID {state['pid']})" if state and state.get("pid") else ""
                    return {
                        "failed": True,
                        "msg": f"dib_image: the module process{pid} on the build host died without a result"
                        f" (was it killed?); its guardian stops DIB and cleans up. DIB's log: "
                        f"{os.path.join(dest, name + '.log')}",
                    }
            else:
                dead_polls = 0
        self._execute_module(
            module_name="ansible.legacy.async_status", module_args=dict(status_args, mode="cleanup"),
            task_vars=task_vars,
        )
        return {k: v for k, v in status.items() if k not in _ASYNC_KEYS}

    # --- entry point ---------------------------------------------------------

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        try:
            if self._needs_shipping():
                args = self._ship(args)
        except AnsibleError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        if self._task.async_val:
            # The task asked for async itself: the task executor polls, as for any module.
            wrap_async = not self._connection.has_native_async
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars,
                                               wrap_async=wrap_async))
            return result

        if self._task.check_mode or self._connection.has_native_async:
            result.update(self._execute_module(module_name=MODULE, module_args=args, task_vars=task_vars))
            self._remove_tmp_path(self._connection._shell.tmpdir)
            return result

        if not args.get("force"):
            # An unchanged image (or bad input) is answered in a fraction of a second by a
            # check-mode run; the async start and its polling are paid only when DIB must run.
            probe = self._probe(args, task_vars)
            if probe.get("failed") or not probe.get("changed"):
                result.update(probe)
                self._remove_tmp_path(self._connection._shell.tmpdir)
                return result

        interval = float(task_vars.get("dib_image_poll_interval", DEFAULT_POLL_INTERVAL))
        result.update(self._run_with_progress(args, task_vars, interval))
        self._remove_tmp_path(self._connection._shell.tmpdir)
        # async_wrapper marks every result changed; the module's own word counts.
        if "built" in result:
            result["changed"] = bool(result.get("built"))
        return result
