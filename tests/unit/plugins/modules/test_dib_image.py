# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dib_image end to end against a stand-in ``disk-image-create``.

The stand-in is a small shell script in a fake DIB virtualenv layout.  It
parses the real command line, writes a DIB-style log, and then (as told by
``FAKE_DIB_MODE``) writes real outputs (``qemu-img create``, ``tar``), or
writes a partial output and fails, or hangs with a child process, so the
publish, cleanup and signal paths can be tested in seconds.  Real DIB runs
are in tests/integration.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import build as dib_build
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import heartbeat
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import DibImageRequest
from ansible_collections.dbaas.guest_images.plugins.modules import dib_image

FAKE_DIB = r"""#!/bin/bash
set -eu
if [ "${1:-}" = "--version" ]; then echo "${FAKE_DIB_VERSION:-3.43.0}"; exit 0; fi
OUT= TYPES= LOG= ELEMENTS=()
while [ $# -gt 0 ]; do
  case "$1" in
    -o) OUT=$2; shift 2;;
    -t) TYPES=$2; shift 2;;
    -a|-p|--image-size) echo "arg $1 $2" >> "$FAKE_DIB_STATE/argv"; shift 2;;
    -u) echo "arg -u" >> "$FAKE_DIB_STATE/argv"; shift;;
    --logfile) LOG=$2; shift 2;;
    --) shift; ELEMENTS=("$@"); break;;
    *) echo "unexpected $1" >&2; exit 2;;
  esac
done
echo run >> "$FAKE_DIB_STATE/runs"
# When each run started and ended, and with which image cache (builds side by side).
echo "start ${OUT##*/} $(date +%s.%N) ${DIB_IMAGE_CACHE:-}" >> "$FAKE_DIB_STATE/spans"
trap 'echo "end ${OUT##*/} $(date +%s.%N)" >> "$FAKE_DIB_STATE/spans"' EXIT
env > "$FAKE_DIB_STATE/env"
echo $$ > "$FAKE_DIB_STATE/pid"
log() { echo "$(date '+%Y-%m-%d %H:%M:%S.000') | $*" >> "$LOG"; sleep "${FAKE_DIB_STEP:-0}"; }
BUILD=$(mktemp -d --tmpdir="$TMP_DIR" dib_build.XXXXXXXX)
log "diskimage-builder version 3.43.0"
log "Building elements: base ${ELEMENTS[*]}"
log "Running hooks from $BUILD/hooks/root.d"
log "dib-run-parts Running $BUILD/hooks/root.d/08-debootstrap"
log "dib-run-parts 08-debootstrap completed"
log "dib-run-parts Running /tmp/in_target.d/install.d/50-fake"
log "I: installing the fake package"
case "${FAKE_DIB_MODE:-ok}" in
  fail)
    echo partial > "$OUT.qcow2"
    log "FAKE_SETTING must be set to something useful"
    log "Unmount $BUILD/mnt/proc"
    exit 1;;
  sleep)
    echo partial > "$OUT.qcow2"
    sleep 300 &
    echo $! > "$FAKE_DIB_STATE/child"
    wait;;
  badqcow)
    echo "not an image" > "$OUT.qcow2"
    log "dib-run-parts 50-fake completed"
    exit 0;;
esac
log "dib-run-parts 50-fake completed"
# The real dbaas-sbom cleanup.d hook, on a stand-in target root, when that element is in the build.
if [ -n "${FAKE_DIB_TARGET_ROOT:-}" ]; then
  for dir in ${ELEMENTS_PATH//:/ }; do
    hook="$dir/dbaas-sbom/cleanup.d/99-dbaas-sbom-inventory"
    if [ -x "$hook" ] && [[ " ${ELEMENTS[*]} " == *" dbaas-sbom "* ]]; then
      TARGET_ROOT="$FAKE_DIB_TARGET_ROOT" "$hook"
    fi
  done
fi
log "Converting image using qemu-img convert"
for t in ${TYPES//,/ }; do
  case $t in
    qcow2) qemu-img create -q -f qcow2 "$OUT.qcow2" 16M;;
    raw) truncate -s 1M "$OUT.raw";;
    tar) tar -cf "$OUT.tar" -C "$BUILD" .;;
  esac
done
log "Build completed successfully"
"""


@pytest.fixture
def dib(tmp_path):
    """A fake DIB install: venv/bin/disk-image-create + site-packages/diskimage_builder/elements."""
    return make_fake_dib(tmp_path)


def make_fake_dib(root):
    """Create the stand-in DIB install under ``root``; also used by the action plugin's tests."""
    venv = root / "venv"
    elements = venv / "lib" / "python3.11" / "site-packages" / "diskimage_builder" / "elements"
    for name, deps in (("base", ""), ("fake-os", "base-deps\n"), ("base-deps", ""), ("extra", "")):
        (elements / name / "install.d").mkdir(parents=True)
        (elements / name / "install.d" / "50-fake").write_text("#!/bin/sh\n")
        if deps:
            (elements / name / "element-deps").write_text(deps)
    script = venv / "bin" / "disk-image-create"
    script.parent.mkdir(parents=True)
    script.write_text(FAKE_DIB)
    script.chmod(0o755)
    state = root / "state"
    state.mkdir()
    return {"command": str(script), "elements": elements, "state": state}


def params(dib, dest, mode=None, **over):
    """Module parameters; the stand-in's controls travel in ``environment`` like any DIB variable."""
    environment = dict(over.pop("environment", {"DIB_RELEASE": "bookworm"}), FAKE_DIB_STATE=str(dib["state"]))
    if mode:
        environment["FAKE_DIB_MODE"] = mode
    base = dict(
        name="img",
        elements=["fake-os"],
        element_paths=[],
        dest=str(dest),
        formats=["qcow2"],
        compress=True,
        size=None,
        arch="amd64",
        environment=environment,
        packages=[],
        inputs={},
        cache_dir=str(dib["state"].parent / "image-cache"),  # never the shared default: other builds may hold it
        dib_command=dib["command"],
        timeout=60,
        lock_timeout=5,
        force=False,
        max_age=720,
        heartbeat_path=None,
        heartbeat_interval=0.0,
        heartbeat_misses=3,
    )
    base.update(over)
    return base


def request(dib, dest, mode=None, **over):
    """The typed request the module makes of those parameters."""
    return DibImageRequest.from_params(params(dib, dest, mode, **over))


def runs(dib):
    path = dib["state"] / "runs"
    return len(path.read_text().splitlines()) if path.exists() else 0


def leftovers(dest):
    return sorted(p for p in os.listdir(dest) if ".tmp-" in p or p.endswith(".progress.json"))


def test_build_then_noop_then_rebuild_on_change(dib, tmp_path):
    dest = tmp_path / "out"
    result = dib_build.run(request(dib, dest, formats=["qcow2", "tar"]))
    assert result["changed"] and result["built"]
    assert runs(dib) == 1
    assert set(result) == {"changed", "built", "images", "fingerprint", "duration", "log_path", "dib_version",
                           "resolved_elements", "reason", "changed_inputs", "sbom", "base_cache", "phases", "stages"}
    # Every step a build goes through, in order (no dbaas-sbom element, no sbom step).
    assert list(result["stages"]) == ["validate", "fingerprint", "lock_wait", "dib", "outputs"]
    assert result["sbom"] is None, "no dbaas-sbom element, no SBOM"
    assert [i["format"] for i in result["images"]] == ["qcow2", "tar"]
    qcow = result["images"][0]
    assert qcow["path"] == str(dest / "img.qcow2")
    info = json.loads(subprocess.check_output(["qemu-img", "info", "--output=json", qcow["path"]]))
    assert info["format"] == "qcow2"
    assert qcow["size"] == os.path.getsize(qcow["path"])
    assert result["resolved_elements"] == ["base", "fake-os", "base-deps"]
    record = json.loads((dest / "img.fingerprint.json").read_text())
    assert record["fingerprint"] == result["fingerprint"]
    assert "Build completed successfully" in (dest / "img.log").read_text()
    assert leftovers(str(dest)) == []

    # environment passed explicitly, TMP_DIR inside our own work folder
    env = dict(line.split("=", 1) for line in (dib["state"] / "env").read_text().splitlines() if "=" in line)
    assert env["DIB_RELEASE"] == "bookworm"
    assert env["TMP_DIR"].startswith(str(dest / ".img.tmp-"))
    assert env["PATH"].split(":")[0] == os.path.dirname(dib["command"])

    again = dib_build.run(request(dib, dest, formats=["qcow2", "tar"]))
    assert not again["changed"] and not again["built"]
    assert again["images"] == result["images"]
    assert again["reason"].startswith("unchanged")
    assert runs(dib) == 1
    # A reused image spent only its checks.
    assert list(again["stages"]) == ["validate", "fingerprint"]

    changed = dib_build.run(request(dib, dest, formats=["qcow2", "tar"], environment={"DIB_RELEASE": "trixie"}))
    assert changed["built"] and changed["changed_inputs"] == ["environment.DIB_RELEASE"]
    assert "DIB_RELEASE=trixie\n" in (dib["state"] / "env").read_text()
    assert runs(dib) == 2


def test_uncompressed_qcow2_is_its_own_build(dib, tmp_path):
    dest = tmp_path / "out"
    dib_build.run(request(dib, dest))
    assert "arg -u" not in (dib["state"] / "argv").read_text().splitlines()
    off = dib_build.run(request(dib, dest, compress=False))
    assert off["built"] and off["changed_inputs"] == ["compress"]
    assert (dib["state"] / "argv").read_text().splitlines()[-1] == "arg -u"
    assert not dib_build.run(request(dib, dest, compress=False))["built"]


def test_stages_are_measured_and_phases_split_the_dib_step(dib, tmp_path):
    dest = tmp_path / "out"
    # The stand-in sleeps after each of its 10 log lines: DIB's step takes >= 2 s, and only DIB's step.
    result = dib_build.run(request(dib, dest, environment={"DIB_RELEASE": "bookworm", "FAKE_DIB_STEP": "0.2"}))
    stages = result["stages"]
    assert stages["dib"] >= 2.0, stages
    assert all(isinstance(value, float) and value >= 0 for value in stages.values()), stages
    # ``duration`` runs from the fingerprint on; the steps it covers do not add up to more.
    assert sum(v for k, v in stages.items() if k != "validate") <= result["duration"] + 0.01, (stages, result)
    assert stages["fingerprint"] < 1.0 and stages["outputs"] < 2.0, stages
    phases = result["phases"]
    assert list(phases)[:2] == ["setup", "root.d"], phases
    # The phases come from the log's stamps (whole seconds in the stand-in's log), which lie inside DIB's run.
    assert sum(phases.values()) <= stages["dib"] + 1.0, (phases, stages)


def test_a_failed_build_says_where_its_time_went(dib, tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(dib_build.BuildError) as err:
        dib_build.run(request(dib, dest, mode="fail", environment={"DIB_RELEASE": "bookworm", "FAKE_DIB_STEP": "0.1"}))
    stages = err.value.extra["stages"]
    assert list(stages) == ["validate", "fingerprint", "lock_wait", "dib"]
    assert stages["dib"] >= 0.9, stages
    assert "install.d" in err.value.extra["phases"], err.value.extra["phases"]


def test_bad_input_fails_with_only_the_validate_step(dib, tmp_path):
    with pytest.raises(dib_build.BuildError) as err:
        dib_build.run(request(dib, tmp_path / "out", elements=["no-such-element"]))
    assert list(err.value.extra["stages"]) == ["validate"]
    assert "phases" not in err.value.extra


def test_element_content_change_rebuilds(dib, tmp_path):
    dest = tmp_path / "out"
    dib_build.run(request(dib, dest))
    (dib["elements"] / "base-deps" / "install.d" / "50-fake").write_text("#!/bin/sh\necho changed\n")
    result = dib_build.run(request(dib, dest))
    assert result["built"] and result["changed_inputs"] == ["element_content.base-deps"]


def test_input_content_change_rebuilds_and_is_exported(dib, tmp_path):
    dest = tmp_path / "out"
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "agent.whl").write_bytes(b"1")
    first = dib_build.run(request(dib, dest, inputs={"DATASTORE_PKG_LOCATION": str(pkg)}))
    env = (dib["state"] / "env").read_text()
    assert f"DATASTORE_PKG_LOCATION={pkg}\n" in env
    (pkg / "agent.whl").write_bytes(b"2")
    second = dib_build.run(request(dib, dest, inputs={"DATASTORE_PKG_LOCATION": str(pkg)}))
    assert second["changed_inputs"] == ["inputs.DATASTORE_PKG_LOCATION"]
    assert first["fingerprint"] != second["fingerprint"]


def test_check_mode_builds_nothing_and_explains(dib, tmp_path):
    dest = tmp_path / "out"
    plan = dib_build.run(request(dib, dest), check_mode=True, diff_mode=True)
    assert plan["changed"] and not plan["built"]
    assert plan["reason"].startswith("would build: new: no previous build")
    assert not dest.exists()
    assert runs(dib) == 0
    dib_build.run(request(dib, dest))
    plan = dib_build.run(request(dib, dest, size=3), check_mode=True, diff_mode=True)
    assert plan["changed"] and plan["changed_inputs"] == ["size"]
    assert plan["diff"] == {"before": {}, "after": {"size": 3}}
    assert runs(dib) == 1
    plan = dib_build.run(request(dib, dest), check_mode=True)
    assert not plan["changed"]


def test_check_mode_input_that_does_not_exist_yet_would_build(dib, tmp_path):
    # The wheelhouse an earlier task of the run makes: check mode predicts, a real run refuses.
    dest = tmp_path / "out"
    wheels = tmp_path / "cache" / "wheelhouse" / "trove-26.0.0-cp311"
    inputs = {"DBAAS_GUEST_AGENT_WHEELHOUSE": str(wheels)}
    dib_build.run(request(dib, dest))
    plan = dib_build.run(request(dib, dest, inputs=inputs), check_mode=True, diff_mode=True)
    assert plan["changed"] and not plan["built"]
    assert plan["reason"] == f"would build: input DBAAS_GUEST_AGENT_WHEELHOUSE ({wheels}) does not exist yet"
    assert plan["fingerprint"] is None
    assert plan["changed_inputs"] == ["inputs.DBAAS_GUEST_AGENT_WHEELHOUSE"]
    assert plan["diff"]["after"] == {"inputs": {"DBAAS_GUEST_AGENT_WHEELHOUSE": "(does not exist yet)"}}
    assert "does not exist yet" in plan["warnings"][0]
    assert runs(dib) == 1
    assert not wheels.exists()
    with pytest.raises(dib_build.BuildError, match="does not exist on the build host"):
        dib_build.run(request(dib, dest, inputs=inputs))


def test_check_mode_before_diskimage_builder_is_installed_would_build(dib, tmp_path):
    # A fresh build host: the prepare stage of the same run installs DIB, so check mode predicts; a real run refuses.
    dest = tmp_path / "out"
    missing = tmp_path / "dib" / "bin" / "disk-image-create"
    dib_build.run(request(dib, dest))
    plan = dib_build.run(request(dib, dest, dib_command=str(missing)), check_mode=True, diff_mode=True)
    assert plan["changed"] and not plan["built"] and plan["fingerprint"] is None
    assert plan["reason"] == (f"would build: diskimage-builder is not installed yet (dib_command: '{missing}' is not"
                              " an executable file)")
    assert plan["dib_version"] == "(not installed yet)" and plan["resolved_elements"] == []
    assert "dib_version" in plan["changed_inputs"]
    assert plan["diff"]["after"]["dib_version"] == "(not installed yet)"
    assert plan["warnings"] == [f"dib_command: '{missing}' is not an executable file; install diskimage-builder by"
                                " running the dbaas.guest_images.build_host role, or set dib_command. Check mode"
                                " assumes an earlier task of this run installs it (the prepare stage does); a real"
                                " run refuses the build when it is still missing"]
    assert runs(dib) == 1
    with pytest.raises(dib_build.BuildError, match="is not an executable file"):
        dib_build.run(request(dib, dest, dib_command=str(missing)))
    assert runs(dib) == 1


def test_missing_output_and_force_rebuild(dib, tmp_path):
    dest = tmp_path / "out"
    dib_build.run(request(dib, dest))
    os.unlink(str(dest / "img.qcow2"))
    result = dib_build.run(request(dib, dest))
    assert result["built"] and "missing" in result["reason"]
    result = dib_build.run(request(dib, dest, force=True))
    assert result["built"] and result["reason"] == "forced: force=true"
    assert runs(dib) == 3


def test_failure_leaves_nothing_and_says_why(dib, tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(dib_build.BuildError) as err:
        dib_build.run(request(dib, dest, mode="fail"))
    message = str(err.value)
    assert "failed in install.d/50-fake" in message
    assert "FAKE_SETTING must be set" in message
    assert "Unmount" not in message
    element = err.value.extra["failed_element"]
    assert element in ("base", "fake-os", "base-deps")
    assert err.value.extra["failed_hook"] == str(dib["elements"] / element / "install.d" / "50-fake")
    assert err.value.extra["log_path"] == str(dest / "img.log")
    assert (dest / "img.log").exists()
    assert not (dest / "img.qcow2").exists()
    assert not (dest / "img.fingerprint.json").exists()
    assert leftovers(str(dest)) == []


def test_failure_keeps_previous_good_image(dib, tmp_path):
    dest = tmp_path / "out"
    good = dib_build.run(request(dib, dest))
    with pytest.raises(dib_build.BuildError):
        dib_build.run(request(dib, dest, mode="fail", environment={"DIB_RELEASE": "trixie"}))
    # The previous image still matches its own fingerprint file, so it stays.
    record = json.loads((dest / "img.fingerprint.json").read_text())
    assert record["images"] == good["images"]
    assert os.path.getsize(str(dest / "img.qcow2")) == good["images"][0]["size"]


def test_half_published_outputs_are_pruned(dib, tmp_path):
    """A publish killed between rename and record leaves files no record vouches for."""
    dest = tmp_path / "out"
    dib_build.run(request(dib, dest, formats=["qcow2", "raw"]))
    os.unlink(str(dest / "img.fingerprint.json"))
    (dest / "img.raw").write_bytes(b"half")
    with pytest.raises(dib_build.BuildError):
        dib_build.run(request(dib, dest, mode="fail", formats=["qcow2", "raw"]))
    assert not (dest / "img.raw").exists() and not (dest / "img.qcow2").exists()


def test_output_that_fails_verification_is_not_published(dib, tmp_path):
    dest = tmp_path / "out"
    with pytest.raises(dib_build.BuildError, match="output is not usable"):
        dib_build.run(request(dib, dest, mode="badqcow"))
    assert not (dest / "img.qcow2").exists()
    assert leftovers(str(dest)) == []


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split(") ", 1)[1][0] != "Z"


def test_timeout_kills_process_group_and_cleans(dib, tmp_path):
    dest = tmp_path / "out"
    started = time.monotonic()
    with pytest.raises(dib_build.BuildError, match="did not finish within timeout=2 s"):
        dib_build.run(request(dib, dest, mode="sleep", timeout=2))
    assert time.monotonic() - started < 30
    child = int((dib["state"] / "child").read_text())
    assert not alive(child)
    assert not (dest / "img.qcow2").exists()
    assert leftovers(str(dest)) == []


RUNNER = textwrap.dedent(
    """
    import json, sys
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import build as dib_build
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import heartbeat
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import DibImageRequest
    if len(sys.argv) > 2:  # the silence allowed at the least, when a test gives it
        heartbeat.MIN_SILENCE = float(sys.argv[2])
    try:
        dib_build.run(DibImageRequest.from_params(json.loads(sys.argv[1])))
    except dib_build.BuildError as exc:
        print("FAILED:", exc, flush=True)
        sys.exit(1)
    """
)


def start_runner(dib, dest, **over):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, json.dumps(params(dib, dest, mode="sleep", **over))],
        env=env, stdout=subprocess.PIPE, text=True, start_new_session=True,
    )


def wait_for(path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise AssertionError(f"{path} never appeared")


def wait_gone(check, timeout=40):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_killed_module_cleans_up(dib, tmp_path, sig):
    """SIGTERM: the module's handler cleans. SIGKILL (Ansible's async timeout): the guardian does."""
    dest = tmp_path / "out"
    proc = start_runner(dib, dest)
    child = int(wait_for(dib["state"] / "child"))
    assert leftovers(str(dest)) != []  # work folder and progress file exist while building
    if sig == signal.SIGKILL:
        os.killpg(proc.pid, sig)  # what async_wrapper does: the whole process group
    else:
        proc.send_signal(sig)
    out = proc.communicate(timeout=60)[0]
    if sig == signal.SIGTERM:
        assert "interrupted by signal 15" in out
    assert wait_gone(lambda: not alive(child)), "DIB's child survived"
    assert wait_gone(lambda: leftovers(str(dest)) == []), leftovers(str(dest))
    assert not (dest / "img.qcow2").exists()
    assert (dest / "img.log").exists()
    # and the lock is free again
    assert dib_build.run(request(dib, dest, lock_timeout=10))["built"]


def test_second_build_waits_then_reuses(dib, tmp_path):
    dest = tmp_path / "out"
    proc = start_runner(dib, dest, lock_timeout=5)
    wait_for(dib["state"] / "child")
    with pytest.raises(dib_build.BuildError) as err:
        dib_build.run(request(dib, dest, lock_timeout=1))
    assert f"is being built by another process (PID {proc.pid}" in str(err.value)
    assert err.value.extra["lock_path"] == str(dest / ".img.lock")
    os.killpg(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=60)


def test_progress_file_tracks_hooks(dib, tmp_path):
    dest = tmp_path / "out"
    proc = start_runner(dib, dest)
    try:
        wait_for(dib["state"] / "child")
        status = dest / ".img.progress.json"
        assert wait_gone(lambda: status.exists() and json.loads(status.read_text())["phase"] == "install.d", 10)
        state = json.loads(status.read_text())
        assert state["hook"] == "50-fake"
        assert state["pid"] == proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)


@pytest.mark.parametrize(
    "over, option",
    [
        ({"name": "../x"}, "name"),
        ({"elements": ["fake-os", "nope"]}, "elements"),
        ({"element_paths": ["/does/not/exist"]}, "element_paths"),
        ({"environment": {"BAD-KEY": "x"}}, "environment"),
        ({"size": 0}, "size"),
        ({"formats": ["qcow9"]}, "formats"),
        ({"inputs": {"PKG": "/does/not/exist"}}, "inputs"),
        ({"dib_command": "/does/not/exist/disk-image-create"}, "dib_command"),
    ],
)
def test_bad_input_refused_before_dib(dib, tmp_path, over, option):
    with pytest.raises(dib_build.BuildError) as err:
        dib_build.run(request(dib, tmp_path / "out", **over))
    assert err.value.extra["option"] == option
    assert str(err.value).startswith(option + ": ")
    assert runs(dib) == 0


def test_dependency_missing_refused(dib, tmp_path):
    (dib["elements"] / "extra" / "element-deps").write_text("ghost\n")
    with pytest.raises(dib_build.BuildError, match="'ghost' \\(a dependency of 'extra'\\)"):
        dib_build.run(request(dib, tmp_path / "out", elements=["fake-os", "extra"]))


def test_argument_spec_matches_documentation():
    import yaml

    doc = yaml.safe_load(dib_image.DOCUMENTATION)["options"]
    spec = dib_image.argument_spec()
    assert set(doc) == set(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert bool(doc[name].get("required")) == bool(option.get("required")), name
        assert doc[name].get("elements") == option.get("elements"), name
        assert sorted(doc[name].get("choices") or []) == sorted(option.get("choices") or []), name
    returns = set(yaml.safe_load(dib_image.RETURN))
    assert returns == {"images", "fingerprint", "duration", "log_path", "dib_version", "resolved_elements", "built",
                       "reason", "changed_inputs", "previous_build", "sbom", "base_cache", "phases", "stages"}


def test_silent_controller_stops_the_build_and_leaves_a_note(dib, tmp_path):
    """No heartbeat for 3 intervals: DIB is stopped, everything released, the next run reports it."""
    dest = tmp_path / "out"
    beat = dest / ".img.heartbeat-t1"
    async_dir = tmp_path / "async"
    async_dir.mkdir()
    job = async_dir / "j123.456"
    job.write_text(json.dumps({"started": True, "finished": False}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p), ANSIBLE_ASYNC_DIR=str(async_dir))
    args = params(dib, dest, mode="sleep", heartbeat_path=str(beat), heartbeat_interval=0.5, heartbeat_misses=3)
    started = time.monotonic()
    # The floor of the silence allowed is lowered to 3 s here (test_heartbeat.py checks the real one,
    # test_dib_image_action.py::test_killed_playbook_stops_its_build lives with it end to end).
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, json.dumps(args), "3"], env=env, stdout=subprocess.PIPE,
                            text=True, start_new_session=True)
    child = int(wait_for(dib["state"] / "child"))
    # One beat (as the action plugin writes it: the async results file), then silence.
    beat.write_text(f"{job}\n")
    out = proc.communicate(timeout=60)[0]
    elapsed = time.monotonic() - started
    assert proc.returncode == 1
    assert "stopped at install.d: no heartbeat from the controller" in out, out
    assert elapsed < 25  # the floor (3 s here) after the one beat, then the cleanup
    assert wait_gone(lambda: not alive(child)), "DIB's child survived"
    assert leftovers(str(dest)) == []
    assert not beat.exists()
    note = json.loads((dest / "img.abandoned.json").read_text())
    assert (note["cause"], note["phase"], note["hook"]) == ("controller gone", "install.d", "50-fake")
    # async_wrapper would write the module's result now; the discarder deletes it once it has.
    job.write_text(json.dumps({"failed": True, "msg": "stopped"}))
    assert wait_gone(lambda: not job.exists(), 10), "the async result was left behind"
    # The next run reports the abandoned build once, builds, and the lock is free.
    result = dib_build.run(request(dib, dest, lock_timeout=5))
    assert result["built"]
    assert result["previous_build"]["summary"].startswith(
        "previous build was abandoned: controller gone at install.d (50-fake), "
    )
    assert not (dest / "img.abandoned.json").exists()
    assert "previous_build" not in dib_build.run(request(dib, dest))


def test_slow_controller_keeps_its_build(dib, tmp_path):
    """Beats further apart than the interval asked (a slow controller) do not stop the build."""
    dest = tmp_path / "out"
    beat = dest / ".img.heartbeat-t2"
    proc = start_runner(dib, dest, heartbeat_path=str(beat), heartbeat_interval=0.5, heartbeat_misses=3)
    try:
        wait_for(dib["state"] / "child")
        # A controller getting slower: from 1 s to 4 s between beats, where 3 x 0.5 s were asked for.
        # Each gap is below 3 times the longest one seen before it, so the build carries on.
        beat.write_text("")
        for gap in (1.0, 1.4, 2.0, 2.8, 4.0):
            time.sleep(gap)
            assert proc.poll() is None, proc.communicate()[0]
            beat.write_text("")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
    assert not (dest / "img.abandoned.json").exists()


def test_silent_controller_stops_the_wait_for_the_lock(dib, tmp_path, monkeypatch):
    # The floor of the silence allowed, lowered to 3 s for this test (test_heartbeat.py checks the real one).
    monkeypatch.setattr(heartbeat, "MIN_SILENCE", 3.0)
    dest = tmp_path / "out"
    # The holder outlives the whole wait: only the heartbeat can end it.
    holder = start_runner(dib, dest, timeout=120)
    try:
        wait_for(dib["state"] / "child")
        beat = dest / ".img.heartbeat-t3"

        def one_beat():
            # One beat, a poll interval after the module created the file, as a controller would: a
            # write in the same clock tick as the creation has the same mtime and is not a beat.
            wait_gone(beat.exists, 10)
            time.sleep(0.5)
            beat.write_text("")

        beater = threading.Thread(target=one_beat)
        beater.start()
        started = time.monotonic()
        with pytest.raises(dib_build.BuildError, match="stopped at the wait for a lock: no heartbeat"):
            dib_build.run(request(dib, dest, lock_timeout=120, heartbeat_path=str(beat), heartbeat_interval=0.5))
        beater.join()
        # The floor (3 s here) after the one beat; the holder's own timeout (120 s) is far off.
        assert time.monotonic() - started < 25
        assert not beat.exists()
        assert json.loads((dest / "img.abandoned.json").read_text())["phase"] == "the wait for a lock"
    finally:
        os.killpg(holder.pid, signal.SIGTERM)
        holder.communicate(timeout=60)


def test_killed_module_leaves_a_note_for_the_next_run(dib, tmp_path):
    dest = tmp_path / "out"
    proc = start_runner(dib, dest)
    wait_for(dib["state"] / "child")
    status = dest / ".img.progress.json"
    assert wait_gone(lambda: status.exists() and json.loads(status.read_text())["phase"] == "install.d", 10)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    note_file = dest / "img.abandoned.json"
    assert wait_gone(note_file.exists), "the guardian left no note"
    note = json.loads(note_file.read_text())
    assert (note["cause"], note["phase"]) == ("the module process died", "install.d")
    assert wait_gone(lambda: leftovers(str(dest)) == []), leftovers(str(dest))


SBOM_ELEMENTS = os.path.join(os.path.dirname(os.path.abspath(dib_build.__file__)), "..", "..", "..", "roles",
                             "build_image", "files", "elements")
STATUS = """Package: tree
Status: install ok installed
Architecture: amd64
Version: 2.1.0-1

Package: removed-one
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0

Package: bsdutils
Status: install ok installed
Architecture: amd64
Source: util-linux (2.38.1-5)
Version: 1:2.38.1-5+deb12u1
"""


def _target_root(tmp_path, status):
    root = tmp_path / "target"
    (root / "var/lib/dpkg").mkdir(parents=True, exist_ok=True)
    (root / "var/lib/dpkg/status").write_text(status)
    (root / "etc").mkdir(exist_ok=True)
    (root / "etc/os-release").write_text('ID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n')
    site = root / "opt/agent/lib/python3.11/site-packages/Foo_Bar-1.0.dist-info"
    site.mkdir(parents=True, exist_ok=True)
    (root / "opt/agent/pyvenv.cfg").write_text("home = /usr/bin\n")
    (site / "METADATA").write_text("Metadata-Version: 2.1\nName: Foo_Bar\nVersion: 1.0\n\nName: not this\n")
    return root


@pytest.mark.skipif(subprocess.run(["sh", "-c", "command -v dpkg-query"], check=False).returncode != 0,
                    reason="dpkg-query is not installed on this machine")
def test_sbom_from_the_element_inventory_then_compared_on_rebuild(dib, tmp_path):
    dest = tmp_path / "out"
    root = _target_root(tmp_path, STATUS)
    env = {"DIB_RELEASE": "bookworm", "FAKE_DIB_TARGET_ROOT": str(root)}
    over = dict(elements=["fake-os", "dbaas-sbom"], element_paths=[os.path.normpath(SBOM_ELEMENTS)], environment=env)
    result = dib_build.run(request(dib, dest, **over))
    sbom = result["sbom"]
    assert sbom["path"] == str(dest / "img.cdx.json")
    assert sbom["changes"] is None
    assert sbom["summary"] == {"deb": 2, "python": 1, "container-tarball": 0, "licensed-package": 0}
    doc = json.loads((dest / "img.cdx.json").read_text())
    assert doc["metadata"]["component"]["hashes"][0]["content"] == result["images"][0]["sha256"]
    assert sorted(c["purl"] for c in doc["components"] if "purl" in c) == [
        "pkg:deb/debian/bsdutils@1%3A2.38.1-5%2Bdeb12u1?arch=amd64&distro=debian-12",
        "pkg:deb/debian/tree@2.1.0-1?arch=amd64&distro=debian-12",
        "pkg:pypi/foo-bar@1.0",
    ]
    # The inventory path is the build's own, outside the target, and gone with the work folder.
    assert json.loads((dest / "img.fingerprint.json").read_text())["sbom"]["sha256"] == sbom["sha256"]
    assert leftovers(str(dest)) == []

    reused = dib_build.run(request(dib, dest, **over))
    assert reused["sbom"]["changes"] == "unchanged"
    assert reused["sbom"]["sha256"] == sbom["sha256"]

    _target_root(tmp_path, STATUS.replace("Version: 2.1.0-1", "Version: 2.0.4-1"))
    rebuilt = dib_build.run(request(dib, dest, force=True, **over))
    assert rebuilt["sbom"]["changes"]["downgraded"] == [
        {"kind": "deb", "name": "tree", "arch": "amd64", "from": "2.1.0-1", "to": "2.0.4-1"}]
    assert (dest / "img.cdx.previous.json").read_text() == json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def test_sbom_element_without_inventory_fails_the_build(dib, tmp_path):
    dest = tmp_path / "out"
    over = dict(elements=["fake-os", "dbaas-sbom"], element_paths=[os.path.normpath(SBOM_ELEMENTS)])
    with pytest.raises(dib_build.BuildError, match="SBOM cannot be made: the dbaas-sbom element wrote no inventory"):
        dib_build.run(request(dib, dest, **over))
    assert not (dest / "img.qcow2").exists()
    assert not (dest / "img.cdx.json").exists()
    assert leftovers(str(dest)) == []
