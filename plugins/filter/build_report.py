# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters for the build stage and its report.

Documented in build_report_row.yml, build_report_rows.yml, build_report_stage_failure_rows.yml,
build_report_stage_times.yml, dib_environment_for_image.yml and dib_image_builds.yml.

``result | dbaas.guest_images.build_report_row(name, build_host, check_mode=false)``
    one report row from a dib_image result (failed ones too; ``would_build`` in check mode);
    the ``dbaas.guest_images.build_report`` module writes the report from those rows.
``dib_images_result | dbaas.guest_images.build_report_rows(build_host, check_mode=false)``
    one report row per build of a dib_images result, in its order.
``failed_result | dbaas.guest_images.build_report_stage_failure_rows(entries, build_host, stage, recorded=[])``
    ``recorded`` plus a failed row for every entry not in it, when a stage before the build failed.
``rows | dbaas.guest_images.build_report_stage_times(prepare_seconds, publish_results, register_results)``
    one build host's rows with the seconds of its prepare, verify, publish and register stages in ``stages``.
``env | dbaas.guest_images.dib_environment_for_image(by_distribution, host_distribution, elements)``
    the build host's DIB environment adjusted to one image's distribution.
``specs | dbaas.guest_images.dib_image_builds(host_options, environment, by_distribution, host_distribution)``
    the dib_images builds of composed images: each image's options over the build host's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import apt_sources
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import batch
from ansible_collections.dbaas.guest_images.plugins.module_utils._report import report as build_report
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain


def build_report_row(result: Any, name: Any, build_host: Any, check_mode: Any = False) -> dict[str, Any]:
    return build_report.report_row(_plain(result), str(name), str(build_host), bool(check_mode))


def build_report_rows(result: Any, build_host: Any, check_mode: Any = False) -> list[dict[str, Any]]:
    results = (_plain(result) or {}).get("results") or []
    return [build_report.report_row(item, str(item.get("name")), str(build_host), bool(check_mode))
            for item in results if isinstance(item, dict)]


def build_report_stage_failure_rows(result: Any, entries: Any, build_host: Any, stage: Any,
                                    recorded: Any = None) -> list[dict[str, Any]]:
    return build_report.stage_failure_rows(_plain(entries), _plain(result), str(build_host), str(stage),
                                           _plain(recorded) or [])


def build_report_stage_times(rows: Any, prepare: Any = None, published: Any = None,
                             registered: Any = None) -> list[dict[str, Any]]:
    return build_report.add_stage_times(_plain(rows) or [], _plain(prepare), _plain(published) or [],
                                        _plain(registered) or [])


def dib_environment_for_image(environment: Any, by_distribution: Any, host_distribution: Any,
                              elements: Any) -> dict[str, str]:
    return apt_sources.environment_for_elements(
        _plain(environment), _plain(by_distribution), str(host_distribution or ""), _plain(elements)
    )


def dib_image_builds(specs: Any, host_options: Any, environment: Any = None, by_distribution: Any = None,
                     host_distribution: Any = "") -> list[dict[str, Any]]:
    plain_environment, plain_by_distribution = _plain(environment), _plain(by_distribution)

    def environment_for(elements: Sequence[str]) -> dict[str, str]:
        return apt_sources.environment_for_elements(plain_environment, plain_by_distribution,
                                                    str(host_distribution or ""), elements)

    try:
        return batch.builds_from_specs(_plain(specs) or [], _plain(host_options) or {}, environment_for)
    except batch.BatchError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """dbaas.guest_images build stage filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {
            "build_report_row": build_report_row,
            "build_report_rows": build_report_rows,
            "build_report_stage_failure_rows": build_report_stage_failure_rows,
            "build_report_stage_times": build_report_stage_times,
            "dib_environment_for_image": dib_environment_for_image,
            "dib_image_builds": dib_image_builds,
        }
