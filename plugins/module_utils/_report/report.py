# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build report: one row per image, as JSON and as Markdown.

PRIVATE to the collection: no compatibility promise outside it.

A row is made from a ``dbaas.guest_images.dib_image`` result (or the failed
result of a build) by :func:`report_row`, or for every entry of a host whose
stage before the build failed by :func:`stage_failure_rows`; :func:`report`
puts the rows of every build host together, :func:`merge_rows` keeps the rows
of images an earlier run (or a concurrent one) reported and this run did not,
and :func:`render_markdown` renders the document for people.

Every row has a ``reason``: why it was built (``new``, ``fingerprint
changed: <inputs>``, ``forced``, ...), why it was reused, or why it failed
(DIB's own error line); ``previous`` tells how an earlier build that ended
with nobody to hear it (an abandoned build) ended.

Where the time went: a row's ``stages`` maps each stage the image went
through in this run to the seconds it measured (dib_image's own steps, see
:mod:`._dib.stages`); ``phases`` splits ``stages.dib`` by DIB phase.
:func:`add_stage_times` adds the stages after the build, once per build host:
its ``prepare`` (the host's, on each of its rows), each image's ``verify``
(when it booted in this run), ``publish`` (its Glance uploads) and
``register`` (its Trove datastore versions). A stage an image did not go
through has no key: a reused image shows only its ``fingerprint`` check.
"""

from __future__ import annotations

import datetime
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.progress import PHASES
from ansible_collections.dbaas.guest_images.plugins.module_utils._plan.plan import image_name
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import changes as sbom_changes
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document as sbom_document

STATUS_BUILT = "built"
STATUS_REUSED = "reused"
STATUS_FAILED = "failed"
# Check mode: the image is out of date and a real run would build it.
STATUS_WOULD_BUILD = "would_build"
# Set on every row of a run by the report module; not news by itself.
REPORTED_AT = "reported_at"
# The build plan's rows: no healthy host could take the image, or its host left no result.
STATUS_UNREACHABLE = "unreachable"
STATUS_NOT_BUILT = "not_built"
# Rows that make a run fail.
FAILING_STATUSES = (STATUS_FAILED, STATUS_UNREACHABLE, STATUS_NOT_BUILT)
# The stages after the build, in the order a run goes through them (dib_image's own steps come between).
STAGE_PREPARE = "prepare"
STAGE_VERIFY = "verify"
STAGE_PUBLISH = "publish"
STAGE_REGISTER = "register"
# Per-run times that are not news on an image this run only reused.
_TIMES = ("duration", "stages", "phases")
# The order of the time-per-stage table's columns (a stage not named here comes after these).
STAGE_ORDER = (STAGE_PREPARE, "ship", "validate", "fingerprint", "lock_wait", "dib", "outputs", "sbom", STAGE_VERIFY,
               STAGE_PUBLISH, STAGE_REGISTER)


def _first_line(text: object) -> str:
    for line in str(text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def failure_reason(result: Mapping[str, Any]) -> str:
    """Why a build failed, in one line: DIB's own error line when there is one."""
    lines = result.get("error_lines")
    if isinstance(lines, list) and lines:
        where = ""
        hook = result.get("failed_hook")
        if hook:
            where = " in " + "/".join(str(hook).rstrip("/").split("/")[-2:])
        return f"DIB failed{where}: {_first_line(lines[0])}"
    return _first_line(result.get("msg")) or "the build failed"


def report_row(
    result: Mapping[str, Any] | None, name: str, build_host: str, check_mode: bool = False
) -> dict[str, Any]:
    """One report row from a dib_image result (a failed one too); ``check_mode``: the result of a check-mode run."""
    result = dict(result or {})
    failed = bool(result.get("failed"))
    if failed:
        status = STATUS_FAILED
    elif result.get("built"):
        status = STATUS_BUILT
    elif check_mode and result.get("changed"):
        # In check mode dib_image reports changed for an image it would build.
        status = STATUS_WOULD_BUILD
    else:
        status = STATUS_REUSED
    outputs: list[dict[str, Any]] = []
    for image in result.get("images") or []:
        outputs.append(
            {
                "path": image.get("path"),
                "format": image.get("format"),
                "size": image.get("size"),
                "sha256": image.get("sha256"),
            }
        )
    row: dict[str, Any] = {
        "name": name,
        "build_host": build_host,
        "status": status,
        "fingerprint": result.get("fingerprint"),
        "outputs": outputs,
        "duration": result.get("duration"),
        "stages": _seconds_map(result.get("stages")),
        "reason": result.get("reason"),
        "log_path": result.get("log_path"),
        "dib_version": result.get("dib_version"),
    }
    phases = _seconds_map(result.get("phases"))
    if phases:
        row["phases"] = phases
    if isinstance(result.get("slot"), int):
        # One of several builds at once on its host (dib_images): the slot, and the DIB cache of that slot.
        row["build_slot"] = result["slot"]
        row["cache_dir"] = result.get("cache_dir")
    sbom = result.get("sbom")
    if isinstance(sbom, dict) and sbom.get("path"):
        row["sbom"] = {key: sbom.get(key) for key in ("path", "sha256", "summary", "changes")}
    if failed:
        row["error"] = result.get("msg") or "the build failed"
        row["reason"] = failure_reason(result)
    previous = result.get("previous_build")
    if isinstance(previous, Mapping) and previous.get("summary"):
        row["previous"] = str(previous["summary"])
    return row


def _host_cell(row: Mapping[str, Any]) -> Any:
    """The build host, with the build slot when the host ran several builds at once."""
    slot = row.get("build_slot")
    return f"{row.get('build_host')} (slot {slot})" if isinstance(slot, int) else row.get("build_host")


def _number(value: object) -> float | None:
    """Seconds as a number (a number written as text too); None for anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return round(number, 3) if math.isfinite(number) and number >= 0 else None


def _seconds_map(value: object) -> dict[str, float]:
    """``{name: seconds}`` of a mapping, only its numbers kept, in its order."""
    if not isinstance(value, Mapping):
        return {}
    out: dict[str, float] = {}
    for key, seconds in value.items():
        number = _number(seconds)
        if number is not None:
            out[str(key)] = number
    return out


def _seconds_by_path(results: Iterable[Mapping[str, Any]] | None, key: str = "path") -> dict[str, float]:
    """Seconds per output file of publish_results rows (an image may have several)."""
    out: dict[str, float] = {}
    for result in results or []:
        number = _number(result.get("duration")) if isinstance(result, Mapping) else None
        if number is not None and result.get(key):
            out[str(result[key])] = out.get(str(result[key]), 0.0) + number
    return out


def add_stage_times(
    rows: Iterable[Mapping[str, Any]] | None,
    prepare: object = None,
    published: Iterable[Mapping[str, Any]] | None = None,
    registered: Iterable[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The rows of one build host with the stages after the build in ``stages``.

    ``prepare``: the seconds the host's prepare stage took (on every row of the host, first);
    ``published``: publish_results rows (``path``, ``image_id``, ``duration``), matched to a row by
    its outputs' paths; ``registered``: register_results rows (``image_id``, ``duration``), matched
    through the image ids of those uploads. A row's ``verify`` gives its ``verify`` time when the
    image was booted in this run (``verify.duration``).
    """
    prepare_seconds = _number(prepare)
    upload_seconds = _seconds_by_path(published)
    path_of_image = {str(item["image_id"]): str(item["path"]) for item in published or []
                     if isinstance(item, Mapping) and item.get("image_id") and item.get("path")}
    register_seconds = _seconds_by_path(
        [dict(item, path=path_of_image.get(str(item.get("image_id")), "")) for item in registered or []
         if isinstance(item, Mapping)])
    out: list[dict[str, Any]] = []
    for given in rows or []:
        row = dict(given)
        stages: dict[str, float] = {}
        if prepare_seconds is not None:
            stages[STAGE_PREPARE] = prepare_seconds
        stages.update(_seconds_map(row.get("stages")))
        verify = row.get("verify")
        verify_seconds = _number(verify.get("duration")) if isinstance(verify, Mapping) else None
        if verify_seconds is not None:
            stages[STAGE_VERIFY] = verify_seconds
        paths = [str(output.get("path")) for output in row.get("outputs") or [] if isinstance(output, Mapping)]
        for stage, by_path in ((STAGE_PUBLISH, upload_seconds), (STAGE_REGISTER, register_seconds)):
            times = [by_path[path] for path in paths if path in by_path]
            if times:
                stages[stage] = round(sum(times), 3)
        row["stages"] = stages
        out.append(row)
    return out


def stage_failure_rows(
    entries: Iterable[Any] | None, result: Mapping[str, Any] | None, build_host: str, stage: str,
    recorded: Iterable[Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Failed rows for the entries a stage before the build failed for (one per entry not yet recorded)."""
    result = dict(result or {})
    error = str(result.get("msg") or f"the {stage} stage failed")
    done = {str(row.get("name")) for row in recorded or []}
    rows = [dict(row) for row in recorded or []]
    for entry in entries or []:
        # The name the plan and the build give the entry (a Trove entry without `name` has a default one).
        name = image_name(entry) if isinstance(entry, Mapping) else str(entry)
        if name in done:
            continue
        done.add(name)
        rows.append({
            "name": name,
            "build_host": build_host,
            "status": STATUS_FAILED,
            "fingerprint": None,
            "outputs": [],
            "duration": None,
            "stages": {},
            "reason": f"{stage} failed: {_first_line(error)}",
            "log_path": None,
            "dib_version": None,
            "error": error,
        })
    return rows


def merge_rows(
    previous: Iterable[Mapping[str, Any]] | None, current: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """This run's rows, plus the earlier rows of every image this run has no row for (one row per image name)."""
    merged = {str(row.get("name")): dict(row) for row in previous or []}
    for row in current:
        merged[str(row.get("name"))] = dict(row)
    return list(merged.values())


def _contents_lines(row: Mapping[str, Any]) -> list[str]:
    """The Contents section of one image: its SBOM and what changed since the previous build."""
    sbom = row.get("sbom") or {}
    counts = sbom_document.summary_text(sbom.get("summary") or {})
    lines = [f"- **{row.get('name')}** on {row.get('build_host')}: SBOM {sbom.get('path')} ({counts})"]
    changes = sbom.get("changes")
    if changes == "unchanged":
        lines.append("  - unchanged (image reused)")
    elif changes is None:
        lines.append("  - first SBOM of this image: nothing to compare with")
    elif sbom_changes.is_empty(changes):
        lines.append("  - no package changed since the previous build")
    else:
        lines += [f"  - {_cell(line)}" for line in sbom_changes.lines(changes)]
    return lines


def report(
    rows: Iterable[Mapping[str, Any]] | None,
    generated_at: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The report document from the rows of all build hosts."""
    images = [dict(row) for row in rows or []]
    images.sort(key=lambda row: (str(row.get("name")), str(row.get("build_host"))))
    # would_build appears only in check mode (when an image would build).
    summary = {STATUS_BUILT: 0, STATUS_REUSED: 0, STATUS_FAILED: 0}
    for row in images:
        summary[row.get("status", STATUS_FAILED)] = summary.get(row.get("status", STATUS_FAILED), 0) + 1
    if generated_at is None:
        generated_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat()  # noqa: UP017 (Python 3.8)
    document: dict[str, Any] = {"generated_at": generated_at, "summary": summary, "images": images}
    document.update(extra or {})
    return document


def _size(value: object) -> str:
    if not isinstance(value, int):
        return "-"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return "-"


def _duration(value: object) -> str:
    if not isinstance(value, (int, float)):
        return "-"
    minutes, seconds = divmod(float(value), 60)
    return f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"


def _cell(value: object) -> str:
    return str(value if value not in (None, "") else "-").replace("|", "\\|").replace("\n", " ")


def _verify(value: object) -> str:
    """The verify column: result, accelerator and the boot-to-first-answer time (or the failed step)."""
    if not isinstance(value, Mapping) or not value.get("result"):
        return "-"
    text = str(value["result"])
    if value.get("step") and text == "failed":
        text += f" at {value['step']}"
    times = value.get("times") or {}
    if value.get("accelerator") and isinstance(times.get("first_answer"), (int, float)):
        text += f" ({value['accelerator']}, first answer {times['first_answer']:.0f} s)"
    return text


def _stage_columns(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    seen: list[str] = []
    for row in rows:
        for stage in row.get("stages") or {}:
            if stage not in seen:
                seen.append(stage)
    known = [stage for stage in STAGE_ORDER if stage in seen]
    return known + [stage for stage in seen if stage not in STAGE_ORDER]


def _phases_text(phases: object) -> str:
    """DIB's phases in the order DIB runs them (the JSON report keeps its keys sorted)."""
    if not isinstance(phases, Mapping) or not phases:
        return "-"
    names = sorted(phases, key=lambda name: (PHASES.index(name) if name in PHASES else len(PHASES)))
    return ", ".join(f"{phase} {_duration(phases[phase])}" for phase in names)


def _stage_lines(rows: list[Mapping[str, Any]]) -> list[str]:
    """The time-per-stage table: one row per image, one column per stage any image went through."""
    timed = [row for row in rows if row.get("stages")]
    if not timed:
        return []
    columns = _stage_columns(timed)
    lines = ["", "## Time per stage", "",
             "Measured in the run that reported the image. `-`: the image did not go through that stage in that"
             " run (a reused image has only its checks, its host's prepare and a publish check). `prepare` is the"
             " build host's, the same on each of its images; DIB phases split `dib`.",
             "",
             "| image | build host | " + " | ".join(columns) + " | DIB phases |",
             "|---|---|" + "---|" * len(columns) + "---|"]
    for row in timed:
        stages = row.get("stages") or {}
        cells = [row.get("name"), _host_cell(row)] + [_duration(stages.get(stage)) for stage in columns]
        cells.append(_phases_text(row.get("phases")))
        lines.append("| " + " | ".join(_cell(value) for value in cells) + " |")
    return lines


def render_markdown(document: Mapping[str, Any]) -> str:
    """The report for people: a summary line and one table row per output."""
    summary = document.get("summary", {})
    lines = [
        "# Build report",
        "",
        f"Generated {document.get('generated_at', '-')}: "
        f"{summary.get(STATUS_BUILT, 0)} built, {summary.get(STATUS_REUSED, 0)} reused, "
        f"{summary.get(STATUS_FAILED, 0)} failed"
        + "".join(f", {summary[status]} {status.replace('_', ' ')}" for status in (STATUS_UNREACHABLE, STATUS_NOT_BUILT)
                  if summary.get(status))
        + (f", {summary[STATUS_WOULD_BUILD]} would build (check mode)." if summary.get(STATUS_WOULD_BUILD) else "."),
        "",
        "| image | build host | status | reason | fingerprint | output | format | size | sha256 | duration | verify |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in document.get("images", []):
        fingerprint = row.get("fingerprint") or ""
        outputs = row.get("outputs") or [{}]
        reason = "; ".join(str(part) for part in (row.get("previous"), row.get("reason")) if part)
        for output in outputs:
            sha256 = output.get("sha256") or ""
            lines.append(
                "| "
                + " | ".join(
                    _cell(value)
                    for value in (
                        row.get("name"),
                        _host_cell(row),
                        row.get("status"),
                        reason,
                        fingerprint[:16],
                        output.get("path"),
                        output.get("format"),
                        _size(output.get("size")),
                        sha256[:16],
                        _duration(row.get("duration")),
                        _verify(row.get("verify")),
                    )
                )
                + " |"
            )
    lines += _stage_lines(list(document.get("images", [])))
    with_sbom = [row for row in document.get("images", []) if row.get("sbom")]
    if with_sbom:
        lines += ["", "## Contents (what changed since the previous build)", ""]
        for row in with_sbom:
            lines += _contents_lines(row)
    failures = [row for row in document.get("images", []) if row.get("status") in FAILING_STATUSES]
    if failures:
        lines += ["", "## Failures", ""]
        for row in failures:
            log = f" (log: {row['log_path']})" if row.get("log_path") else ""
            lines.append(f"- **{row.get('name')}** on {row.get('build_host')}: {_cell(row.get('error'))}{log}")
    plan = document.get("plan") or []
    if plan:
        lines += ["", "## Build plan", "", "| image | build host | why |", "|---|---|---|"]
        for item in plan:
            lines.append(f"| {_cell(item.get('name'))} | {_cell(item.get('host'))} | {_cell(item.get('reason'))} |")
    return "\n".join(lines) + "\n"


def _comparable(document: Mapping[str, Any]) -> dict[str, Any]:
    rows: list[dict[str, Any]] = []
    for row in document.get("images", []):
        row = dict(row)
        row.pop(REPORTED_AT, None)
        if row.get("status") == STATUS_REUSED:
            # How long the no-op check (and the host's prepare) took is not news.
            for key in _TIMES:
                row.pop(key, None)
        rows.append(row)
    return {"summary": document.get("summary"), "images": rows, "plan": document.get("plan") or []}


def same_report(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    """True when ``new`` tells nothing ``old`` did not (time stamps and no-op durations aside)."""
    return _comparable(old) == _comparable(new)
