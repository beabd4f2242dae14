# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build plan filters: Ansible's values in, plain plan dicts out, errors as AnsibleFilterError."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.filter import build_plan as f

DEFAULTS = {"build_guest_host_arch": "amd64", "build_guest_host_labels": [], "build_guest_builds_per_host": 1}


def test_hosts_from_hostvars_with_defaults():
    hostvars = {"b1": {"build_guest_host_labels": ["ssd"]}, "b2": {"build_guest_builds_per_host": 2}}
    assert f.build_plan_hosts(["b1", "b2"], hostvars, DEFAULTS) == [
        {"name": "b1", "arch": "amd64", "labels": ["ssd"], "builds_at_once": 1},
        {"name": "b2", "arch": "amd64", "labels": [], "builds_at_once": 2},
    ]


def test_plan_replan_rows_and_lines():
    hosts = f.build_plan_hosts(["b1", "b2"], {}, DEFAULTS)
    selected = [{"name": "one", "elements": ["x"]}, {"name": "two", "elements": ["x"], "labels": []}]
    previous = {"images": [{"name": "two", "build_host": "b1", "status": "built", "duration": 5.0,
                            "fingerprint": "ab" * 32}]}
    plan = f.build_plan(selected, hosts, previous)
    assert [(item["name"], item["host"]) for item in plan] == [("one", "b2"), ("two", "b1")]
    moved = f.build_replan(plan, selected, hosts, {"b2": "unreachable: refused"}, previous)
    assert [(item["name"], item["host"]) for item in moved] == [("one", "b1"), ("two", "b1")]
    assert f.build_plan_lines(moved)[0].startswith("one -> b1 (moved from b2 (unreachable: refused); longest first")
    rows = f.build_plan_rows(moved, [{"name": "two"}], {"b1": "unreachable: gone"})
    assert [(r["name"], r["status"]) for r in rows] == [("one", "unreachable")]


def test_no_fitting_host_is_a_filter_error_naming_the_entry():
    hosts = f.build_plan_hosts(["b1"], {}, DEFAULTS, "trove_image_builders")
    with pytest.raises(AnsibleFilterError, match="entry 'one': no build host of group 'trove_image_builders' fits"):
        f.build_plan([{"name": "one", "elements": ["x"], "labels": ["gpu"]}], hosts, {}, "trove_image_builders")


def test_bad_slots_is_a_filter_error():
    with pytest.raises(AnsibleFilterError, match="build host b1 .*builds at once is 0"):
        f.build_plan_hosts(["b1"], {"b1": {"build_guest_builds_per_host": 0}}, DEFAULTS)
