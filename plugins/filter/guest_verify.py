# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the verify stage (documented in guest_verify_plan.yml and guest_verify_rows.yml).

``build_rows | dbaas.guest_images.guest_verify_plan(specs, mode, by_image, by_image_source)``
    which images to verify and with which ``guest_verify`` options.
``build_rows | dbaas.guest_images.guest_verify_rows(plan, results)``
    the build rows with the verification result in ``verify`` (a failed required one marks the row failed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import plan as verify_plan
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain


def guest_verify_plan(build_rows: Any, specs: Any, mode: Any = "required", by_image: Any = None,
                      by_image_source: Any = "verify_images") -> list[dict[str, Any]]:
    try:
        return verify_plan.plan(_plain(build_rows) or [], _plain(specs) or [], str(mode), _plain(by_image) or {},
                                str(by_image_source))
    except verify_plan.VerifyPlanError as error:
        raise AnsibleFilterError(str(error)) from None


def guest_verify_rows(build_rows: Any, entries: Any, results: Any) -> list[dict[str, Any]]:
    return verify_plan.rows(_plain(build_rows) or [], _plain(entries) or [], _plain(results) or [])


class FilterModule:
    """dbaas.guest_images verify stage filters."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"guest_verify_plan": guest_verify_plan, "guest_verify_rows": guest_verify_rows}
