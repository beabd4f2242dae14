# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build plan: which build host builds which image in one run, and why.

PRIVATE to the collection: no compatibility promise outside it.

Made on the controller before anything runs on a build host, from the
selected matrix entries, the build hosts (architecture, labels, how many
builds each runs at once) and the previous build report:

1. every image goes to exactly one host;
2. affinity: an image whose last report row says host H built or reused it
   (fingerprint F) goes back to H, so an unchanged image stays a no-op there
   and H's caches are reused; the ``dib_image`` fingerprint decision on H then
   answers "do I still hold F" at the cost of a no-op check;
3. the others, longest expected build first (the last report's build time,
   else all equal), onto the host with the least expected work per build slot;
4. a host must have the image's architecture and carry every label the entry
   names; an entry no host fits is refused, naming the entry, before any build.

:func:`replan` moves the images of hosts that could not be prepared
(unreachable, prepare failed) onto the healthy hosts, once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.composition import default_image_name
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.datastores import TROVE_FIELDS

# What an image costs when no earlier build says otherwise: all images equal.
DEFAULT_EXPECTED_SECONDS = 1.0
DEFAULT_ARCH = "amd64"
# DIB's architecture names, and the names hosts report for the same thing.
_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "ppc64le": "ppc64el"}

# Rows the plan itself puts into the report for images no host built.
STATUS_UNREACHABLE = "unreachable"
STATUS_NOT_BUILT = "not_built"


class PlanError(ValueError):
    """A plan that cannot be made; the message names the entry or option and the fix."""


def normalize_arch(arch: object) -> str:
    text = str(arch or DEFAULT_ARCH).strip().lower()
    return _ARCH_ALIASES.get(text, text)


@dataclass(frozen=True)
class PlanHost:
    """A build host as the plan sees it."""

    name: str
    arch: str = DEFAULT_ARCH
    labels: frozenset[str] = frozenset()
    builds_at_once: int = 1


@dataclass(frozen=True)
class PlanImage:
    """A selected matrix entry as the plan sees it."""

    name: str
    arch: str = DEFAULT_ARCH
    labels: tuple[str, ...] = ()
    where: str = ""


@dataclass(frozen=True)
class History:
    """What the previous report says of one image."""

    host: str | None = None
    fingerprint: str | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class Assignment:
    """One image of the plan: its host (None: no host could take it) and why."""

    name: str
    host: str | None
    reason: str
    expected_seconds: float
    moved_from: str | None = None
    status: str = "planned"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "host": self.host,
            "reason": self.reason,
            "expected_seconds": self.expected_seconds,
            "moved_from": self.moved_from,
            "status": self.status,
        }


@dataclass
class _Load:
    hosts: Sequence[PlanHost]
    seconds: dict[str, float] = field(default_factory=dict)

    def per_slot(self, host: PlanHost) -> float:
        return self.seconds.get(host.name, 0.0) / max(host.builds_at_once, 1)

    def add(self, host: str, seconds: float) -> None:
        self.seconds[host] = self.seconds.get(host, 0.0) + seconds


def _str_list(value: Any, where: str) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [str(item) for item in value]
    raise PlanError(f"{where}: {value!r} is not a list of labels; write it as a YAML list, e.g. [fast, ssd]")


def image_name(entry: Mapping[str, Any]) -> str:
    """The image name of a matrix entry (a Trove entry without ``name`` gets the default one)."""
    if entry.get("name"):
        return str(entry["name"])
    return default_image_name(*(str(entry.get(key, "?")) for key in TROVE_FIELDS))


def images_from_entries(entries: Iterable[Mapping[str, Any]], option: str = "build_guest_images") -> list[PlanImage]:
    """Plan images of selected matrix entries (``arch`` and ``labels`` keys)."""
    images: list[PlanImage] = []
    seen: set[str] = set()
    for entry in entries:
        name = image_name(entry)
        where = f"{option} entry '{name}'"
        if name in seen:
            raise PlanError(f"{where}: the name is selected twice; each image is built once per run, give each"
                            " entry its own name")
        seen.add(name)
        labels = tuple(_str_list(entry.get("labels"), f"{where}: labels"))
        images.append(PlanImage(name=name, arch=normalize_arch(entry.get("arch")), labels=labels, where=where))
    return images


def hosts_from_vars(
    names: Iterable[str],
    host_vars: Mapping[str, Mapping[str, Any]],
    defaults: Mapping[str, Any],
    group: str = "build_hosts",
) -> list[PlanHost]:
    """Plan hosts of a group from each host's ``arch``/``labels``/``builds_at_once`` variables (else ``defaults``)."""
    hosts: list[PlanHost] = []
    for name in names:
        own = host_vars.get(name) or {}
        merged = {key: own.get(key, value) for key, value in defaults.items()}
        where = f"build host {name} (group {group})"
        try:
            slots = int(merged.get("builds_at_once", 1))
        except (TypeError, ValueError):
            raise PlanError(f"{where}: builds at once {merged.get('builds_at_once')!r} is not a number;"
                            " set build_guest_builds_per_host to 1 or more") from None
        if slots < 1:
            raise PlanError(f"{where}: builds at once is {slots}; set build_guest_builds_per_host to 1 or more")
        hosts.append(
            PlanHost(
                name=str(name),
                arch=normalize_arch(merged.get("arch")),
                labels=frozenset(_str_list(merged.get("labels"), f"{where}: build_guest_host_labels")),
                builds_at_once=slots,
            )
        )
    return hosts


def history_from_report(report: Mapping[str, Any] | None) -> dict[str, History]:
    """Per image: the host and fingerprint of its last good row, and its last known build time."""
    report = report or {}
    planned_seconds: dict[str, float] = {}
    for item in report.get("plan") or []:
        if isinstance(item, Mapping) and isinstance(item.get("expected_seconds"), (int, float)):
            planned_seconds[str(item.get("name"))] = float(item["expected_seconds"])
    history: dict[str, History] = {}
    for row in report.get("images") or []:
        if not isinstance(row, Mapping) or row.get("status") not in ("built", "reused"):
            continue
        name = str(row.get("name"))
        seconds: float | None = planned_seconds.get(name)
        duration = row.get("duration")
        if row.get("status") == "built" and isinstance(duration, (int, float)) and duration > 0:
            seconds = float(duration)
        history[name] = History(host=row.get("build_host"), fingerprint=row.get("fingerprint"), seconds=seconds)
    return history


def _fits(image: PlanImage, host: PlanHost) -> bool:
    return image.arch == host.arch and set(image.labels) <= host.labels


def _describe_hosts(hosts: Sequence[PlanHost]) -> str:
    if not hosts:
        return "none"
    return "; ".join(
        "{} (arch {}, labels [{}])".format(host.name, host.arch, ", ".join(sorted(host.labels))) for host in hosts
    )


def check_constraints(images: Sequence[PlanImage], hosts: Sequence[PlanHost], group: str = "build_hosts") -> None:
    """Refuse, all at once, every image that no host of the group can build."""
    if not hosts and images:
        raise PlanError(
            f"the build host group '{group}' has no hosts, so none of {', '.join(i.name for i in images)} can be"
            f" built; add hosts to the group in the inventory or set build_guest_host_group to the group that"
            f" holds your build hosts"
        )
    problems = []
    for image in images:
        if any(_fits(image, host) for host in hosts):
            continue
        needs = f"arch {image.arch}" + (f" and labels [{', '.join(image.labels)}]" if image.labels else "")
        problems.append(
            f"{image.where}: no build host of group '{group}' fits (it needs {needs}; hosts: {_describe_hosts(hosts)});"
            " give a host that architecture and those labels (host variables build_guest_host_arch,"
            " build_guest_host_labels) or change the entry's arch/labels"
        )
    if problems:
        raise PlanError("\n".join(problems))


def _expected(image: PlanImage, history: Mapping[str, History]) -> tuple[float, str]:
    seconds = history.get(image.name, History()).seconds
    if seconds is None:
        return DEFAULT_EXPECTED_SECONDS, "no earlier build time, all images count equal"
    return seconds, f"expected {seconds:.0f} s (last build)"


def _place(
    images: Sequence[PlanImage],
    hosts: Sequence[PlanHost],
    history: Mapping[str, History],
    load: _Load,
    moved: Mapping[str, tuple[str, str]] | None = None,
    affinity: bool = True,
) -> list[Assignment]:
    moved = moved or {}
    placed: list[Assignment] = []
    rest: list[PlanImage] = []
    by_name = {host.name: host for host in hosts}
    for image in images:
        past = history.get(image.name, History())
        host = by_name.get(past.host or "")
        if affinity and host is not None and _fits(image, host):
            seconds, _why = _expected(image, history)
            load.add(host.name, seconds)
            fingerprint = (past.fingerprint or "")[:12] or "unknown"
            placed.append(Assignment(image.name, host.name, f"affinity: {host.name} holds its last build"
                                     f" (fingerprint {fingerprint})", seconds))
        else:
            rest.append(image)
    # Longest expected build first; ties keep the matrix order.
    order = sorted(range(len(rest)), key=lambda index: (-_expected(rest[index], history)[0], index))
    for index in order:
        image = rest[index]
        seconds, why = _expected(image, history)
        fitting = [host for host in hosts if _fits(image, host)]
        if not fitting:
            continue
        # Least expected work per build slot; ties go to the host listed first.
        host = min(fitting, key=lambda candidate: (load.per_slot(candidate), hosts.index(candidate)))
        before = load.per_slot(host)
        load.add(host.name, seconds)
        origin, origin_why = moved.get(image.name, (None, ""))
        prefix = f"moved from {origin} ({origin_why}); " if origin else ""
        placed.append(Assignment(image.name, host.name, f"{prefix}longest first ({why}) onto the least-loaded host"
                                 f" ({before:.0f} s planned per build slot)", seconds, moved_from=origin))
    return placed


def make_plan(
    images: Sequence[PlanImage],
    hosts: Sequence[PlanHost],
    history: Mapping[str, History] | None = None,
    group: str = "build_hosts",
) -> list[Assignment]:
    """The plan of a run: one assignment per image, in matrix order."""
    history = history or {}
    check_constraints(images, hosts, group)
    placed = {item.name: item for item in _place(images, hosts, history, _Load(hosts))}
    return [placed[image.name] for image in images]


def replan(
    plan: Sequence[Assignment],
    images: Sequence[PlanImage],
    hosts: Sequence[PlanHost],
    broken: Mapping[str, str],
    history: Mapping[str, History] | None = None,
    enabled: bool = True,
) -> list[Assignment]:
    """Move the images of ``broken`` hosts (name -> reason) onto the healthy hosts, once.

    An image already moved once, or with no healthy host that fits, or with
    replanning off, stays unbuilt with the reason (status ``unreachable``).
    """
    history = history or {}
    healthy = [host for host in hosts if host.name not in broken]
    load = _Load(healthy)
    for item in plan:
        if item.host is not None and item.host not in broken:
            load.add(item.host, item.expected_seconds)
    by_name = {image.name: image for image in images}
    moving: list[PlanImage] = []
    moved: dict[str, tuple[str, str]] = {}
    result: dict[str, Assignment] = {}
    for item in plan:
        if item.host is None or item.host not in broken:
            result[item.name] = item
            continue
        why = broken[item.host]
        if not enabled or item.moved_from is not None:
            rule = "replanning is off (build_guest_replan)" if not enabled else "it was moved once already"
            result[item.name] = Assignment(item.name, None, f"{item.host} could not build: {why}; not moved,"
                                           f" {rule}", item.expected_seconds, moved_from=item.host,
                                           status=STATUS_UNREACHABLE)
            continue
        moving.append(by_name[item.name])
        moved[item.name] = (item.host, why)
    for assignment in _place(moving, healthy, history, load, moved, affinity=False):
        result[assignment.name] = assignment
    for image in moving:
        if image.name not in result:
            origin, why = moved[image.name]
            result[image.name] = Assignment(
                image.name, None,
                f"{origin} could not build: {why}; no healthy build host fits"
                f" (arch {image.arch}, labels [{', '.join(image.labels)}])",
                history.get(image.name, History()).seconds or DEFAULT_EXPECTED_SECONDS,
                moved_from=origin, status=STATUS_UNREACHABLE,
            )
    return [result[item.name] for item in plan]


def assignments_from_dicts(items: Iterable[Mapping[str, Any]]) -> list[Assignment]:
    return [
        Assignment(
            name=str(item["name"]),
            host=None if item.get("host") in (None, "") else str(item["host"]),
            reason=str(item.get("reason", "")),
            expected_seconds=float(item.get("expected_seconds", DEFAULT_EXPECTED_SECONDS)),
            moved_from=None if item.get("moved_from") in (None, "") else str(item["moved_from"]),
            status=str(item.get("status", "planned")),
        )
        for item in items
    ]


def plan_lines(plan: Sequence[Assignment]) -> list[str]:
    """The plan for people: ``image -> host (why)``, one line per image."""
    return [f"{item.name} -> {item.host or '(no host)'} ({item.reason})" for item in plan]


def host_images(plan: Sequence[Assignment], host: str) -> list[str]:
    """The names of the images the plan gives one host."""
    return [item.name for item in plan if item.host == host and item.status == "planned"]


def unbuilt_rows(
    plan: Sequence[Assignment], rows: Iterable[Mapping[str, Any]], unreachable: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """Report rows for planned images that have no row: unplaced, or their host stopped during the run.

    ``unreachable`` maps a host to its problem; a problem starting with ``unreachable`` gives the
    status ``unreachable``, any other ``not_built``.
    """
    unreachable = unreachable or {}
    have = {str(row.get("name")) for row in rows}
    extra: list[dict[str, Any]] = []
    for item in plan:
        if item.name in have:
            continue
        if item.host is None:
            status, reason, host = STATUS_UNREACHABLE, item.reason, item.moved_from
        elif item.host in unreachable:
            problem = unreachable[item.host]
            status = STATUS_UNREACHABLE if problem.startswith("unreachable") else STATUS_NOT_BUILT
            reason, host = f"{item.host}: {problem}", item.host
        else:
            status, host = STATUS_NOT_BUILT, item.host
            reason = f"{item.host} left no result for it (the play stopped there)"
        extra.append({"name": item.name, "build_host": host, "status": status, "fingerprint": None, "outputs": [],
                      "duration": None, "reason": reason, "log_path": None, "dib_version": None, "error": reason})
    return extra


def entries_for_host(
    entries: Iterable[Mapping[str, Any]], plan: Sequence[Assignment], host: str
) -> list[dict[str, Any]]:
    """The selected matrix entries the plan gives one host, in matrix order."""
    mine = set(host_images(plan, host))
    return [dict(entry) for entry in entries if image_name(entry) in mine]


def image_results(rows: Iterable[Mapping[str, Any]], published: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per image of the report: name, status, build host, the Glance ids of its published outputs, its SBOM."""
    ids_by_path: dict[str, list[str]] = {}
    for item in published:
        if item.get("image_id") and item.get("path"):
            ids_by_path.setdefault(str(item["path"]), []).append(str(item["image_id"]))
    results = []
    for row in rows:
        paths = [str(output.get("path")) for output in row.get("outputs") or []]
        ids = [image_id for path in paths for image_id in ids_by_path.get(path, [])]
        results.append({
            "name": row.get("name"),
            "status": row.get("status"),
            "build_host": row.get("build_host"),
            "glance_image_id": ids[0] if ids else None,
            "glance_image_ids": ids,
            "reason": row.get("error") if row.get("status") != "built" and row.get("error") else row.get("reason"),
            # The image's CycloneDX SBOM on its build host (None when the build made none).
            "sbom": (row.get("sbom") or {}).get("path"),
        })
    return results
