# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify stage's place in playbooks/build_guest.yml and its defaults."""

import pathlib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]


def _flat(tasks):
    for task in tasks:
        yield task
        for key in ("block", "rescue", "always"):
            yield from _flat(task.get(key) or [])


def _tasks():
    """Every task of every play, blocks opened, in playbook order."""
    plays = yaml.safe_load((ROOT / "playbooks" / "build_guest.yml").read_text())
    return [task for play in plays for task in _flat(play.get("tasks") or [])]


def _role_task(name):
    return next(task for task in _tasks()
                if task.get("ansible.builtin.include_role", {}).get("name") == f"dbaas.guest_images.{name}")


def test_verify_runs_between_build_and_publish_and_publish_takes_its_rows():
    roles = [task["ansible.builtin.include_role"]["name"].split(".")[-1] for task in _tasks()
             if "ansible.builtin.include_role" in task]
    assert roles.index("build_image") < roles.index("verify") < roles.index("publish")
    publish = _role_task("publish")["vars"]["publish_images"]
    assert publish.startswith("{{ build_image_results")
    assert "rejectattr('status', 'equalto', 'failed')" in publish
    # Between verify and publish the host's rows become the verify stage's rows.
    names = [task.get("name", "") for task in _tasks()]
    handover = next(task for task in _tasks()
                    if task.get("name") == "Stage verify - the report rows of this build host")
    assert handover["ansible.builtin.set_fact"]["build_image_results"] == "{{ verify_results }}"
    assert names.index(_role_task("verify")["name"]) < names.index(handover["name"]) < names.index(
        _role_task("publish")["name"])
    verify = _role_task("verify")["vars"]
    assert verify["verify_mode"] == "{{ build_guest_verify }}"
    assert _role_task("build_host")["vars"]["build_host_verify"] == "{{ build_guest_verify }}"


def test_verify_is_required_by_default():
    defaults = yaml.safe_load((ROOT / "playbooks" / "vars" / "build_guest_defaults.yml").read_text())
    assert defaults["build_guest_verify"] == "required"
    assert defaults["build_guest_verify_images"] == {}
    assert defaults["build_guest_verify_timeout"] == 0


def test_role_defaults_match_the_argument_specs():
    specs = yaml.safe_load((ROOT / "roles/verify/meta/argument_specs.yml").read_text())["argument_specs"]["main"]
    defaults = yaml.safe_load((ROOT / "roles/verify/defaults/main.yml").read_text())
    for name, option in specs["options"].items():
        if "default" in option:
            assert defaults[name] == option["default"], name
    assert set(defaults) == {name for name, option in specs["options"].items() if not option.get("required")}
