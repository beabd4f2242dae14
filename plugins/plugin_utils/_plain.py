# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plain Python values out of what Ansible hands to controller-side plugins.

PRIVATE to the collection, controller only: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> Any:
    """Strip Ansible's lazy/tagged containers down to plain Python types."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
