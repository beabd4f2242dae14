# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Select image matrix entries with a JMESPath expression.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError

try:
    import jmespath
    from jmespath import exceptions as jmespath_exceptions

    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - exercised only without jmespath
    HAS_JMESPATH = False


def select_guest_images(
    entries: Any, expression: str | None = None, option: str = "build_guest_select"
) -> list[dict[str, Any]]:
    """Filter the matrix with a JMESPath expression (empty: every entry).

    The expression must yield entries, e.g. ``[?datastore=='mysql']``.
    """
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        raise GuestMatrixError(f"build_guest_images must be a list of entries, got {type(entries).__name__}")
    if expression in (None, ""):
        return list(entries)
    if not HAS_JMESPATH:
        raise GuestMatrixError(f"{option} needs the Python library jmespath on the controller (pip install jmespath)")
    try:
        selected = jmespath.search(str(expression), entries)
    except jmespath_exceptions.JMESPathError as exc:
        detail = str(exc).replace("\n", " ")
        raise GuestMatrixError(
            f"{option}: '{expression}' is not a valid JMESPath expression ({detail}); example: [?datastore=='mysql']"
        ) from None
    if selected is None:
        return []
    if not isinstance(selected, list) or not all(isinstance(item, dict) for item in selected):
        raise GuestMatrixError(
            f"{option}: '{expression}' must select matrix entries (a list of mappings), got {selected!r}; "
            "example: [?datastore=='mysql']"
        )
    return selected
