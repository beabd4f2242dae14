# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of glance_image and glance_image_info: argument specs and the typed requests read from them.

PRIVATE to the collection: no compatibility promise outside it.

Defaults live only in the argument specs below; ``from_params`` reads the
validated params once, checks what the spec cannot express, and the rest of
the Glance code takes the request's typed fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import FileProblem, check_readable_file
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import SUPPORTED_ALGORITHMS
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.data import ChecksumError, parse_checksum
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.metadata import family_tag
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import (
    CloudOptions,
    openstack_argument_spec,
)

DISK_FORMATS = ["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]
CONTAINER_FORMATS = ["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]
VISIBILITIES = ["public", "private", "shared", "community"]


class RequestError(ValueError):
    """Options that cannot be used together or as given; the message names the option."""


def glance_image_argument_spec() -> dict[str, dict[str, Any]]:
    """The options of glance_image (connection options included)."""
    return openstack_argument_spec(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        name=dict(type="str"),
        id=dict(type="str"),
        filename=dict(type="path"),
        disk_format=dict(type="str", default="qcow2", choices=DISK_FORMATS),
        container_format=dict(type="str", default="bare", choices=CONTAINER_FORMATS),
        visibility=dict(type="str", choices=VISIBILITIES),
        protected=dict(type="bool"),
        min_disk=dict(type="int"),
        min_ram=dict(type="int"),
        tags=dict(type="list", elements="str", default=[]),
        properties=dict(type="dict", default={}),
        family=dict(type="str"),
        unique_name=dict(type="bool", default=False),
        os_distro=dict(type="str"),
        os_version=dict(type="str"),
        architecture=dict(type="str"),
        trove_datastore=dict(type="str"),
        trove_datastore_version=dict(type="str"),
        build_fingerprint=dict(type="str"),
        hardware_defaults=dict(type="bool", default=True),
        checksum=dict(type="str"),
        hash_algorithm=dict(type="str", default="sha512", choices=list(SUPPORTED_ALGORITHMS)),
        hash_cache=dict(type="bool", default=True),
        keep=dict(type="int"),
        referenced_image_ids=dict(type="list", elements="str", default=[]),
        check_trove=dict(type="bool", default=True),
        retries=dict(type="int", default=3),
    )


# The other keyword arguments of glance_image's AnsibleModule.
GLANCE_IMAGE_MODULE_KWARGS: dict[str, Any] = dict(
    supports_check_mode=True,
    required_if=[("state", "present", ["name", "filename"]), ("state", "absent", ["name", "id"], True)],
)


@dataclasses.dataclass(frozen=True)
class GlanceImageRequest:
    """One glance_image task: what to publish (or delete), with which metadata, how to rotate."""

    cloud: CloudOptions
    state: str
    name: str | None
    image_id: str | None
    filename: str | None
    disk_format: str
    container_format: str
    visibility: str | None
    protected: bool | None
    min_disk: int | None
    min_ram: int | None
    tags: tuple[str, ...]
    properties: dict[str, Any]
    family: str | None
    unique_name: bool
    os_distro: str | None
    os_version: str | None
    architecture: str | None
    trove_datastore: str | None
    trove_datastore_version: str | None
    build_fingerprint: str | None
    hardware_defaults: bool
    checksum: tuple[str, str] | None
    hash_algorithm: str
    hash_cache: bool
    keep: int | None
    referenced_image_ids: tuple[str, ...]
    check_trove: bool
    retries: int
    wait: bool
    timeout: int

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GlanceImageRequest:
        """The request of validated ``params``; a RequestError for what the spec cannot check."""
        state = params["state"]
        checksum = None
        if state == "present":
            if params["id"]:
                raise RequestError("Option 'id' is only for state=absent; use 'name' to publish.")
            try:
                check_readable_file(params["filename"])
            except FileProblem as exc:
                raise RequestError(f"Option 'filename': {exc}; nothing to publish.") from None
            try:
                checksum = parse_checksum(params["checksum"], params["hash_algorithm"])
            except ChecksumError as exc:
                raise RequestError(str(exc)) from None
            if params["keep"] is not None and params["keep"] < 1:
                raise RequestError(f"Option 'keep' is {params['keep']}: it must be at least 1, the number of newest "
                                   "images of the family to keep (the published image is always kept); leave it "
                                   "out to keep every image.")
            for option in ("min_disk", "min_ram", "retries"):
                if params[option] is not None and params[option] < 0:
                    raise RequestError(f"Option '{option}' must not be negative.")
            if params["family"] is not None and not params["family"].strip():
                raise RequestError("Option 'family' must not be empty.")
            if params["unique_name"] and not params["family"]:
                raise RequestError("Option 'unique_name' names each image of a family '<name>-<creation time>': "
                                   "give 'family' too (the family tag is what groups the images then).")
        return cls(
            cloud=CloudOptions.from_params(params),
            state=state,
            name=params["name"],
            image_id=params["id"],
            filename=params["filename"],
            disk_format=params["disk_format"],
            container_format=params["container_format"],
            visibility=params["visibility"],
            protected=params["protected"],
            min_disk=params["min_disk"],
            min_ram=params["min_ram"],
            tags=tuple(params["tags"]),
            properties=dict(params["properties"]),
            family=params["family"],
            unique_name=params["unique_name"],
            os_distro=params["os_distro"],
            os_version=params["os_version"],
            architecture=params["architecture"],
            trove_datastore=params["trove_datastore"],
            trove_datastore_version=params["trove_datastore_version"],
            build_fingerprint=params["build_fingerprint"],
            hardware_defaults=params["hardware_defaults"],
            checksum=checksum,
            hash_algorithm=params["hash_algorithm"],
            hash_cache=params["hash_cache"],
            keep=params["keep"],
            referenced_image_ids=tuple(params["referenced_image_ids"]),
            check_trove=params["check_trove"],
            retries=params["retries"],
            wait=params["wait"],
            timeout=params["timeout"],
        )

    @property
    def action(self) -> str:
        """What the task does, for error messages."""
        return f"publishing {self.filename}" if self.state == "present" else "deleting images"


def glance_image_info_argument_spec() -> dict[str, dict[str, Any]]:
    """The options of glance_image_info (connection options included)."""
    return openstack_argument_spec(
        id=dict(type="str"),
        name=dict(type="str"),
        tags=dict(type="list", elements="str", default=[]),
        family=dict(type="str"),
        properties=dict(type="dict", default={}),
        status=dict(type="str"),
        visibility=dict(type="str", default="all", choices=["all"] + VISIBILITIES),
        query=dict(type="str"),
    )


@dataclasses.dataclass(frozen=True)
class GlanceImageInfoRequest:
    """One glance_image_info task: which images to list (``tags`` include the family's tag)."""

    cloud: CloudOptions
    image_id: str | None
    name: str | None
    tags: tuple[str, ...]
    properties: dict[str, Any]
    status: str | None
    visibility: str
    query: str | None

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> GlanceImageInfoRequest:
        tags = list(params["tags"])
        tag = family_tag(params["family"])
        if tag:
            tags.append(tag)
        return cls(
            cloud=CloudOptions.from_params(params),
            image_id=params["id"],
            name=params["name"],
            tags=tuple(tags),
            properties=dict(params["properties"]),
            status=params["status"],
            visibility=params["visibility"],
            query=params["query"],
        )
