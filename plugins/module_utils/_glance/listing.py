# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding images for glance_image_info: Glance's own filters, then properties compared as strings.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.metadata import (
    Image,
    normalize_image,
    property_value,
)


def find_images(client: Any, name: str | None = None, tags: Iterable[str] | None = None,
                properties: Mapping[str, Any] | None = None, visibility: str | None = "all",
                status: str | None = None, image_id: str | None = None) -> list[Image]:
    """Matching images as the modules return them, newest first."""
    if image_id:
        image = client.get_image(image_id)
        raw = [image] if image else []
    else:
        raw = client.list_images(name=name, tags=list(tags or ()), visibility=visibility)
    wanted = {k: property_value(v) for k, v in (properties or {}).items()}
    result = []
    for image in raw:
        if status and image.get("status") != status:
            continue
        if any(image.get(k) != v for k, v in wanted.items()):
            continue
        result.append(normalize_image(image))
    result.sort(key=lambda i: (i.get("created_at") or "", i.get("id") or ""), reverse=True)
    return result
