# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of trove_datastore_version and the typed request read from them, side by side.

PRIVATE to the collection: no compatibility promise outside it.

The argument spec is the only place the options' defaults live; the request
reads ``module.params`` once and refuses what Trove would refuse, before any
call to the cloud.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import openstack_argument_spec
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.admin import TroveError

# Trove's API schema for image tags: 1-20 characters with a letter or digit; tags are
# stored comma-separated, so a comma would split one.
TAG_PATTERN = re.compile(r"^[^,]*[0-9a-zA-Z][^,]*$")
MAX_TAGS = 5
MAX_TAG_LENGTH = 20

MUTUALLY_EXCLUSIVE = [("image", "image_tags"), ("image_to_upload", "image"), ("image_to_upload", "image_tags")]


def pending_image(name: str) -> str:
    """What a check-mode prediction shows as the image of a version pointing at an image not uploaded yet."""
    return f"(image to be uploaded: {name})"


def argument_spec() -> dict[str, Any]:
    """The module's options: the shared connection options and its own."""
    return openstack_argument_spec(
        datastore=dict(type="str", required=True),
        name=dict(type="str", required=True, aliases=["datastore_version"]),
        version=dict(type="str"),
        image=dict(type="str"),
        image_tags=dict(type="list", elements="str"),
        image_to_upload=dict(type="str"),
        manager=dict(type="str", aliases=["datastore_manager"]),
        active=dict(type="bool", default=True),
        default=dict(type="bool"),
        packages=dict(type="list", elements="str"),
        registry_ext=dict(type="str"),
        repl_strategy=dict(type="str"),
        state=dict(type="str", default="present", choices=["present", "absent"]),
    )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


@dataclasses.dataclass(frozen=True)
class DatastoreVersionRequest:
    """One wanted datastore version; ``None`` fields are left as Trove has them."""

    datastore: str
    name: str
    number: str
    image: str | None
    image_tags: tuple[str, ...] | None
    image_to_upload: str | None
    manager: str | None
    active: bool | None
    default: bool | None
    packages: tuple[str, ...] | None
    registry_ext: str | None
    repl_strategy: str | None
    state: str
    interface: str
    region_name: str | None

    @classmethod
    def from_params(cls, params: Mapping[str, Any], check_mode: bool = False) -> DatastoreVersionRequest:
        """Read and check the module's parameters (raises TroveError naming the option)."""
        datastore = (params["datastore"] or "").strip()
        name = (params["name"] or "").strip()
        if not datastore:
            raise TroveError("Option 'datastore' must be a non-empty datastore name, for example 'mysql'.")
        if not name:
            raise TroveError("Option 'name' must be a non-empty datastore version name, for example '8.0'.")
        if params["default"] and params["active"] is False:
            raise TroveError("Options 'default: true' and 'active: false' do not go together: Trove makes only an "
                             "active version the default of its datastore.")
        to_upload = (params.get("image_to_upload") or "").strip() or None
        if to_upload is not None and (not check_mode or params["state"] != "present"):
            raise TroveError(f"Option 'image_to_upload' ({to_upload!r}) only previews, in check mode with "
                             "state=present, a version pointing at an image the publish stage would upload; "
                             "outside check mode give 'image' the id of the uploaded image.")
        number = params["version"]
        tags = None
        if params["image_tags"]:
            given = [str(tag) for tag in params["image_tags"]]
            bad = [tag for tag in given if not TAG_PATTERN.match(tag) or len(tag) > MAX_TAG_LENGTH]
            if bad:
                raise TroveError(f"Option 'image_tags' holds invalid tags {bad!r}: Trove takes tags of 1 to "
                                 f"{MAX_TAG_LENGTH} characters, with a letter or digit and without ','.")
            if len(given) > MAX_TAGS:
                raise TroveError(f"Option 'image_tags' holds more than {MAX_TAGS} tags, the most Trove accepts.")
            tags = tuple(sorted(set(given)))
        packages = params["packages"]
        return cls(
            datastore=datastore,
            name=name,
            number=name if number in (None, "") else str(number),
            image=_optional_text(params["image"]),
            image_tags=tags,
            image_to_upload=to_upload,
            manager=_optional_text(params["manager"]),
            active=params["active"],
            default=params["default"],
            packages=None if packages is None else tuple(str(p) for p in packages),
            registry_ext=_optional_text(params["registry_ext"]),
            repl_strategy=_optional_text(params["repl_strategy"]),
            state=str(params["state"]),
            interface=str(params["interface"]),
            region_name=_optional_text(params["region_name"]),
        )

    def want(self, image_id: str | None = None) -> dict[str, Any]:
        """The wanted version in Trove's field names; ``image_id`` is what ``image`` resolved to in Glance.

        With ``image_to_upload`` (check mode only) the image is a placeholder naming the image to be uploaded.
        """
        if self.image_to_upload is not None:
            image_id = pending_image(self.image_to_upload)
        return {
            "datastore_name": self.datastore,
            "name": self.name,
            "version": self.number,
            "datastore_manager": self.manager,
            "active": self.active,
            "default": self.default,
            "packages": None if self.packages is None else list(self.packages),
            "registry_ext": self.registry_ext,
            "repl_strategy": self.repl_strategy,
            "image": None if self.image_tags else image_id,
            "image_tags": None if self.image_tags is None else list(self.image_tags),
        }
