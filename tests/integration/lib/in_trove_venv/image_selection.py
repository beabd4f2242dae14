# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run with the trove package's python: which Glance image Trove would launch for a datastore version.

The same calls as Trove's instance create (``trove.instance.service``): the
datastore version from Trove's database (``ds_models.get_datastore_version``),
Trove's Glance client (``clients.create_glance_client``, the service user of
``[service_credentials]``) and ``trove.common.glance.get_image_id(client,
image_id, image_tags)``: the version's image id, or the newest active image
carrying all of its tags.

stdin:  JSON ``{config_file, datastore, version}``
stdout: JSON ``{image_id, version_image_id, version_image_tags}``
"""

import json
import sys


def main():
    request = json.load(sys.stdin)
    from trove.common import cfg, context

    cfg.parse_args(["image-selection", "--config-file", request["config_file"]], default_config_files=[])
    from trove.db import get_db_api

    get_db_api().configure_db()
    from trove.common import clients
    from trove.common import glance as common_glance
    from trove.datastore import models as ds_models

    _datastore, version = ds_models.get_datastore_version(type=request["datastore"], version=request["version"],
                                                          return_inactive=True)
    client = clients.create_glance_client(context.TroveContext())
    image_id = common_glance.get_image_id(client, version.image_id, version.image_tags)
    print(json.dumps({"image_id": image_id, "version_image_id": version.image_id,
                      "version_image_tags": version.image_tags}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
