# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build plan: one host per image, affinity, longest first, constraints, replanning."""

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._plan import plan as p


def hosts(*names, **kwargs):
    return [p.PlanHost(name=name, **kwargs) for name in names]


def images(*names):
    return [p.PlanImage(name=name, where=f"build_guest_images entry '{name}'") for name in names]


def report(rows, plan=None):
    return {"images": rows, "plan": plan or []}


def row(name, host, status="built", duration=10.0, fingerprint="f" * 64):
    return {"name": name, "build_host": host, "status": status, "duration": duration, "fingerprint": fingerprint}


def test_every_image_gets_exactly_one_host_and_equal_images_spread_evenly():
    plan = p.make_plan(images("a", "b", "c", "d"), hosts("h1", "h2"))
    assert [item.name for item in plan] == ["a", "b", "c", "d"]
    assert [item.host for item in plan] == ["h1", "h2", "h1", "h2"]
    assert all("longest first" in item.reason for item in plan)
    assert all(item.expected_seconds == p.DEFAULT_EXPECTED_SECONDS for item in plan)


def test_affinity_sends_an_image_back_to_the_host_that_holds_its_fingerprint():
    history = p.history_from_report(report([row("a", "h2"), row("b", "h2", status="reused", duration=0.2)]))
    plan = p.make_plan(images("a", "b", "c"), hosts("h1", "h2"), history)
    by_name = {item.name: item for item in plan}
    assert by_name["a"].host == "h2" and by_name["b"].host == "h2"
    assert by_name["a"].reason == "affinity: h2 holds its last build (fingerprint ffffffffffff)"
    # c has no history; h1 has nothing planned, so it goes there.
    assert by_name["c"].host == "h1"


def test_affinity_to_a_host_no_longer_in_the_group_falls_back_to_balancing():
    history = p.history_from_report(report([row("a", "gone")]))
    (item,) = p.make_plan(images("a"), hosts("h1"), history)
    assert item.host == "h1" and "longest first" in item.reason


def test_longest_expected_build_first_onto_the_least_loaded_host():
    history = p.history_from_report(report([row("big", "x", duration=300), row("mid", "x", duration=200),
                                            row("small", "x", duration=100), row("tiny", "x", duration=50)]))
    plan = p.make_plan(images("tiny", "small", "mid", "big"), hosts("h1", "h2"), history)
    by_name = {item.name: item.host for item in plan}
    # LPT: big->h1 (300), mid->h2 (200), small->h2 (300), tiny->h1 (350)... ties go to the first host
    assert by_name == {"big": "h1", "mid": "h2", "small": "h2", "tiny": "h1"}
    assert "expected 300 s (last build)" in plan[3].reason


def test_reused_rows_keep_the_expected_time_of_the_plan_they_came_from():
    history = p.history_from_report(report([row("a", "h1", status="reused", duration=0.3)],
                                           plan=[{"name": "a", "expected_seconds": 240.0}]))
    assert history["a"].seconds == 240.0
    assert history["a"].host == "h1"


def test_failed_rows_give_no_affinity():
    history = p.history_from_report(report([row("a", "h2", status="failed")]))
    assert history == {}


def test_builds_at_once_counts_slots():
    plan = p.make_plan(images("a", "b", "c"), [p.PlanHost("h1", builds_at_once=2), p.PlanHost("h2")])
    assert [item.host for item in plan] == ["h1", "h2", "h1"]


def test_architecture_and_labels_constrain_the_host():
    fleet = [p.PlanHost("x86"), p.PlanHost("arm", arch="arm64", labels=frozenset({"ssd"})),
             p.PlanHost("arm2", arch="arm64")]
    wanted = [p.PlanImage("a", arch="arm64", labels=("ssd",), where="e'a'"), p.PlanImage("b", where="e'b'"),
              p.PlanImage("c", arch="arm64", where="e'c'")]
    plan = p.make_plan(wanted, fleet)
    assert [item.host for item in plan] == ["arm", "x86", "arm2"]


def test_no_fitting_host_is_refused_naming_every_entry_and_the_fix():
    fleet = [p.PlanHost("h1"), p.PlanHost("h2", labels=frozenset({"gpu"}))]
    wanted = [p.PlanImage("a", arch="arm64", where="build_guest_images entry 'a'"),
              p.PlanImage("b", labels=("ssd",), where="build_guest_images entry 'b'"),
              p.PlanImage("c", labels=("gpu",), where="build_guest_images entry 'c'")]
    with pytest.raises(p.PlanError) as error:
        p.make_plan(wanted, fleet, group="trove_image_builders")
    lines = str(error.value).splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("build_guest_images entry 'a': no build host of group 'trove_image_builders' fits")
    assert "needs arch arm64" in lines[0]
    assert "h2 (arch amd64, labels [gpu])" in lines[0]
    assert "build_guest_host_labels" in lines[1] and "labels [ssd]" in lines[1]


def test_an_empty_group_is_refused_saying_which_group():
    with pytest.raises(p.PlanError, match="build host group 'builders' has no hosts.*build_guest_host_group"):
        p.make_plan(images("a"), [], group="builders")


def test_no_images_no_hosts_is_an_empty_plan():
    assert p.make_plan([], []) == []


def test_entries_give_names_arch_and_labels():
    entries = [{"name": "plain", "elements": ["x"], "arch": "x86_64", "labels": ["fast"]},
               {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0",
                "mode": "container"}]
    got = p.images_from_entries(entries)
    assert got[0] == p.PlanImage("plain", "amd64", ("fast",), "build_guest_images entry 'plain'")
    assert got[1].name == "trove-debian-12-mysql-8.0-container"


def test_a_name_selected_twice_is_refused():
    with pytest.raises(p.PlanError, match="entry 'a': the name is selected twice"):
        p.images_from_entries([{"name": "a"}, {"name": "a"}])


def test_labels_that_are_not_a_list_are_refused():
    with pytest.raises(p.PlanError, match="entry 'a': labels: 5 is not a list"):
        p.images_from_entries([{"name": "a", "labels": 5}])


def test_hosts_from_vars_use_defaults_and_refuse_bad_slots():
    got = p.hosts_from_vars(["h1", "h2"], {"h2": {"arch": "aarch64", "labels": "a, b", "builds_at_once": "3"}},
                            {"arch": "amd64", "labels": [], "builds_at_once": 1})
    assert got == [p.PlanHost("h1"), p.PlanHost("h2", "arm64", frozenset({"a", "b"}), 3)]
    with pytest.raises(p.PlanError, match="build host h1 .*builds at once is 0"):
        p.hosts_from_vars(["h1"], {"h1": {"builds_at_once": 0}}, {"builds_at_once": 1})
    with pytest.raises(p.PlanError, match="'many' is not a number"):
        p.hosts_from_vars(["h1"], {}, {"builds_at_once": "many"})


def test_replan_moves_the_images_of_broken_hosts_once():
    fleet = hosts("h1", "h2", "h3")
    wanted = images("a", "b", "c", "d", "e", "f")
    plan = p.make_plan(wanted, fleet)
    assert [item.host for item in plan] == ["h1", "h2", "h3", "h1", "h2", "h3"]
    moved = p.replan(plan, wanted, fleet, {"h3": "unreachable: connection refused"})
    assert [item.host for item in moved] == ["h1", "h2", "h1", "h1", "h2", "h2"]
    assert moved[2].moved_from == "h3"
    assert moved[2].reason.startswith("moved from h3 (unreachable: connection refused); longest first")
    assert moved[0] == plan[0]
    # Moved once: if the new host breaks too, the image is not moved again.
    again = p.replan(moved, wanted, fleet, {"h3": "x", "h1": "prepare failed: no sudo"})
    assert again[2].host is None and again[2].status == p.STATUS_UNREACHABLE
    assert "moved once already" in again[2].reason
    assert again[0].host == "h2" and again[0].moved_from == "h1"


def test_replan_off_leaves_the_images_unbuilt_with_the_reason():
    fleet = hosts("h1", "h2")
    wanted = images("a", "b")
    moved = p.replan(p.make_plan(wanted, fleet), wanted, fleet, {"h2": "no sudo"}, enabled=False)
    assert moved[1].host is None and moved[1].status == "unreachable"
    assert moved[1].reason == "h2 could not build: no sudo; not moved, replanning is off (build_guest_replan)"


def test_replan_with_no_fitting_healthy_host():
    fleet = [p.PlanHost("h1"), p.PlanHost("h2", arch="arm64")]
    wanted = [p.PlanImage("a"), p.PlanImage("b", arch="arm64")]
    moved = p.replan(p.make_plan(wanted, fleet), wanted, fleet, {"h2": "unreachable"})
    assert moved[1].host is None and "no healthy build host fits (arch arm64" in moved[1].reason


def test_unbuilt_rows_cover_every_planned_image_without_a_row():
    unplaced = p.Assignment("b", None, "h3 could not build: down", 1.0, "h3", p.STATUS_UNREACHABLE)
    plan = [p.Assignment("a", "h1", "r", 1.0), unplaced, p.Assignment("c", "h2", "r", 1.0),
            p.Assignment("d", "h1", "r", 1.0)]
    rows = p.unbuilt_rows(plan, [{"name": "a"}], {"h2": "unreachable: ssh: connect refused"})
    assert [(r["name"], r["status"], r["build_host"]) for r in rows] == [
        ("b", "unreachable", "h3"), ("c", "unreachable", "h2"), ("d", "not_built", "h1")]
    assert rows[1]["reason"] == "h2: unreachable: ssh: connect refused"
    stopped = p.unbuilt_rows(plan, [{"name": "a"}, {"name": "b"}, {"name": "d"}], {"h2": "Stage publish failed: x"})
    assert [(r["name"], r["status"], r["reason"]) for r in stopped] == [
        ("c", "not_built", "h2: Stage publish failed: x")]


def test_plan_lines_and_host_images():
    plan = [p.Assignment("a", "h1", "why", 1.0), p.Assignment("b", None, "none fits", 1.0, status="unreachable")]
    assert p.plan_lines(plan) == ["a -> h1 (why)", "b -> (no host) (none fits)"]
    assert p.host_images(plan, "h1") == ["a"]
    assert p.assignments_from_dicts([item.as_dict() for item in plan]) == plan


def test_entries_for_host_and_image_results():
    entries = [{"name": "a"}, {"name": "b"}, {"name": "c"}]
    plan = [p.Assignment("a", "h1", "r", 1.0), p.Assignment("b", "h2", "r", 1.0),
            p.Assignment("c", None, "r", 1.0, status=p.STATUS_UNREACHABLE)]
    assert p.entries_for_host(entries, plan, "h1") == [{"name": "a"}]
    rows = [{"name": "a", "status": "built", "build_host": "h1", "outputs": [{"path": "/o/a.qcow2"}], "reason": "new",
             "sbom": {"path": "/o/a.cdx.json", "sha256": "s"}},
            {"name": "c", "status": "unreachable", "build_host": "h3", "outputs": [], "error": "h3 down"}]
    published = [{"path": "/o/a.qcow2", "image_id": "id-a"}, {"path": "/o/x.qcow2", "image_id": "id-x"}]
    assert p.image_results(rows, published) == [
        {"name": "a", "status": "built", "build_host": "h1", "glance_image_id": "id-a", "glance_image_ids": ["id-a"],
         "reason": "new", "sbom": "/o/a.cdx.json"},
        {"name": "c", "status": "unreachable", "build_host": "h3", "glance_image_id": None, "glance_image_ids": [],
         "reason": "h3 down", "sbom": None},
    ]
