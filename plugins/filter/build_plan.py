# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the build plan (each documented in the .yml file of its name beside this one).

``names | dbaas.guest_images.build_plan_hosts(hostvars, defaults, group)``
    the build hosts as the plan sees them (arch, labels, builds at once).
``selected | dbaas.guest_images.build_plan(hosts, previous_report, group)``
    one assignment per selected image: ``{name, host, reason, expected_seconds, moved_from, status}``.
``plan | dbaas.guest_images.build_replan(selected, hosts, broken, previous_report, enabled)``
    the images of hosts that could not be prepared moved onto the healthy ones, once.
``plan | dbaas.guest_images.build_plan_rows(rows, unreachable)``
    report rows for planned images no host left a row for.
``names | dbaas.guest_images.build_plan_broken_hosts(hostvars)``
    the hosts that did not finish their prepare stage, each with the reason it recorded.
``names | dbaas.guest_images.build_plan_lost_hosts(hostvars, probes)``
    the prepared hosts that did not get through their build stage: unreachable, or stopped.
``selected | dbaas.guest_images.build_plan_host_entries(plan, host)``
    the selected entries the plan gives one host.
``rows | dbaas.guest_images.build_plan_results(published)``
    per image: name, status, build host, Glance id (for set_stats).

The logic lives in ``plugins/module_utils/_plan``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._plan import plan as build_plan_logic
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain

# Host variables the plan reads, and the key each one fills.
HOST_VARIABLES = {
    "arch": "build_guest_host_arch",
    "labels": "build_guest_host_labels",
    "builds_at_once": "build_guest_builds_per_host",
}


def build_plan_hosts(names: Any, hostvars: Any, defaults: Any, group: Any = "build_hosts") -> list[dict[str, Any]]:
    host_vars: dict[str, dict[str, Any]] = {}
    for name in _plain(names or []):
        own = hostvars.get(name, {})
        host_vars[name] = {key: _plain(own[var]) for key, var in HOST_VARIABLES.items() if var in own}
    plain_defaults = _plain(defaults or {})
    settings = {key: plain_defaults.get(var, plain_defaults.get(key)) for key, var in HOST_VARIABLES.items()}
    try:
        hosts = build_plan_logic.hosts_from_vars(list(host_vars), host_vars, settings, str(group))
    except build_plan_logic.PlanError as exc:
        raise AnsibleFilterError(str(exc)) from None
    return [
        {"name": h.name, "arch": h.arch, "labels": sorted(h.labels), "builds_at_once": h.builds_at_once}
        for h in hosts
    ]


def _hosts(hosts: Any) -> list[build_plan_logic.PlanHost]:
    return [
        build_plan_logic.PlanHost(
            name=str(h["name"]), arch=build_plan_logic.normalize_arch(h.get("arch")),
            labels=frozenset(h.get("labels") or []), builds_at_once=int(h.get("builds_at_once", 1)),
        )
        for h in _plain(hosts or [])
    ]


def _report(report: Any) -> Mapping[str, Any]:
    report = _plain(report)
    return report if isinstance(report, dict) else {}


def build_plan(selected: Any, hosts: Any, previous_report: Any = None, group: Any = "build_hosts",
               matrix: Any = "build_guest_images") -> list[dict[str, Any]]:
    try:
        images = build_plan_logic.images_from_entries(_plain(selected or []), str(matrix))
        plan = build_plan_logic.make_plan(
            images, _hosts(hosts), build_plan_logic.history_from_report(_report(previous_report)), str(group)
        )
    except build_plan_logic.PlanError as exc:
        raise AnsibleFilterError(str(exc)) from None
    return [item.as_dict() for item in plan]


def build_replan(plan: Any, selected: Any, hosts: Any, broken: Any, previous_report: Any = None,
                 enabled: Any = True, matrix: Any = "build_guest_images") -> list[dict[str, Any]]:
    try:
        images = build_plan_logic.images_from_entries(_plain(selected or []), str(matrix))
    except build_plan_logic.PlanError as exc:
        raise AnsibleFilterError(str(exc)) from None
    moved = build_plan_logic.replan(
        build_plan_logic.assignments_from_dicts(_plain(plan or [])), images, _hosts(hosts),
        {str(k): str(v) for k, v in _plain(broken or {}).items()},
        build_plan_logic.history_from_report(_report(previous_report)), bool(enabled),
    )
    return [item.as_dict() for item in moved]


def build_plan_rows(plan: Any, rows: Any, unreachable: Any = None) -> list[dict[str, Any]]:
    return build_plan_logic.unbuilt_rows(
        build_plan_logic.assignments_from_dicts(_plain(plan or [])), _plain(rows or []),
        {str(k): str(v) for k, v in _plain(unreachable or {}).items()},
    )


def build_plan_lines(plan: Any) -> list[str]:
    return build_plan_logic.plan_lines(build_plan_logic.assignments_from_dicts(_plain(plan or [])))


def build_plan_broken_hosts(names: Any, hostvars: Any) -> dict[str, str]:
    broken: dict[str, str] = {}
    for name in _plain(names or []):
        own = hostvars.get(name, {})
        if own.get("build_guest_host_ready"):
            continue
        problem = own.get("build_guest_host_problem")
        broken[name] = str(problem) if problem else "unreachable: the host went away during its prepare stage"
    return broken


def build_plan_lost_hosts(names: Any, hostvars: Any, probes: Any = None) -> dict[str, str]:
    """Hosts prepared for the build that did not get through it, each with what became of it.

    ``probes`` are the registered results of a ping of each of them from the controller (a loop
    with ``ignore_unreachable``): an unreachable one is ``unreachable: <the connection error>``;
    one that answers stopped for another reason (the play output says which).
    """
    answers: dict[str, Mapping[str, Any]] = {}
    for probe in _plain(probes or []):
        if isinstance(probe, Mapping) and probe.get("build_guest_lost_host"):
            answers[str(probe["build_guest_lost_host"])] = probe
    lost: dict[str, str] = {}
    for name in _plain(names or []):
        own = hostvars.get(name, {})
        if not own.get("build_guest_host_ready") or own.get("build_guest_host_finished"):
            continue
        selected = own.get("build_guest_selected")
        if selected is not None and len(selected) == 0:
            continue  # nothing to build there: it ended early on purpose
        probe = answers.get(str(name))
        if probe is None or probe.get("unreachable"):
            why = str((probe or {}).get("msg") or "no connection").strip().splitlines()
            lost[str(name)] = (f"unreachable: the host stopped answering during its build stage"
                               f" ({why[0] if why else 'no connection'})")
        else:
            lost[str(name)] = ("the play stopped on this host during its build stage (it still answers;"
                               " the play output says which task failed)")
    return lost


def build_plan_host_entries(selected: Any, plan: Any, host: Any) -> list[dict[str, Any]]:
    return build_plan_logic.entries_for_host(
        _plain(selected or []), build_plan_logic.assignments_from_dicts(_plain(plan or [])), str(host)
    )


def build_plan_results(rows: Any, published: Any = None) -> list[dict[str, Any]]:
    return build_plan_logic.image_results(_plain(rows or []), _plain(published or []))


class FilterModule:
    """dbaas.guest_images build plan filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "build_plan_hosts": build_plan_hosts,
            "build_plan": build_plan,
            "build_replan": build_replan,
            "build_plan_rows": build_plan_rows,
            "build_plan_lines": build_plan_lines,
            "build_plan_broken_hosts": build_plan_broken_hosts,
            "build_plan_lost_hosts": build_plan_lost_hosts,
            "build_plan_host_entries": build_plan_host_entries,
            "build_plan_results": build_plan_results,
        }
