# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dib_images module on its own (no action plugin): builds one after another; its checks and filters."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import yaml

from ansible_collections.dbaas.guest_images.plugins.filter import build_report as report_filters
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import batch
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import slot_cache_dir
from ansible_collections.dbaas.guest_images.plugins.modules import dib_images

_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("fake_dib_for_images", os.path.join(_HERE, "test_dib_image.py"))
fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake)


def run_module(tmp_path, args, check_mode=False, diff=False):
    path = tmp_path / "args.json"
    path.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.run([sys.executable, dib_images.__file__, str(path)], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    return json.loads(proc.stdout)


def build(dib, dest, name, **over):
    params = fake.params(dib, dest, name=name, **over)
    return {k: v for k, v in params.items() if v is not None and not k.startswith("heartbeat")}


def test_without_the_action_plugin_the_builds_run_one_after_another(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    result = run_module(tmp_path, {"builds": [build(dib, dest, "a"), build(dib, dest, "bad", mode="fail"),
                                              build(dib, dest, "b")], "builds_at_once": 2})
    assert result["changed"] is True and not result.get("failed")
    names = [item["name"] for item in result["results"]]
    assert names == ["a", "bad", "b"]
    assert result["results"][0]["built"] and result["results"][2]["built"]
    assert result["results"][1]["failed"] and "FAKE_SETTING must be set" in result["results"][1]["msg"]
    lines = (dib["state"] / "spans").read_text().splitlines()
    assert [line.split()[0] for line in lines] == ["start", "end"] * 3

    again = run_module(tmp_path, {"builds": [build(dib, dest, "a")], "builds_at_once": 1}, check_mode=True)
    assert again["changed"] is False and again["results"][0]["built"] is False


def test_diff_mode_gives_the_task_one_diff_per_changed_build(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    run_module(tmp_path, {"builds": [build(dib, dest, "a")]})
    changed = build(dib, dest, "a", environment={"DIB_RELEASE": "trixie"})
    result = run_module(tmp_path, {"builds": [changed, build(dib, dest, "b")]}, check_mode=True, diff=True)
    assert [(d["before_header"], d["after_header"]) for d in result["diff"]] == [
        ("a (last build)", "a (this run)"), ("b (no earlier build)", "b (this run)")]
    assert result["diff"][0]["before"]["environment"]["DIB_RELEASE"] == "bookworm"
    assert result["diff"][0]["after"]["environment"]["DIB_RELEASE"] == "trixie"
    unchanged = run_module(tmp_path, {"builds": [build(dib, dest, "a")]}, check_mode=True, diff=True)
    assert "diff" not in unchanged


def test_fail_fast_without_the_action_plugin(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    result = run_module(tmp_path, {"builds": [build(dib, dest, "bad", mode="fail"), build(dib, dest, "b")],
                                   "fail_fast": True})
    assert "not started: the build of bad failed first (fail_fast)" in result["results"][1]["msg"]
    assert fake.runs(dib) == 1


def test_a_wrong_build_fails_the_module_before_any_build(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    wrong = {"name": "b", "elements": "x", "dest": 3, "size": "big"}
    result = run_module(tmp_path, {"builds": [build(dib, dest, "a"), wrong]})
    assert result["failed"]
    assert "builds[1] (b): " in result["msg"] and "size" in result["msg"]
    assert fake.runs(dib) == 0


@pytest.mark.parametrize(("cache_dir", "environment", "slot", "expected"), [
    (None, {}, 1, "~/.cache/image-create"),
    (None, {}, 2, "~/.cache/image-create-slot2"),
    ("/srv/cache/", {}, 3, "/srv/cache-slot3"),
    (None, {"DIB_IMAGE_CACHE": "/var/cache/dib"}, 2, "/var/cache/dib-slot2"),
    ("/srv/cache", {"DIB_IMAGE_CACHE": "/var/cache/dib"}, 1, "/srv/cache"),
])
def test_each_slot_has_its_own_cache(cache_dir, environment, slot, expected):
    assert slot_cache_dir(cache_dir, environment, slot) == expected


def test_builds_from_specs_puts_each_image_over_the_host():
    specs = [
        {"name": "deb", "elements": ["debian-minimal", "vm"], "formats": [], "size": None, "compress": False,
         "environment": {"DIB_RELEASE": "bookworm", "DIB_DISTRIBUTION_MIRROR": "http://own"},
         "trove": {"datastore": "mysql"}},
        {"name": "ubu", "elements": ["ubuntu-minimal"], "size": 4},
    ]
    builds = report_filters.dib_image_builds(
        specs, {"dest": "/out", "cache_dir": "", "timeout": 60, "force": False},
        {"DIB_DISTRIBUTION_MIRROR": "http://debian", "DIB_APT_PROXY": "p"},
        {"ubuntu": {"DIB_DISTRIBUTION_MIRROR": "http://ubuntu"}}, "debian")
    assert builds[0] == {"dest": "/out", "timeout": 60, "force": False, "name": "deb",
                         "elements": ["debian-minimal", "vm"], "compress": False,
                         "environment": {"DIB_RELEASE": "bookworm", "DIB_DISTRIBUTION_MIRROR": "http://own",
                                         "DIB_APT_PROXY": "p"}}
    assert builds[1]["size"] == 4
    assert builds[1]["environment"] == {"DIB_DISTRIBUTION_MIRROR": "http://ubuntu", "DIB_APT_PROXY": "p"}
    # Every build option of a spec is a dib_image option.
    assert set(batch.IMAGE_OPTIONS) <= set(dib_images_options())


def dib_images_options():
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import argument_spec

    return argument_spec()


def test_a_spec_without_name_or_elements_is_refused_naming_its_index():
    from ansible.errors import AnsibleFilterError

    with pytest.raises(AnsibleFilterError, match=r"build_image_specs\[1\]: needs at least `name`"):
        report_filters.dib_image_builds([{"name": "a", "elements": ["x"]}, {"name": "b", "elements": []}], {})


def test_report_rows_of_a_batch_name_the_slot():
    rows = report_filters.build_report_rows(
        {"results": [{"name": "a", "built": True, "changed": True, "slot": 2, "cache_dir": "~/c-slot2"},
                     {"name": "b", "failed": True, "msg": "boom"}]}, "h1")
    assert [(row["name"], row["status"], row.get("build_slot")) for row in rows] == [
        ("a", "built", 2), ("b", "failed", None)]
    assert rows[0]["cache_dir"] == "~/c-slot2"


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(dib_images.DOCUMENTATION)["options"]
    spec = batch.argument_spec()
    assert set(doc) == set(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
        assert bool(doc[name].get("required")) == bool(option.get("required")), name
