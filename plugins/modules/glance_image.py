#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: glance_image
short_description: Publish an image file to Glance by content, with properties and rotation
version_added: 0.1.0
description:
  - Uploads a local file (on the host where the task runs) to the Glance image
    service, unless an image with the same name (or of the same O(family))
    already holds exactly the same data; then only its metadata is brought in
    line, and the task's C(changed) says whether anything had to change.
  - Sameness of data is decided by Glance's own C(os_hash_algo) and
    C(os_hash_value) (sha512 by default) against the file's hash. The file is
    read once, hashed while Glance reads it, and the result is checked
    against the value Glance computed. Before uploading, the hash is needed only
    when Glance holds an image of exactly the same size; it then comes from
    O(checksum), else from a small per-file cache (O(hash_cache)), else from one
    hashing pass, after which no upload follows when the data matches.
  - A failed or interrupted upload deletes the image record it created, so no
    C(queued) or C(saving) image is left behind. Dropped connections and
    HTTP 502, 503 and 504 answers are retried with backoff (O(retries)).
  - With O(keep), the O(keep) newest images of the family (or of the name) stay
    and older ones are deleted, except protected images and images a Trove
    datastore version still uses.
author:
  - dbaas.guest_images developers (@dbaas)
extends_documentation_fragment:
  - dbaas.guest_images.openstack
options:
  state:
    description:
      - V(present) publishes O(filename); V(absent) deletes the images named
        O(name), or the image O(id).
    type: str
    choices: [present, absent]
    default: present
  name:
    description:
      - Image name. Required unless O(state=absent) and O(id) is given.
    type: str
  id:
    description:
      - Image ID, for O(state=absent).
    type: str
  filename:
    description:
      - Path of the image file on the host where the task runs.
      - Required when O(state=present).
    type: path
  disk_format:
    description:
      - Format of the data. Glance inspects uploads and refuses data that is
        not of the declared format.
    type: str
    default: qcow2
    choices: [ami, ari, aki, vhd, vhdx, vmdk, raw, qcow2, vdi, iso, ploop]
  container_format:
    description:
      - Container format of the data.
    type: str
    default: bare
    choices: [ami, ari, aki, bare, ovf, ova, docker, compressed]
  visibility:
    description:
      - Who can see the image. V(public) needs the admin role.
      - Not changed on an existing image when not given.
    type: str
    choices: [public, private, shared, community]
  protected:
    description:
      - Whether Glance refuses to delete the image. Set once the data is in,
        so a failed upload can still be cleaned up.
    type: bool
  min_disk:
    description:
      - Minimum disk size in GiB a server booted from the image needs.
    type: int
  min_ram:
    description:
      - Minimum RAM in MiB a server booted from the image needs.
    type: int
  tags:
    description:
      - Tags to add to the image. Tags already on the image stay.
    type: list
    elements: str
    default: []
  properties:
    description:
      - Extra properties to set (values are stored as strings, booleans as
        V(true)/V(false)). They override the defaults below. Other
        properties already on the image stay.
    type: dict
    default: {}
  family:
    description:
      - Name of the image family, for example
        C(trove-mysql-8.0-debian-12). The image gets the tag
        C(family:<family>); an image of the family that holds the same data
        is reused (and renamed to O(name)), and O(keep) rotates the family.
    type: str
  os_distro:
    description:
      - Sets the C(os_distro) property (libosinfo short name, for example
        C(debian), C(ubuntu)).
    type: str
  os_version:
    description:
      - Sets the C(os_version) property, for example C(12).
    type: str
  architecture:
    description:
      - Image architecture in Debian or kernel spelling (C(amd64),
        C(x86_64), C(arm64), ...); sets C(architecture) and
        C(hw_architecture) in kernel spelling.
    type: str
  trove_datastore:
    description:
      - Sets the C(trove_datastore) property.
    type: str
  trove_datastore_version:
    description:
      - Sets the C(trove_datastore_version) property.
    type: str
  build_fingerprint:
    description:
      - Sets the C(build_fingerprint) property (from the build report).
    type: str
  hardware_defaults:
    description:
      - Adds hints for KVM clouds unless set in O(properties), namely
        C(hw_disk_bus=virtio), C(hw_vif_model=virtio),
        C(hw_scsi_model=virtio-scsi), C(hw_rng_model=virtio),
        C(hw_video_model=virtio), C(hw_firmware_type=bios),
        C(hw_qemu_guest_agent=no), C(os_type=linux).
    type: bool
    default: true
  checksum:
    description:
      - The file's hash when already known (for example from the build
        report), as C(<algorithm>:<hex>) or a bare hex digest of
        O(hash_algorithm). Spares hashing the file before deciding whether to
        upload; an upload whose data does not match it is deleted and fails.
    type: str
  hash_algorithm:
    description:
      - Algorithm used to hash the file while uploading; should match the
        cloud's Glance C(hashing_algorithm) so the upload can be verified.
    type: str
    default: sha512
    choices: [sha512, sha384, sha256, sha1, md5]
  hash_cache:
    description:
      - Remember the file's hash under
        C(${XDG_CACHE_HOME:-~/.cache}/dbaas-guest-images/hashes/), keyed by
        path, size, modification time and inode, so a later run need not read
        the file again.
    type: bool
    default: true
  keep:
    description:
      - Keep this many newest images of the family (or, without O(family),
        of the name) and delete older ones. The published image always
        counts as kept. Not set means nothing is deleted.
    type: int
  referenced_image_ids:
    description:
      - IDs of images that must not be deleted by rotation (for example
        images clouds you cannot query still use).
    type: list
    elements: str
    default: []
  check_trove:
    description:
      - Before rotating, ask the Trove API (when the catalog has a
        C(database) endpoint) which images its datastore versions use, and
        keep those. When Trove cannot be asked, rotation deletes nothing.
    type: bool
    default: true
  retries:
    description:
      - How many times a transient failure (dropped connection, HTTP 502,
        503, 504) is retried, with exponential backoff.
    type: int
    default: 3
notes:
  - Supports check mode (nothing is created, changed or deleted; the file may
    be hashed) and diff mode (metadata before and after).
  - Secrets of the connection are never returned or logged.
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
"""

EXAMPLES = r"""
- name: Publish a guest image built by dib_image
  dbaas.guest_images.glance_image:
    cloud: mycloud
    name: trove-guest-debian-12-mysql-8.0
    filename: /var/lib/guest-images/trove-guest-debian-12-mysql-8.0.qcow2
    family: trove-debian-12-mysql-8.0
    os_distro: debian
    os_version: "12"
    trove_datastore: mysql
    trove_datastore_version: "8.0"
    tags: [trove]
    keep: 3

- name: Publish with the hash from the build report (no hashing pass)
  dbaas.guest_images.glance_image:
    cloud: mycloud
    name: plain-image
    filename: /srv/images/plain.qcow2
    checksum: "sha512:{{ report_sha512 }}"

- name: Remove images by name
  dbaas.guest_images.glance_image:
    cloud: mycloud
    name: old-image
    state: absent
"""

RETURN = r"""
image:
  description: The image as Glance holds it after the task (predicted in check mode).
  returned: state=present
  type: dict
  sample:
    id: 1b6e7ee2-0d6a-4a4b-9d7e-3a1f0c2f4b11
    name: trove-guest-debian-12-mysql-8.0
    status: active
    disk_format: qcow2
    container_format: bare
    size: 344129536
    os_hash_algo: sha512
    os_hash_value: 2d4e...
    visibility: private
    protected: false
    tags: [family:trove-debian-12-mysql-8.0, trove]
    properties: {os_distro: debian, os_version: "12", hw_disk_bus: virtio}
uploaded:
  description: Whether the file's data was sent to Glance.
  returned: state=present
  type: bool
  sample: false
updated:
  description: Metadata fields changed on an existing image with the same data.
  returned: state=present
  type: list
  elements: str
  sample: [os_version, tags]
hash:
  description: The file's hash used, and where it came from (checksum, cache, computed, upload).
  returned: when the file's hash was needed
  type: dict
  sample: {algorithm: sha512, value: 2d4e..., source: upload}
deleted:
  description: Images deleted (by rotation, or by O(state=absent)).
  returned: always
  type: list
  elements: dict
  sample: [{id: 0f7a..., name: trove-guest-debian-12-mysql-8.0, created_at: "2026-01-01T00:00:00Z"}]
spared:
  description: Old images rotation kept anyway, with the reason (protected, referenced, ...).
  returned: always
  type: list
  elements: dict
  sample: [{id: 9c1d..., name: trove-guest-debian-12-mysql-8.0, reason: protected}]
"""

import os  # noqa: E402
import signal  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils.glance_data import (  # noqa: E402
    SUPPORTED_ALGORITHMS,
    ChecksumError,
    HashCache,
    parse_checksum,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils.glance_image import (  # noqa: E402
    GlanceClient,
    GlanceError,
    HttpStatusError,
    Publisher,
    explain,
    trove_references,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils.openstack import (  # noqa: E402
    openstack_argument_spec,
    openstack_connect,
)


def _terminate(signum, frame):
    # Turn a stop request into an exception so that cleanup (deleting a half-uploaded record) runs.
    raise SystemExit(f"stopped by signal {signum}")


def main():
    argument_spec = openstack_argument_spec(
        state=dict(type="str", default="present", choices=["present", "absent"]),
        name=dict(type="str"),
        id=dict(type="str"),
        filename=dict(type="path"),
        disk_format=dict(type="str", default="qcow2",
                         choices=["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"]),
        container_format=dict(type="str", default="bare",
                              choices=["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"]),
        visibility=dict(type="str", choices=["public", "private", "shared", "community"]),
        protected=dict(type="bool"),
        min_disk=dict(type="int"),
        min_ram=dict(type="int"),
        tags=dict(type="list", elements="str", default=[]),
        properties=dict(type="dict", default={}),
        family=dict(type="str"),
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
    module = AnsibleModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        required_if=[("state", "present", ["name", "filename"]), ("state", "absent", ["name", "id"], True)],
    )
    p = module.params
    if p["state"] == "present":
        if p["id"]:
            module.fail_json(msg="Option 'id' is only for state=absent; use 'name' to publish.")
        path = p["filename"]
        if not os.path.exists(path):
            module.fail_json(msg=f"Option 'filename': {path} does not exist on this host.")
        if not os.path.isfile(path):
            module.fail_json(msg=f"Option 'filename': {path} is not a regular file.")
        if not os.access(path, os.R_OK):
            module.fail_json(msg=f"Option 'filename': {path} is not readable.")
        if os.path.getsize(path) == 0:
            module.fail_json(msg=f"Option 'filename': {path} is empty; nothing to publish.")
        try:
            parse_checksum(p["checksum"], p["hash_algorithm"])
        except ChecksumError as exc:
            module.fail_json(msg=str(exc))
        for option in ("keep", "min_disk", "min_ram", "retries"):
            if p[option] is not None and p[option] < 0:
                module.fail_json(msg=f"Option '{option}' must not be negative.")
        if p["keep"] == 0:
            module.fail_json(msg="Option 'keep' must be at least 1 (the published image is always kept).")
        if p["family"] is not None and not p["family"].strip():
            module.fail_json(msg="Option 'family' must not be empty.")

    conn = openstack_connect(module)
    client = GlanceClient(conn, attempts=p["retries"] + 1, warn=module.warn, timeout=p["api_timeout"])
    publisher = Publisher(client, p, check_mode=module.check_mode,
                          hash_cache=HashCache() if p["hash_cache"] else None, warn=module.warn,
                          references=lambda: trove_references(conn, p))
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        result = publisher.run_present() if p["state"] == "present" else publisher.run_absent()
    except GlanceError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except HttpStatusError as exc:
        if exc.status_code == 415:
            # Glance's text starts with the generic webob sentence; its own reason follows.
            reason = exc.detail.split("by this server.")[-1].strip().rstrip(".") or exc.detail
            module.fail_json(msg="Glance refused the data of {} as disk_format '{}' (HTTP 415): {}. Check the file's "
                                 "real format with 'qemu-img info {}' and set 'disk_format' to it; nothing was "
                                 "left in Glance.".format(p["filename"], p["disk_format"], reason, p["filename"]))
        action = "publishing {}".format(p["filename"]) if p["state"] == "present" else "deleting images"
        module.fail_json(msg=explain(exc, p, action=action))
    except Exception as exc:
        action = "publishing {}".format(p["filename"]) if p["state"] == "present" else "deleting images"
        module.fail_json(msg=explain(exc, p, action=action))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
