#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: glance_image_info
short_description: List Glance images by name, tags or properties
version_added: 0.1.0
description:
  - Lists the images visible to the user, filtered by name, tags, status and
    properties, newest first, optionally reshaped by a JMESPath O(query).
  - Never changes anything.
author:
  - dbaas.guest_images developers (@dbaas)
extends_documentation_fragment:
  - dbaas.guest_images._attributes
  - dbaas.guest_images._attributes.actiongroup_openstack
  - dbaas.guest_images.openstack
options:
  id:
    description:
      - Only the image with this ID.
    type: str
  name:
    description:
      - Only images with exactly this name.
    type: str
  tags:
    description:
      - Only images carrying all these tags.
    type: list
    elements: str
    default: []
  family:
    description:
      - Only images of this family (the C(family:<family>) tag set by
        M(dbaas.guest_images.glance_image)).
    type: str
  properties:
    description:
      - Only images whose properties have these values (compared as strings).
    type: dict
    default: {}
  status:
    description:
      - Only images in this status, for example C(active).
    type: str
  visibility:
    description:
      - Which images to list; V(all) lists every image the user may see.
    type: str
    choices: [all, public, private, shared, community]
    default: all
  query:
    description:
      - JMESPath expression applied to the list of images; its value is
        returned as RV(query_result).
    type: str
notes:
  - Needs the C(jmespath) Python library on the host that runs the task when
    O(query) is used.
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Newest active image of a family
  dbaas.guest_images.glance_image_info:
    cloud: mycloud
    family: trove-debian-12-mysql-8.0
    status: active
    query: "[0].id"
  register: newest

- name: Images built for a datastore version
  dbaas.guest_images.glance_image_info:
    cloud: mycloud
    properties:
      trove_datastore: mysql
      trove_datastore_version: "8.0"
"""

RETURN = r"""
images:
  description: Matching images, newest first.
  returned: always
  type: list
  elements: dict
  sample:
    - id: 1b6e7ee2-0d6a-4a4b-9d7e-3a1f0c2f4b11
      name: trove-guest-debian-12-mysql-8.0
      status: active
      size: 344129536
      os_hash_algo: sha512
      os_hash_value: 2d4e...
      tags: [family:trove-debian-12-mysql-8.0]
      properties: {os_distro: debian}
query_result:
  description: Value of O(query) over RV(images).
  returned: when O(query) is given
  type: raw
  sample: 1b6e7ee2-0d6a-4a4b-9d7e-3a1f0c2f4b11
"""

from ansible.module_utils.basic import missing_required_lib  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.client import GlanceClient  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.errors import failure  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.listing import find_images  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.request import (  # noqa: E402
    GlanceImageInfoRequest,
    glance_image_info_argument_spec,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import (  # noqa: E402
    OpenStackError,
    OpenStackModule,
    openstack_connect,
)

try:
    import jmespath

    HAS_JMESPATH = True
    JMESPATH_IMPORT_ERROR = None
except ImportError as import_error:
    HAS_JMESPATH = False
    JMESPATH_IMPORT_ERROR = import_error


def main():
    module = OpenStackModule(argument_spec=glance_image_info_argument_spec(), supports_check_mode=True)
    try:
        request = GlanceImageInfoRequest.from_params(module.params)
    except OpenStackError as exc:
        module.fail_json(msg=str(exc))
    compiled = None
    if request.query is not None:
        if not HAS_JMESPATH:
            module.fail_json(msg=missing_required_lib("jmespath"), exception=str(JMESPATH_IMPORT_ERROR))
        try:
            compiled = jmespath.compile(request.query)
        except jmespath.exceptions.JMESPathError as exc:
            module.fail_json(msg=f"Option 'query' is not a valid JMESPath expression: {exc}")
    conn = openstack_connect(module, request.cloud)
    client = GlanceClient(conn, warn=module.warn, timeout=request.cloud.api_timeout)
    try:
        images = find_images(client, name=request.name, tags=request.tags, properties=request.properties,
                             visibility=request.visibility, status=request.status, image_id=request.image_id)
    except Exception as exc:
        module.fail_json(**failure(exc, "listing images", request.cloud))
    result = {"changed": False, "images": images}
    if compiled is not None:
        result["query_result"] = compiled.search(images)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
