# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every module that talks to an OpenStack cloud."""


class ModuleDocFragment:
    # Kept in step with OPENSTACK_ARGUMENT_SPEC in plugins/module_utils/_openstack/connection.py
    # (a unit test compares the two). Names and meanings follow openstack.cloud so that
    # playbooks and module_defaults written for it work here too.
    DOCUMENTATION = r"""
options:
  cloud:
    description:
      - Name of a cloud in C(clouds.yaml) (searched in the current folder,
        C(~/.config/openstack/) and C(/etc/openstack/), or the file named by
        E(OS_CLIENT_CONFIG_FILE)), or a dictionary holding a complete cloud
        configuration.
      - Passwords, tokens and secrets inside such a dictionary are masked in
        the task's output, as the values of O(auth) are.
      - When neither O(cloud) nor O(auth) is given, the E(OS_*) environment
        variables are used, as the C(openstack) command line client does.
    type: raw
  auth:
    description:
      - Authentication values for the O(auth_type) plugin, for example
        C(auth_url), C(username), C(password), C(project_name),
        C(user_domain_name), C(project_domain_name); merged over the
        values of O(cloud).
      - Never logged and never returned.
    type: dict
  auth_type:
    description:
      - Keystone authentication plugin, for example C(password),
        C(v3applicationcredential) or C(token).
    type: str
  region_name:
    description:
      - Region whose endpoints are used.
    type: str
  interface:
    description:
      - Which endpoint URL of the service catalog to use.
    type: str
    choices: [admin, internal, public]
    default: public
    aliases: [endpoint_type]
  validate_certs:
    description:
      - Whether TLS certificates of the cloud's endpoints are verified.
      - When not set, the value of O(cloud) (C(verify)) applies, which
        defaults to V(true).
    type: bool
    aliases: [verify]
  ca_cert:
    description:
      - Path to a CA bundle used to verify the endpoints' certificates.
    type: path
    aliases: [cacert]
  client_cert:
    description:
      - Path to a client certificate (PEM) for endpoints that require one.
    type: path
    aliases: [cert]
  client_key:
    description:
      - Path to the private key of O(client_cert), when it is a separate file.
    type: path
    aliases: [key]
  api_timeout:
    description:
      - Seconds to wait for one answer of an API call before giving up.
    type: int
  wait:
    description:
      - Whether to wait for the operation to finish (for example, an
        uploaded image to become C(active)).
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait when O(wait=true).
    type: int
    default: 180
requirements:
  - python >= 3.8
  - openstacksdk >= 1.0
notes:
  - Modules of this collection that talk to OpenStack are in the action group
    C(dbaas.guest_images.openstack), so the connection options can be set once
    per play with C(module_defaults).
"""
