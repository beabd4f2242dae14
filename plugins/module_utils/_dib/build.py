# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ``dib_image`` run: validate, decide, build, verify, publish.

PRIVATE to the collection: no compatibility promise outside it.

The module file is a thin shell around :func:`run`, which takes a
:class:`DibImageRequest`.  ``run`` returns the
result dict of the module contract or raises :class:`BuildError` whose
``extra`` carries the structured detail (``log_path``, ``failed_hook``).

Failure handling, in one place:

* the build works in ``<dest>/.<name>.tmp-XXXX`` (same file system as the
  outputs, so publishing is a rename); DIB's ``TMP_DIR`` is inside it;
* on failure, timeout or a signal (SIGTERM/SIGINT/SIGHUP) DIB's process
  group is killed, mounts and loop devices under the work folder are
  released and the folder is deleted;
* if the module itself is killed with SIGKILL (Ansible's async timeout
  does that to the module's process group), the guardian
  (:mod:`._dib.guardian`) notices that the module is gone and does the
  same cleanup;
* if the controller is gone (no heartbeat, :mod:`._dib.heartbeat`: its
  playbook was killed, its SSH session lost) the build stops itself, the
  same way, whether DIB runs or the run still waits for a lock.

The two last ends leave a note beside the log (:mod:`._dib.abandoned`);
the next run of the image returns it as ``previous_build``.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common import signals
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import abandoned, base_cache, validate
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.argv import (
    build_argv,
    build_environment,
    output_path,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.cleanup import (
    cleanup_build,
    release_host_resources,
    remove_tree,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.elements import (
    ElementError,
    dib_elements_dir,
    resolve_elements,
    with_dib_defaults,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.fingerprint import (
    FINGERPRINT_VERSION,
    compute_components,
    decide,
    diff_of,
    fingerprint_of,
    load_record,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.guardian import start_guardian
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.heartbeat import (
    ControllerGone,
    Heartbeat,
    async_job_file,
    discard_async_result,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.lock import ImageLock, LockTimeout, cache_lock
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.log import extract_errors, hook_label, tail_lines
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.outputs import (
    OutputError,
    describe_outputs,
    prune_unaccounted,
    publish,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.phases import phase_durations
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.progress import (
    LogFollower,
    new_state,
    progress_path,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import DEFAULT_CACHE_DIR, DibImageRequest
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.stages import (
    DIB,
    FINGERPRINT,
    LOCK_WAIT,
    OUTPUTS,
    SBOM,
    VALIDATE,
    StageClock,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import store as sbom_store
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom.inventory import (
    INVENTORY_VARIABLE,
    SBOM_ELEMENT,
    InventoryError,
)

# What check mode records for an input that does not exist yet (never a sha256).
MISSING_INPUT = "(does not exist yet)"
# What check mode records as DIB's version when DIB is not installed yet.
DIB_NOT_INSTALLED = "(not installed yet)"


class BuildError(Exception):
    def __init__(self, message: str, **extra: Any):
        super().__init__(message)
        self.extra = extra


def log_path_for(dest: str, name: str) -> str:
    return os.path.join(dest, f"{name}.log")


def dib_version(dib_command: str, env: dict[str, str]) -> str:
    try:
        out = subprocess.run(
            [dib_command, "--version"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            env=env, timeout=120, check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise BuildError(
            f"dib_command: '{dib_command} --version' cannot run: {exc}; run the dbaas.guest_images.build_host role"
        ) from exc
    text = out.stdout.decode("utf-8", "replace").strip()
    if out.returncode != 0 or not text:
        raise BuildError(
            f"dib_command: '{dib_command} --version' failed (exit {out.returncode}): {text}; is diskimage-builder"
            " installed correctly? Run the dbaas.guest_images.build_host role"
        )
    return text.splitlines()[-1].strip()


def _hook_element(hook: str | None, resolved: dict[str, str]) -> str | None:
    """Which element a failing hook came from (DIB copies hooks from element folders)."""
    label = hook_label(hook)
    if not label:
        return None
    for name, folder in resolved.items():
        if os.path.exists(os.path.join(folder, label)):
            return name
    return None


# --- the run ----------------------------------------------------------------

def _validate(request: DibImageRequest, check_mode: bool) -> tuple[str | None, list[str], list[str], str | None]:
    """``(dib_command, element search path, inputs missing, why DIB is missing)``; the last two only in check mode."""
    validate.check_name(request.name)
    validate.check_formats(request.formats)
    validate.check_numbers(request.size, request.timeout, request.lock_timeout, request.max_age)
    validate.check_environment(request.environment)
    missing_inputs = validate.check_inputs(request.inputs, request.environment, check_mode)
    validate.check_element_paths(request.element_paths)
    if check_mode and os.path.isdir(request.dest):
        validate.check_dest_writable(request.dest)
    try:
        dib_command = validate.find_dib_command(request.dib_command)
    except validate.InvalidOption as exc:
        if not check_mode:
            raise
        # Check mode predicts the whole playbook, whose prepare stage (the build_host role) installs DIB
        # before this task: the image would build, with what DIB brings (its version, its elements) unknown.
        return None, list(request.element_paths), missing_inputs, str(exc)
    dib_elements = dib_elements_dir(dib_command)
    if not dib_elements:
        raise validate.InvalidOption(
            "dib_command",
            f"cannot find diskimage-builder's own elements next to '{dib_command}'; is it a diskimage-builder"
            " install? Run the dbaas.guest_images.build_host role",
        )
    search = list(request.element_paths) + [dib_elements]
    validate.check_elements(request.elements, search)
    if not check_mode:
        validate.ensure_dest(request.dest)
    return dib_command, search, missing_inputs, None


def cache_dir_for(cache_dir: str | None, environment: dict[str, str]) -> str:
    """The DIB image cache a build uses (DIB's own default when none is given); created when missing."""
    path = cache_dir or environment.get("DIB_IMAGE_CACHE")
    path = os.path.abspath(os.path.expanduser(path or DEFAULT_CACHE_DIR))
    os.makedirs(path, exist_ok=True)
    return path


def run(request: DibImageRequest, check_mode: bool = False, diff_mode: bool = False) -> dict[str, Any]:
    """The module's result; every result and every :class:`BuildError` carries ``stages`` (seconds per step)."""
    clock = StageClock()
    try:
        result = _timed_run(request, check_mode, diff_mode, clock)
    except BuildError as exc:
        exc.extra.setdefault("stages", clock.result())
        if DIB in exc.extra["stages"]:
            # Where a failed or stopped build spent its time, from the log it left.
            exc.extra.setdefault("phases", _phases_of(log_path_for(request.dest, request.name)))
        raise
    result["stages"] = clock.result()
    return result


def _timed_run(request: DibImageRequest, check_mode: bool, diff_mode: bool, clock: StageClock) -> dict[str, Any]:
    try:
        with clock.measure(VALIDATE):
            dib_command, search, missing_inputs, dib_missing = _validate(request, check_mode)
            try:
                resolved = {} if dib_missing else resolve_elements(with_dib_defaults(request.elements, request.arch),
                                                                   search)
            except ElementError as exc:
                raise validate.InvalidOption("elements", str(exc)) from exc
    except validate.InvalidOption as exc:
        raise BuildError(str(exc), option=exc.option) from exc
    # How the last build ended when nobody was there to hear it; told once, by this run.
    previous = abandoned.take_note(abandoned.note_path(request.dest, request.name), keep=check_mode)
    heartbeat = Heartbeat(None if check_mode else request.heartbeat_path, request.heartbeat_interval,
                          request.heartbeat_misses)
    try:
        heartbeat.start()
        result = _run(request, check_mode, diff_mode, dib_command, resolved, missing_inputs, heartbeat, clock,
                      dib_missing)
    except BuildError as exc:
        if previous:
            exc.extra["previous_build"] = previous
        raise
    finally:
        heartbeat.remove()
    if previous:
        result["previous_build"] = previous
    return result


def _run(
    request: DibImageRequest,
    check_mode: bool,
    diff_mode: bool,
    dib_command: str | None,
    resolved: dict[str, str],
    missing_inputs: list[str],
    heartbeat: Heartbeat,
    clock: StageClock,
    dib_missing: str | None = None,
) -> dict[str, Any]:
    started = time.time()
    name, dest = request.name, request.dest

    with clock.measure(FINGERPRINT):
        if dib_command is None:
            version = DIB_NOT_INSTALLED
        else:
            base_env = build_environment(
                dib_command=dib_command, element_paths=request.element_paths, environment={}, inputs={},
                tmp_dir=tempfile.gettempdir(),
            )
            version = dib_version(dib_command, base_env)
        components = compute_components(
            elements=request.elements, resolved_elements=resolved, environment=request.environment,
            packages=request.packages, formats=request.formats, size=request.size, arch=request.arch,
            dib_version=version, compress=request.compress,
            inputs={var: path for var, path in request.inputs.items() if var not in missing_inputs},
        )
        for var in missing_inputs:
            components["inputs"][var] = MISSING_INPUT
        fingerprint = fingerprint_of(components)
        expected = [output_path(dest, name, fmt) for fmt in request.formats]
        record = load_record(dest, name)
        build, reason, changed_inputs = decide(
            record, fingerprint, components, expected, force=request.force, max_age_hours=request.max_age
        )
    unknown = bool(missing_inputs or dib_missing)
    if unknown:
        # Only in check mode: the content of such an input (or DIB's version and
        # elements), and so the fingerprint, is not known before the task that makes it has run.
        build = True
        reason = "; ".join(
            [f"input {var} ({request.inputs[var]}) does not exist yet" for var in sorted(missing_inputs)]
            + ([f"diskimage-builder is not installed yet ({dib_missing.partition(';')[0]})"] if dib_missing else [])
        )
        changed_inputs = sorted(set(changed_inputs) | {f"inputs.{var}" for var in missing_inputs}
                                | ({"dib_version"} if dib_missing else set()))
    result: dict[str, Any] = {
        "changed": False,
        "built": False,
        "fingerprint": None if unknown else fingerprint,
        "dib_version": version,
        "resolved_elements": list(resolved),
        "reason": reason,
        "changed_inputs": changed_inputs,
        "images": (record or {}).get("images", []) if not build else [],
        "sbom": sbom_store.reused(record) if not build else None,
        "log_path": log_path_for(dest, name),
        "duration": 0.0,
    }
    if diff_mode and changed_inputs:
        result["diff"] = diff_of((record or {}).get("components"), components, changed_inputs)
    if not build:
        result["duration"] = round(time.time() - started, 3)
        return result
    if unknown:
        result["warnings"] = [
            f"inputs: '{var}' points at '{request.inputs[var]}', which does not exist yet; check mode assumes an"
            " earlier task of this run creates it (a real run refuses the build when it is still missing)"
            for var in sorted(missing_inputs)
        ] + ([f"{dib_missing}. Check mode assumes an earlier task of this run installs it (the"
              " prepare stage does); a real run refuses the build when it is still missing"] if dib_missing else [])
    if check_mode or dib_command is None:
        # (DIB is missing only in check mode.)
        result["changed"] = True
        result["reason"] = "would build: " + reason
        result["duration"] = round(time.time() - started, 3)
        return result

    try:
        validate.check_free_space(dest, request.size, request.formats)
    except validate.InvalidOption as exc:
        raise BuildError(str(exc), option=exc.option) from exc

    try:
        return _locked_build(request, dib_command, resolved, heartbeat, result, fingerprint, components, expected,
                             started, clock)
    except ControllerGone as exc:
        where = exc.where
        phase = where.get("phase") or "the wait for a lock"
        abandoned.write_note(abandoned.note_path(dest, name), "controller gone", phase, where.get("hook"), str(exc),
                             log_path_for(dest, name) if where else None)
        job_file = async_job_file(heartbeat.results_file(), os.environ.get("ANSIBLE_ASYNC_DIR"))
        if job_file:
            discard_async_result(job_file)
        raise BuildError(
            f"dib_image for '{name}' stopped at {phase}: {exc}; the controller is taken to be gone, so DIB was"
            f" stopped and its work cleaned up (the next run reports it). If the controller is only slow, raise"
            f" dib_image_poll_interval or dib_image_heartbeat_misses.",
            log_path=log_path_for(dest, name), failed_hook=None, abandoned=True,
        ) from None


def _locked_build(
    request: DibImageRequest,
    dib_command: str,
    resolved: dict[str, str],
    heartbeat: Heartbeat,
    result: dict[str, Any],
    fingerprint: str,
    components: dict[str, Any],
    expected: list[str],
    started: float,
    clock: StageClock,
) -> dict[str, Any]:
    name, dest = request.name, request.dest
    lock = ImageLock(dest, name, request.lock_timeout, while_waiting=heartbeat.check)
    try:
        with clock.measure(LOCK_WAIT):
            lock.acquire()
    except LockTimeout as exc:
        raise BuildError(str(exc), lock_path=lock.path, holder_pid=exc.holder_pid) from exc
    try:
        if not request.force:
            # Someone else may have built while we waited for the lock; their result may be ours.
            with clock.measure(FINGERPRINT):
                record = load_record(dest, name)
                build, reason, changed_inputs = decide(
                    record, fingerprint, components, expected, force=False, max_age_hours=request.max_age
                )
            if not build and record is not None:
                result.update(reason=reason + " (built by a concurrent run)", changed_inputs=[],
                              images=record["images"], sbom=sbom_store.reused(record),
                              duration=round(time.time() - started, 3))
                return result

        def make_record(images: list[dict[str, Any]], duration: float) -> dict[str, Any]:
            return {
                "version": FINGERPRINT_VERSION,
                "fingerprint": fingerprint,
                "components": components,
                "images": images,
                "resolved_elements": dict(resolved),
                "built_at_epoch": time.time(),
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "duration": duration,
                "log_path": log_path_for(dest, name),
            }

        cache = cache_lock(cache_dir_for(request.cache_dir, request.environment),
                           max(1.0, request.lock_timeout - lock.waited), while_waiting=heartbeat.check)
        try:
            with clock.measure(LOCK_WAIT):
                cache.acquire()
        except LockTimeout as exc:
            raise BuildError(str(exc), lock_path=cache.path, holder_pid=exc.holder_pid) from exc
        try:
            base = base_cache.plan(
                environment=request.environment, resolved_elements=resolved, arch=request.arch,
                cache_dir=cache_dir_for(request.cache_dir, request.environment), dib_version=str(result["dib_version"]),
                debootstrap_version=base_cache.tool_version(),
                debootstrap_element_sha256=components["element_content"].get("debootstrap", ""),
            )
            try:
                images, sbom = _build(request, dib_command, resolved, lock, make_record, heartbeat, base.environment,
                                      str(result["dib_version"]), components["element_content"], clock)
            except BaseException:
                base_cache.abandon(base)
                raise
            base_cache.commit(base)
        finally:
            cache.release()
    finally:
        lock.release()
    result.update(changed=True, built=True, images=images, sbom=sbom, duration=round(time.time() - started, 3),
                  base_cache=base.as_result(), phases=_phases_of(log_path_for(dest, name)))
    return result


def _build(
    request: DibImageRequest,
    dib_command: str,
    resolved: dict[str, str],
    lock: ImageLock,
    make_record: Callable[[list[dict[str, Any]], float], dict[str, Any]],
    heartbeat: Heartbeat,
    cache_environment: dict[str, str],
    dib_version: str,
    element_content: dict[str, str],
    clock: StageClock,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    name, dest = request.name, request.dest
    prune_unaccounted(dest, name)
    work_dir = tempfile.mkdtemp(prefix=f".{name}.tmp-", dir=dest)
    tmp_dir = os.path.join(work_dir, "tmp")
    out_dir = os.path.join(work_dir, "out")
    os.mkdir(tmp_dir)
    os.mkdir(out_dir)
    dib_log = os.path.join(work_dir, "dib.log")
    stdout_path = os.path.join(work_dir, "dib.stdout")
    final_log = log_path_for(dest, name)
    status = progress_path(dest, name)

    argv = build_argv(
        dib_command, out_base=os.path.join(out_dir, name), formats=request.formats, elements=request.elements,
        logfile=dib_log, size=request.size, arch=request.arch, packages=request.packages,
        compress=request.compress,
    )
    env = build_environment(
        dib_command=dib_command, element_paths=request.element_paths, environment=request.environment,
        inputs=request.inputs, tmp_dir=tmp_dir, cache_dir=request.cache_dir,
    )
    env.update(cache_environment)
    # The dbaas-sbom element records the image's contents there, outside the image.
    inventory_path = os.path.join(work_dir, "sbom-inventory.json")
    env[INVENTORY_VARIABLE] = inventory_path

    guardian = start_guardian(work_dir, dib_log, final_log, status, [] if lock.fd is None else [lock.fd],
                              note=abandoned.note_path(dest, name), heartbeat=heartbeat.path)
    proc: subprocess.Popen[bytes] | None = None
    follower = None
    started = time.time()
    dib_started = time.monotonic()
    dib_ended: float | None = None
    # A termination signal (a killed playbook, async_wrapper's timeout) raises Interrupted: DIB is stopped and
    # cleaned up like any failed build.
    with signals.interruptible():
        try:
            try:
                with open(stdout_path, "wb") as stdout:
                    proc = subprocess.Popen(
                        argv, env=env, cwd=out_dir, stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                guardian.watch(proc.pid)
                follower = LogFollower(dib_log, status, new_state(name, os.getpid(), started))
                follower.start()
                rc = _wait(proc, started + request.timeout, heartbeat, follower)
                dib_ended = time.monotonic()
                clock.add(DIB, dib_ended - dib_started)
                if rc is None:
                    raise BuildError(
                        f"DIB build of '{name}' did not finish within timeout={request.timeout} s; it was killed and"
                        " cleaned up. Raise timeout if the build is just slow (see the log).",
                        log_path=final_log, failed_hook=None,
                    )
                follower.stop()
                if rc != 0:
                    raise _failure(name, rc, dib_log, stdout_path, final_log, resolved)
                staged = {fmt: output_path(out_dir, name, fmt) for fmt in request.formats}
                with clock.measure(OUTPUTS):
                    try:
                        images = describe_outputs(staged, dest, name)
                    except OutputError as exc:
                        raise BuildError(f"DIB build of '{name}' finished but its output is not usable: {exc}",
                                         log_path=final_log, failed_hook=None) from exc
                sbom = None
                if SBOM_ELEMENT in resolved:
                    with clock.measure(SBOM):
                        try:
                            sbom = sbom_store.stage(
                                inventory_path=inventory_path, work_dir=work_dir, dest=dest, name=name, outputs=images,
                                dib_version=dib_version, arch=request.arch, element_content=element_content,
                            )
                        except InventoryError as exc:
                            raise BuildError(f"DIB build of '{name}' finished but its SBOM cannot be made: {exc}",
                                             log_path=final_log, failed_hook=None) from exc
                with clock.measure(OUTPUTS):
                    leftovers = release_host_resources(work_dir)
                    if leftovers:
                        raise BuildError(
                            f"DIB build of '{name}' left {', '.join(leftovers)} behind and they could not be released",
                            log_path=final_log, failed_hook=None,
                        )
                    _move_log(dib_log, stdout_path, final_log)
                    record = make_record(images, round(time.time() - started, 3))
                    if sbom is not None:
                        record["sbom"] = sbom.record()
                    publish(staged, images, dest, name, record)
                if sbom is not None:
                    with clock.measure(SBOM):
                        # After the record: a run killed in between leaves an SBOM whose sha256 the record does not
                        # vouch for, which a reuse then leaves out rather than reports.
                        sbom_store.install(sbom)
                with clock.measure(OUTPUTS):
                    remove_tree(work_dir)
                return images, None if sbom is None else sbom.result()
            except signals.Interrupted as exc:
                raise BuildError(
                    f"dib_image for '{name}' was interrupted by signal {exc.signum}; DIB was killed and its work"
                    " cleaned up", log_path=final_log, failed_hook=None,
                ) from None
        except BaseException:
            if dib_ended is None and proc is not None:
                # DIB was stopped (a timeout, a signal, the controller gone): its time counts up to here.
                clock.add(DIB, time.monotonic() - dib_started)
            signals.ignore()  # the cleanup below is not cut short by a second signal
            if follower:
                follower.stop()
            _move_log(dib_log, stdout_path, final_log)
            cleanup_build(work_dir, proc.pid if proc else None)
            if proc:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)
            prune_unaccounted(dest, name)
            raise
        finally:
            with contextlib.suppress(OSError):
                os.unlink(status)
            guardian.release()


def _phases_of(log_path: str) -> dict[str, float]:
    """Seconds per DIB phase of the build whose log this is ({} when it cannot be read)."""
    try:
        with open(log_path, encoding="utf-8", errors="replace") as handle:
            return phase_durations(handle.read())
    except OSError:
        return {}


def _wait(proc: subprocess.Popen[bytes], deadline: float, heartbeat: Heartbeat, follower: LogFollower) -> int | None:
    """DIB's exit code; None at the deadline; :class:`ControllerGone` (with where DIB was) when the controller is."""
    while True:
        try:
            return proc.wait(timeout=max(0.0, min(1.0, deadline - time.time())))
        except subprocess.TimeoutExpired:
            if time.time() >= deadline:
                return None
        try:
            heartbeat.check()
        except ControllerGone as exc:
            follower.poll()
            exc.where = {"phase": follower.state.get("phase"), "hook": follower.state.get("hook")}
            raise


def _move_log(dib_log: str, stdout_path: str, final_log: str) -> None:
    """Put DIB's log (plus anything it printed before its logger started) at ``<dest>/<name>.log``."""
    parts = []
    for path in (stdout_path, dib_log):
        try:
            with open(path, "rb") as handle:
                parts.append(handle.read())
        except OSError:
            continue
    if not parts:
        return
    write_atomically(final_log, b"".join(parts))
    for path in (stdout_path, dib_log):
        with contextlib.suppress(OSError):
            os.unlink(path)


def _failure(
    name: str, rc: int, dib_log: str, stdout_path: str, final_log: str, resolved: dict[str, str]
) -> BuildError:
    text = ""
    for path in (stdout_path, dib_log):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                text += handle.read()
        except OSError:
            continue
    found = extract_errors(text)
    lines = found["lines"] or tail_lines(text)
    hook = found["failed_hook"]
    where = ""
    element = _hook_element(hook, resolved)
    if hook:
        where = f" in {hook_label(hook)}" + (f" (element {element})" if element else "")
    label = hook_label(hook)
    if element and label:
        # The copy DIB ran is gone with the work folder; point at the element's own file.
        hook = os.path.join(resolved[element], label)
    details = "\n".join(lines)
    message = f"DIB build of '{name}' failed{where} (exit {rc}):\n{details}\nFull log: {final_log}"
    return BuildError(message, log_path=final_log, failed_hook=hook, failed_element=element, error_lines=lines, rc=rc)
