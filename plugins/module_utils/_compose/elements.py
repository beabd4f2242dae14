# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where the collection's own DIB elements are: every ``roles/*/files/elements`` folder.

PRIVATE to the collection: no compatibility promise outside it.

Composition adds these folders to every image's element path, plain entries
included, so the result works whether or not the roles ran first (the filter
is usable on its own); this file is the one place that knows the layout.
"""

from __future__ import annotations

import os


def collection_root() -> str:
    """The collection's folder (checkout or installed), from this file's place in plugins/module_utils/_compose."""
    here = os.path.abspath(__file__)
    for _level in range(4):
        here = os.path.dirname(here)
    return here


def collection_element_paths(root: str | None = None) -> list[str]:
    """``roles/*/files/elements`` folders of the collection, sorted."""
    roles = os.path.join(root or collection_root(), "roles")
    if not os.path.isdir(roles):
        return []
    paths = []
    for role in sorted(os.listdir(roles)):
        candidate = os.path.join(roles, role, "files", "elements")
        if os.path.isdir(candidate):
            paths.append(candidate)
    return paths
