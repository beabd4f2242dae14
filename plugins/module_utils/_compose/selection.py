# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Select image matrix entries with a JMESPath expression.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.composition import check_matrix
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError

try:
    import jmespath
    from jmespath import exceptions as jmespath_exceptions

    HAS_JMESPATH = True
except ImportError:  # pragma: no cover - exercised only without jmespath
    HAS_JMESPATH = False


def select_guest_images(
    entries: Any,
    expression: str | None = None,
    option: str = "build_guest_select",
    allow_empty: bool = True,
    allow_empty_option: str = "build_guest_allow_empty",
    matrix_option: str | None = None,
) -> list[dict[str, Any]]:
    """Filter the matrix with a JMESPath expression (empty: every entry).

    The expression must yield entries, e.g. ``[?datastore=='mysql']``. With
    ``allow_empty`` false a selection of nothing is refused, listing what the
    matrix holds. With ``matrix_option`` (the variable the entries come
    from) every entry is checked first (:func:`composition.check_matrix`).
    """
    selected = _select(entries, expression, option)
    if matrix_option is not None:
        check_matrix(entries, option=matrix_option)
    if not selected and not allow_empty:
        raise GuestMatrixError(_empty_message(entries, expression, option, allow_empty_option))
    return selected


def _entry_name(entry: Any) -> str:
    if not isinstance(entry, dict):
        return repr(entry)
    if entry.get("name"):
        return str(entry["name"])
    fields = ("os", "release", "datastore", "datastore_version", "mode")
    return "{" + ", ".join(f"{key}: {entry[key]}" for key in fields if key in entry) + "}"


def _empty_message(entries: list[Any], expression: str | None, option: str, allow_empty_option: str) -> str:
    allow = f"or set {allow_empty_option}=true to allow a run that builds nothing"
    if not entries:
        return f"build_guest_images: is empty, so this run would build nothing; add an entry, {allow}"
    held = "; ".join(f"[{index}] {_entry_name(entry)}" for index, entry in enumerate(entries))
    return (
        f"{option}: '{expression}' selects none of the {len(entries)} entries of build_guest_images ({held});"
        f" fix the expression (e.g. [?datastore=='mysql']), {allow}"
    )


def _select(entries: Any, expression: str | None, option: str) -> list[dict[str, Any]]:
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
