# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``image_contents``: which images of a set of SBOMs carry a package (below a version).

``sboms | dbaas.guest_images.image_contents('openssl', below='3.0.16-1~deb12u1')``
    one row (image, kind, name, version, purl) per match; documented in image_contents.yml.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import contents
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain


def image_contents(sboms: Any, package: Any, below: Any = None, kinds: Any = None) -> list[dict[str, str]]:
    documents = _plain(sboms)
    if isinstance(documents, dict) and documents.get("bomFormat") != "CycloneDX":
        documents = list(documents.values())
    elif isinstance(documents, dict):
        documents = [documents]
    if not isinstance(documents, list):
        raise AnsibleFilterError(f"image_contents: expected a list of CycloneDX SBOMs, got {type(documents).__name__}")
    kind_list = contents.QUERY_KINDS if kinds in (None, "") else (
        [str(kinds)] if isinstance(kinds, str) else [str(k) for k in _plain(kinds)])
    try:
        return contents.carrying(documents, str(package or ""), None if below in (None, "") else str(below),
                                 kind_list)
    except contents.QueryError as exc:
        raise AnsibleFilterError(f"image_contents: {exc}") from None


class FilterModule:
    """dbaas.guest_images SBOM queries."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        return {"image_contents": image_contents}
