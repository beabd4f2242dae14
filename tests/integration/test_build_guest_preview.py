# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/build_guest.yml as a preview: ``--check --diff``, and refusals before any stage.

No image is built here (the built output is the session's base image).
"""

import os
import re

from fixtures.build import BASE_IMAGE_NAME

BUILD_TASK_PREFIX = "Run diskimage-builder, unless the fingerprint is unchanged, for "


def _identity(path):
    stat = os.stat(path)
    return (stat.st_ino, stat.st_mtime_ns, stat.st_size)


def test_check_mode_on_a_fresh_machine_says_would_build_and_builds_nothing(run_playbook, tmp_path, build_cache_dir):
    # The default matrix entry (a Trove image): its guest agent wheelhouse is
    # made by the compose stage, so in check mode it does not exist yet.
    cache = tmp_path / "os-layer-cache"
    output = tmp_path / "output"
    run = run_playbook(
        "build_guest.yml",
        {
            "os_layer_cache_dir": str(cache),
            "build_guest_output_dir": str(output),
            "build_guest_cache_dir": str(build_cache_dir),
        },
        check=True,
    )
    assert run.rc == 0, run.output[-6000:]
    assert "would build" in run.output, run.output[-4000:]
    warning = re.search(r"inputs: 'DBAAS_GUEST_AGENT_WHEELHOUSE' points at '(?P<path>[^']+)', which does not exist yet",
                        run.output)
    assert warning and warning["path"].startswith(f"{cache}/wheelhouse/trove-"), run.output[-4000:]
    assert "DBAAS_GUEST_AGENT_WHEELHOUSE: (does not exist yet)" in run.output, run.output[-4000:]  # the --diff
    assert "Passing `warnings` to `exit_json`" not in run.output
    assert "check mode: 1 would build, 0 unchanged" in run.output, run.output[-3000:]
    assert "0 built, 1 reused" not in run.output
    assert not (cache / "wheelhouse").exists() or not any((cache / "wheelhouse").iterdir())
    assert not output.exists() or not [p for p in output.iterdir() if not p.name.startswith(".")], (
        sorted(output.iterdir())
    )


def test_check_mode_on_a_built_output_says_unchanged(base_image, run_playbook):
    out = base_image.output_dir
    watched = [out / f"{BASE_IMAGE_NAME}.{suffix}" for suffix in ("qcow2", "log", "fingerprint.json")]
    watched += [out / "build-report.json", out / "build-report.md"]
    before = {path: _identity(path) for path in watched}
    run = run_playbook("build_guest.yml", base_image.vars, check=True)
    assert run.rc == 0, run.output[-6000:]
    assert run.task_status(BUILD_TASK_PREFIX + BASE_IMAGE_NAME) == ["ok"], run.output[-4000:]
    assert "check mode: 0 would build, 1 unchanged" in run.output, run.output[-3000:]
    assert "would build:" not in run.output
    assert {path: _identity(path) for path in watched} == before
