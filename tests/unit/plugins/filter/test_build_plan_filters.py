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


def test_lost_hosts_are_the_prepared_ones_that_did_not_finish():
    hostvars = {
        "done": {"build_guest_host_ready": True, "build_guest_host_finished": True, "build_guest_selected": [{}]},
        "idle": {"build_guest_host_ready": True, "build_guest_selected": []},
        "broken": {"build_guest_host_ready": False},
        "gone": {"build_guest_host_ready": True, "build_guest_selected": [{"name": "a"}]},
        "stopped": {"build_guest_host_ready": True, "build_guest_selected": [{"name": "b"}]},
        "early": {"build_guest_host_ready": True},  # lost before its first build task
    }
    names = list(hostvars)
    assert sorted(f.build_plan_lost_hosts(names, hostvars)) == ["early", "gone", "stopped"]
    probes = [
        {"build_guest_lost_host": "gone", "unreachable": True,
         "msg": "Failed to connect to the host via ssh: Connection refused\nmore"},
        {"build_guest_lost_host": "stopped", "ping": "pong"},
    ]
    lost = f.build_plan_lost_hosts(names, hostvars, probes)
    assert lost["gone"] == ("unreachable: the host stopped answering during its build stage"
                            " (Failed to connect to the host via ssh: Connection refused)")
    assert lost["stopped"].startswith("the play stopped on this host during its build stage")
    assert lost["early"].startswith("unreachable: ")  # not probed: no answer is known


def test_images_of_a_lost_host_get_rows_that_say_so():
    plan = [{"name": "a", "host": "gone", "reason": "least loaded", "status": "planned"},
            {"name": "b", "host": "stopped", "reason": "least loaded", "status": "planned"}]
    hostvars = {"gone": {"build_guest_host_ready": True}, "stopped": {"build_guest_host_ready": True}}
    lost = f.build_plan_lost_hosts(["gone", "stopped"], hostvars, [
        {"build_guest_lost_host": "gone", "unreachable": True, "msg": "timed out"},
        {"build_guest_lost_host": "stopped", "ping": "pong"},
    ])
    rows = {row["name"]: row for row in f.build_plan_rows(plan, [], lost)}
    assert rows["a"]["status"] == "unreachable" and "timed out" in rows["a"]["reason"]
    assert rows["b"]["status"] == "not_built" and rows["b"]["reason"].startswith("stopped: the play stopped")
