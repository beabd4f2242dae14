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
  - Every record the module creates carries the property
    C(dbaas_guest_images_upload) (C(<host>:<pid>) of the task) from the
    moment it exists. When Glance is unreachable for longer than O(timeout)
    the record cannot be deleted; the task fails naming it, and the next run
    of the same family (or name) deletes every unfinished (C(queued),
    C(saving), C(killed), ...) record carrying that property whose task is
    gone (on this host, its process ended; from another host, older than one hour),
    and reports them in RV(cleaned). Unfinished images without the property
    (an operator's own) are never touched, nor counted or deleted by rotation.
  - Rollback. When an image of the family already holds the file's data but
    is not the family's newest active image, the data is uploaded again as a
    new image, because Trove (a datastore version registered with
    C(image_tags)) launches the newest active image carrying the tags and
    Glance's C(created_at) cannot change. The older copy is then deleted,
    unless it is protected, used by a Trove datastore version or owned by
    another project. RV(rolled_back) says which image was the newest before
    and which one held the same data.
  - With O(keep), the O(keep) newest images of the family (or of the name) stay
    and older ones are deleted, except protected images and images a Trove
    datastore version still uses.
author:
  - dbaas.guest_images developers (@dbaas)
extends_documentation_fragment:
  - dbaas.guest_images._attributes
  - dbaas.guest_images._attributes.actiongroup_openstack
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
        is reused (and renamed to O(name)) when it is the family's newest
        active image (else the data is published again, see the rollback
        above), and O(keep) rotates the family.
    type: str
  unique_name:
    description:
      - Name each image of the O(family) C(<name>-<YYYYmmddHHMMSS>), its
        creation time in UTC, so that every kept image has its own name and
        C(openstack image show) finds each one. The family tag groups them.
      - An image of the family that already holds the data keeps its name
        when it has this form; an older one (named O(name) exactly) is renamed
        to O(name) plus its own creation time.
      - Requires O(family). When false and several images of the family share
        one name, the task warns.
    type: bool
    default: false
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
        O(hash_algorithm). Any algorithm of O(hash_algorithm)'s choices may
        be given.
      - When it is O(hash_algorithm)'s, it spares hashing the file before
        deciding whether Glance already holds the data.
      - Before an upload starts (and in check mode before one is predicted)
        the file is checked against it locally, whatever its algorithm (from
        the hash cache, else one hashing pass); a file that does not match is
        refused and no image is created in Glance.
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
    support: full
  diff_mode:
    support: full
    details:
      - In check mode, the predicted C(after) of an image still to be
        uploaded shows Glance's own defaults for what is not given
        (O(visibility=shared), O(min_disk=0), O(min_ram=0), O(protected=false)).
  idempotent:
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
would_upload:
  description:
    - In check mode, whether the real run would upload the file (no image in
      Glance holds its data); the C(id) of RV(image) is then null. Always false outside
      check mode.
  returned: state=present
  type: bool
  sample: true
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
cleaned:
  description:
    - Unfinished records (C(queued), C(saving), ...) an earlier run of this
      collection left in the family, for example when Glance was down longer
      than O(timeout); deleted by this run (to be deleted, in check mode).
  returned: state=present
  type: list
  elements: dict
  sample: [{id: 4e2b..., name: trove-guest-debian-12-mysql-8.0, status: saving, created_at: "2026-01-01T00:00:00Z"}]
rolled_back:
  description:
    - Set when the file's data was held by an older image of the family than
      its newest active one, and was therefore published again as the newest.
      C(previous) is the image that was newest before (the one Trove picked by
      tags), C(same_data_as) the older image holding the same data (deleted
      unless protected or in use, see RV(deleted) and RV(spared)). Null
      otherwise.
  returned: state=present
  type: dict
  sample:
    previous: {id: 9c1d..., name: trove-guest-debian-12-mysql-8.0-20260102030405, status: active}
    same_data_as: {id: 0f7a..., name: trove-guest-debian-12-mysql-8.0-20260101030405, status: active}
spared:
  description:
    - Old images rotation kept anyway, with the reason (protected, referenced,
      not active, ...), and unfinished uploads of this collection that may
      still be running.
  returned: always
  type: list
  elements: dict
  sample: [{id: 9c1d..., name: trove-guest-debian-12-mysql-8.0, reason: protected}]
duration:
  description:
    - Seconds the task spent with Glance (finding the image by content, uploading and verifying it, rotating
      its family), after connecting. The build report shows it as the image's C(publish) stage.
  returned: always
  type: float
  sample: 41.7
"""

import signal  # noqa: E402
import time  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.client import GlanceClient  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.data import HashCache  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.errors import failure  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.publish import Publisher  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.request import (  # noqa: E402
    GLANCE_IMAGE_MODULE_KWARGS,
    GlanceImageRequest,
    RequestError,
    glance_image_argument_spec,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import (  # noqa: E402
    OpenStackError,
    OpenStackModule,
    openstack_connect,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.references import images_in_use  # noqa: E402


def _terminate(signum, frame):
    # Turn a stop request into an exception so that cleanup (deleting a half-uploaded record) runs.
    raise SystemExit(f"stopped by signal {signum}")


def main():
    module = OpenStackModule(argument_spec=glance_image_argument_spec(), **GLANCE_IMAGE_MODULE_KWARGS)
    try:
        request = GlanceImageRequest.from_params(module.params)
    except (RequestError, OpenStackError) as exc:
        module.fail_json(msg=str(exc))
    conn = openstack_connect(module, request.cloud)
    cloud = request.cloud
    publisher = Publisher(
        GlanceClient(conn, attempts=request.retries + 1, warn=module.warn, timeout=cloud.api_timeout), request,
        check_mode=module.check_mode, hash_cache=HashCache() if request.hash_cache else None, warn=module.warn,
        in_use=(lambda: images_in_use(conn, cloud.interface, cloud.region_name)) if request.check_trove else None)
    previous = signal.signal(signal.SIGTERM, _terminate)
    started = time.monotonic()
    try:
        result = publisher.run_present() if request.state == "present" else publisher.run_absent()
        result["duration"] = round(time.monotonic() - started, 3)
    except Exception as exc:
        module.fail_json(**failure(exc, request.action, cloud, request.filename, request.disk_format))
    finally:
        signal.signal(signal.SIGTERM, previous)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
