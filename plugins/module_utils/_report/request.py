# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``build_report`` options: their argument spec and the typed request read from them.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def argument_spec() -> dict[str, dict[str, Any]]:
    """The ``build_report`` argument spec."""
    return dict(
        rows=dict(type="list", elements="dict", required=True),
        dest=dict(type="path", required=True),
        lock_timeout=dict(type="int", default=300),
        plan=dict(type="list", elements="dict", default=[]),
    )


@dataclass(frozen=True)
class BuildReportRequest:
    """One ``build_report`` call: the rows and where the two files go."""

    rows: list[dict[str, Any]]
    dest: str
    lock_timeout: int
    plan: list[dict[str, Any]]

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> BuildReportRequest:
        """The request from validated module parameters (``module.params``)."""
        return cls(
            rows=[dict(row) for row in params["rows"]],
            dest=str(params["dest"]),
            lock_timeout=int(params["lock_timeout"]),
            plan=[dict(item) for item in params.get("plan") or []],
        )

    @property
    def json_path(self) -> str:
        return os.path.join(self.dest, "build-report.json")

    @property
    def markdown_path(self) -> str:
        return os.path.join(self.dest, "build-report.md")
