# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which Glance images Trove's datastore versions use: the images rotation must spare.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import has_service
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import retry
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.admin import TroveAdmin


class ImagesInUse(NamedTuple):
    """Image ids named by datastore versions, and the tag sets of versions that select by tags."""

    ids: frozenset[str]
    tag_sets: tuple[tuple[str, ...], ...]


def images_of(versions: list[dict[str, Any]]) -> ImagesInUse:
    """What a list of (normalised) datastore versions points at."""
    ids = frozenset(str(v["image"]) for v in versions if v.get("image"))
    tag_sets = tuple(tuple(str(t) for t in v["image_tags"]) for v in versions if v.get("image_tags"))
    return ImagesInUse(ids=ids, tag_sets=tag_sets)


def images_in_use(conn: Any, interface: str | None = None, region_name: str | None = None) -> ImagesInUse | None:
    """What Trove's management API says its versions use; ``None`` when the cloud has no Trove.

    Listing every version needs Trove's admin role. A version that names its
    image by tags launches the newest active image carrying all of them.
    """
    if not has_service(conn, "database", {"interface": interface, "region_name": region_name}):
        return None
    admin = TroveAdmin(conn.session, interface=interface, region_name=region_name, retry=retry)
    return images_of(admin.list_versions())
