# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/build_guest.yml as a preview: ``--check --diff``, and refusals before any stage.

No image is built here (the built output is the session's base image).
"""

import os
import re
import time

from fixtures.build import BASE_IMAGE_NAME

BUILD_TASK_PREFIX = "Run diskimage-builder, unless the fingerprint is unchanged, for "


def _flat(text):
    # Ansible wraps long messages; compare on whitespace-collapsed text.
    return " ".join(text.split())


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
                        _flat(run.output))
    assert warning and warning["path"].startswith(f"{cache}/wheelhouse/trove-"), run.output[-4000:]
    assert "DBAAS_GUEST_AGENT_WHEELHOUSE: (does not exist yet)" in run.output, run.output[-4000:]  # the --diff
    assert "Passing `warnings` to `exit_json`" not in run.output
    assert "check mode: 1 would build, 0 unchanged" in _flat(run.output), run.output[-3000:]
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
    assert "check mode: 0 would build, 1 unchanged" in _flat(run.output), run.output[-3000:]
    assert "would build:" not in run.output
    assert {path: _identity(path) for path in watched} == before


TROVE = {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}


def _refused(run_playbook, tmp_path, build_cache_dir, **extra_vars):
    output = tmp_path / "output"
    started = time.monotonic()
    run = run_playbook(
        "build_guest.yml",
        {"build_guest_output_dir": str(output), "build_guest_cache_dir": str(build_cache_dir), **extra_vars},
        timeout=600,
    )
    elapsed = time.monotonic() - started
    assert run.rc != 0, run.output[-3000:]
    assert "TASK [Stage prepare" not in run.output, "a stage ran although the matrix was bad"
    assert not output.exists(), sorted(output.iterdir())
    assert elapsed < 120, f"the refusal took {elapsed:.0f} s"
    return _flat(run.output)


def test_bad_matrix_entries_are_refused_together_before_any_stage(run_playbook, tmp_path, build_cache_dir):
    typo = {key: value for key, value in TROVE.items() if key != "release"}
    typo["relase"] = "12"
    entries = [
        dict(TROVE, name="good"),
        dict(TROVE, name="half", size=2.5),
        typo,
        dict(TROVE, name="g", os="gentoo"),
        {"name": "plain", "elements": ["vm"], "enviroment": {"A": "1"}},
    ]
    out = _refused(run_playbook, tmp_path, build_cache_dir, build_guest_images=entries)
    assert "build_guest_images[1] (half): size: 2.5 is not a whole number of GiB;" in out
    assert "build_guest_images[2]: relase: unknown key of a Trove entry; did you mean 'release'? known keys: os," in out
    assert "build_guest_images[2]: release: missing;" in out
    assert "build_guest_images[3] (g): os: os 'gentoo' is not supported; supported: debian, ubuntu" in out
    assert "build_guest_images[4] (plain): enviroment: unknown key of a plain entry (no 'os'); did you mean" in out
    assert "build_guest_images[0]" not in out
    assert "os_layer_releases" not in out


def test_a_selection_of_nothing_is_refused_listing_the_matrix(run_playbook, tmp_path, build_cache_dir):
    out = _refused(run_playbook, tmp_path, build_cache_dir,
                   build_guest_images=[dict(TROVE, name="only")], build_guest_select="[?datastore=='nothing']")
    assert ("build_guest_select: '[?datastore=='nothing']' selects none of the 1 entries of build_guest_images"
            " ([0] only); fix the expression") in out
    assert "build_guest_allow_empty=true" in out
