# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lookup: a cloud of the controller's clouds.yaml as a dictionary (logic in plugin_utils/_clouds_yaml.py)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: cloud_config
author:
  - dbaas.guest_images developers (@dbaas)
version_added: 0.1.0
short_description: A cloud of the controller's clouds.yaml, as a cloud dictionary for the build hosts
description:
  - Reads each named cloud from C(clouds.yaml) on the controller, the way openstacksdk finds it
    (E(OS_CLIENT_CONFIG_FILE), the current folder, C(~/.config/openstack), C(/etc/openstack)), with
    C(secure.yaml) merged in, and returns its entry as a dictionary, ready for the C(cloud) option of the
    collection's OpenStack modules (which mask every secret in it).
  - The C(build_guest.yml) playbook uses it so that a build host that publishes its images needs no copy of
    the controller's C(clouds.yaml). Pass its result only to no_log tasks or to the collection's modules.
  - The TLS files the entry names (C(cacert), C(cert), C(key)) are read on the controller too, and returned as
    their PEM text (O(inline_files)), which the collection's modules write to private files while they run;
    the host that connects needs no copy of them. A file that cannot be read is named, with the cloud.
options:
  _terms:
    description: The cloud names.
    type: list
    elements: str
    required: true
  where:
    description: What the names were given as, for error messages (for example the variable's name).
    type: str
    default: lookup cloud_config
  inline_files:
    description:
      - Return the C(cacert), C(cert) and C(key) files of the entry as their PEM text instead of their paths.
      - Set to V(false) when the result goes to a tool that only takes paths and the host that connects has
        the same files (openstack.cloud's modules, for example).
    type: bool
    default: true
notes:
  - Needs openstacksdk on the controller.
"""

EXAMPLES = r"""
- name: Publish from a remote build host with a cloud of the controller's clouds.yaml
  dbaas.guest_images.glance_image:
    cloud: "{{ lookup('dbaas.guest_images.cloud_config', 'mycloud') }}"
    name: debian-12
    filename: /srv/images/debian-12.qcow2
"""

RETURN = r"""
_raw:
  description: One dictionary per name, the cloud's entry (C(auth), C(region_name), C(interface), ...).
  type: list
  elements: dict
"""

from ansible.errors import AnsibleLookupError  # noqa: E402
from ansible.plugins.lookup import LookupBase  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.plugin_utils._clouds_yaml import (  # noqa: E402
    CloudsYamlError,
    cloud_entry,
)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            where, inline = str(self.get_option("where")), bool(self.get_option("inline_files"))
            return [cloud_entry(term, where=where, inline_files=inline) for term in terms]
        except CloudsYamlError as exc:
            raise AnsibleLookupError(str(exc)) from None
