#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ensure a Trove datastore version exists and points at a guest image."""

DOCUMENTATION = r"""
module: trove_datastore_version
short_description: Register a guest image as a Trove datastore version
version_added: 0.1.0
description:
  - Ensures that a Trove datastore and one of its versions exist and that the
    version points at a Glance image, given by id or name (O(image)) or by
    tags (O(image_tags)), with the given manager, active flag and default
    flag.
  - Creates the datastore when Trove has none of that name.
  - Changes only the fields that differ (one C(PATCH)); reports
    C(changed=false) and sends nothing when the version is already as wanted.
  - Uses Trove's management API (C(mgmt/datastore-versions)) at the
    C(database) endpoint of the service catalog, so the user needs Trove's
    admin role.
author:
  - dbaas.guest_images developers (@dbaas)
extends_documentation_fragment:
  - dbaas.guest_images._attributes
  - dbaas.guest_images._attributes.actiongroup_openstack
  - dbaas.guest_images.openstack
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
options:
  datastore:
    description:
      - Name of the datastore, for example V(mysql), V(mariadb) or V(postgresql).
    type: str
    required: true
  name:
    description:
      - Name of the datastore version, for example V(8.0).
    type: str
    required: true
    aliases: [datastore_version]
  version:
    description:
      - Version number of the datastore version. Trove uses it as the tag of
        the datastore's container image.
      - Defaults to O(name), as Trove does.
      - Together with O(datastore) and O(name) it identifies the version;
        Trove cannot change it afterwards.
    type: str
  image:
    description:
      - Glance image, by id or name, that instances of this version boot.
      - A name must match exactly one image; give the id when several share it.
      - One of O(image) or O(image_tags) is required to create a version.
    type: str
  image_tags:
    description:
      - Glance image tags; Trove boots the newest active image carrying all of
        them. Replaces a version's image id.
      - At most 5 tags, none containing a comma.
    type: list
    elements: str
  image_to_upload:
    description:
      - Check mode only, with O(state=present) - the name of an image that the
        publish stage would upload (it has no id yet). The version is
        predicted as pointing at that image; Glance is not asked for it.
      - "The C(image) shown in the diff and in RV(version) then names it, in
        parentheses - C(image to be uploaded: NAME)."
      - The register role passes it for C(publish_results) items with
        C(would_upload=true), so that a check-mode run of publish and
        register previews the whole chain.
      - Refused outside check mode. Mutually exclusive with O(image) and O(image_tags).
    type: str
  manager:
    description:
      - The Trove datastore manager (C(datastore_manager)), for example
        V(mysql), V(mariadb) or V(postgresql).
      - When creating a version and not given, O(datastore) is used; an
        existing version keeps its manager.
    type: str
    aliases: [datastore_manager]
  active:
    description:
      - Whether users may create instances of this version.
    type: bool
    default: true
  default:
    description:
      - V(true) makes this version the datastore's default version; V(false)
        makes sure it is not (the datastore is then left without a default).
      - Not given, an existing version's default flag is left as it is.
    type: bool
  packages:
    description:
      - Packages Trove records for this version (C(packages)).
      - Not given, Trove's value is left as it is.
    type: list
    elements: str
  registry_ext:
    description:
      - The guest agent manager class Trove records for this version
        (C(registry_ext)), for example
        V(trove.guestagent.datastore.mysql.manager.Manager).
      - Not given, Trove chooses from its configuration on creation and an
        existing value is left as it is.
    type: str
  repl_strategy:
    description:
      - The replication strategy class (C(repl_strategy)).
      - Not given, Trove chooses from its configuration on creation and an
        existing value is left as it is.
    type: str
  state:
    description:
      - V(present) creates or updates the version; V(absent) deletes it (the
        datastore stays). Trove refuses to delete a version still used by
        instances, backups or configurations.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Trove checks with Glance that the image exists (or that an active image
    carries the tags) before it accepts a version.
requirements:
  - openstacksdk
"""

EXAMPLES = r"""
- name: Register the new MySQL 8.0 guest image as the default version
  dbaas.guest_images.trove_datastore_version:
    cloud: mycloud
    datastore: mysql
    name: "8.0"
    image: trove-debian-12-mysql-8.0-container
    manager: mysql
    default: true

- name: Let Trove pick the newest image tagged for MariaDB 10.11
  dbaas.guest_images.trove_datastore_version:
    cloud: mycloud
    datastore: mariadb
    name: "10.11"
    image_tags: [trove, mariadb-10.11]

- name: Retire a version
  dbaas.guest_images.trove_datastore_version:
    cloud: mycloud
    datastore: mysql
    name: "5.7"
    state: absent
"""

RETURN = r"""
version:
  description:
    - The datastore version as Trove shows it after the task (in check mode,
      as it would be); V(null) when it does not exist (O(state=absent)).
  returned: always
  type: dict
  sample:
    id: 61dc6537-0ade-4de9-8d9b-3b724e407018
    name: "8.0"
    version: "8.0"
    datastore_id: da4d2f03-0342-4a30-89dd-91d2f6eecbab
    datastore_name: mysql
    datastore_manager: mysql
    image: b8e2b71b-9f83-45f2-a666-73522cf0461a
    image_tags: []
    packages: []
    active: true
    default: true
    registry_ext: trove.guestagent.datastore.mysql.manager.Manager
    repl_strategy: trove.guestagent.strategies.replication.mysql_gtid.MysqlGTIDReplication
action:
  description: What was done (or, in check mode, would be done).
  returned: always
  type: str
  choices: [create, update, delete, none]
  sample: update
image_id:
  description: The Glance image id that O(image) resolved to.
  returned: when O(image) is given and O(state=present)
  type: str
  sample: b8e2b71b-9f83-45f2-a666-73522cf0461a
request:
  description: The body sent to Trove (or that would be sent in check mode).
  returned: when changed and O(state=present)
  type: dict
  sample:
    image: b8e2b71b-9f83-45f2-a666-73522cf0461a
duration:
  description:
    - Seconds the task spent with Glance and Trove (the image lookup, finding and changing the datastore version),
      after connecting. The build report shows it as the image's C(register) stage.
  returned: always
  type: float
  sample: 1.4
"""

import time  # noqa: E402
from typing import Any  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import (  # noqa: E402
    OpenStackError,
    OpenStackModule,
    has_service,
    openstack_connect,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import (  # noqa: E402
    describe_error,
    retry,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.admin import TroveAdmin, TroveError  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.datastore_version import (  # noqa: E402
    ensure_version,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.request import (  # noqa: E402
    MUTUALLY_EXCLUSIVE,
    DatastoreVersionRequest,
    argument_spec,
)


def resolve_image(conn: Any, module: AnsibleModule, name_or_id: str) -> str:
    """The Glance id of option ``image`` (an id or a unique name)."""
    try:
        image = conn.image.find_image(name_or_id, ignore_missing=True)
    except Exception as exc:  # DuplicateResource when a name is shared, HTTP errors
        if exc.__class__.__name__ == "DuplicateResource":
            module.fail_json(msg=f"Option 'image': more than one Glance image is named '{name_or_id}'; give "
                                 "the image id instead.")
        module.fail_json(msg=f"Option 'image': could not look up '{name_or_id}' in Glance: "
                             f"{describe_error(exc, module.params)}")
    if image is None:
        module.fail_json(msg=f"Option 'image': no Glance image has the id or name '{name_or_id}' (check the "
                             "name, and that the image is visible to this project).")
    return str(image.id)


def main() -> None:
    module = OpenStackModule(
        argument_spec=argument_spec(),
        supports_check_mode=True,
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
    )
    try:
        # Checked before talking to the cloud.
        request = DatastoreVersionRequest.from_params(module.params, check_mode=module.check_mode)
    except TroveError as exc:
        module.fail_json(msg=exc.msg)

    conn = openstack_connect(module)
    if not has_service(conn, "database", module.params):
        module.fail_json(msg="The service catalog has no 'database' (Trove) endpoint for interface "
                             f"'{request.interface}'" + (f" in region '{request.region_name}'"
                                                         if request.region_name else "")
                             + ": check the cloud, 'region_name' and 'interface'.")

    started = time.monotonic()
    image_id = None
    if request.state == "present" and request.image:
        image_id = resolve_image(conn, module, request.image)

    admin = TroveAdmin(conn.session, interface=request.interface, region_name=request.region_name, retry=retry)
    try:
        result = ensure_version(admin, request.want(image_id), state=request.state, check_mode=module.check_mode)
    except TroveError as exc:
        module.fail_json(msg=exc.msg, status=exc.status, **exc.details)
    except OpenStackError as exc:
        module.fail_json(msg=exc.msg, **exc.details)
    except Exception as exc:  # keystoneauth connection errors and the like
        module.fail_json(msg=f"Talking to Trove failed: {describe_error(exc, module.params)}")

    if image_id:
        result["image_id"] = image_id
    result["duration"] = round(time.monotonic() - started, 3)
    if not module._diff:
        result.pop("diff", None)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
