# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Options shared by every module that talks to an OpenStack cloud."""


class ModuleDocFragment:
    # Kept in step with OPENSTACK_ARGUMENT_SPEC in plugins/module_utils/_openstack/connection.py
    # (a unit test compares the two).
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
      - In such a dictionary C(cacert), C(cert) and C(key) may each be the
        path of a file on the host that connects, or the file's PEM text
        itself (as the P(dbaas.guest_images.cloud_config#lookup) lookup gives
        them), which is written to a private file of the task for as long as
        it runs. A private key given so is masked in the output.
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
  sdk_log_path:
    description:
      - Path of a file that receives openstacksdk's own log.
    type: path
  sdk_log_level:
    description:
      - Level of that log; V(DEBUG) adds every HTTP request (keystoneauth
        masks passwords and hashes tokens in it).
    type: str
    choices: [INFO, DEBUG]
    default: INFO
requirements:
  - python >= 3.8
  - openstacksdk >= 1.0
notes:
  - Modules of this collection that talk to OpenStack are in the action group
    C(dbaas.guest_images.openstack), so the connection options can be set once
    per play with C(module_defaults) for C(group/dbaas.guest_images.openstack).
  - "The connection options have the names, aliases, types and defaults of
    openstack.cloud's (C(cloud), C(auth), C(auth_type), C(region_name),
    C(interface)/C(endpoint_type), C(validate_certs)/C(verify),
    C(ca_cert)/C(cacert), C(client_cert)/C(cert), C(client_key)/C(key),
    C(api_timeout), C(wait), C(timeout), C(sdk_log_path), C(sdk_log_level)), so
    the values a play gives C(group/openstack.cloud.openstack) can be given to
    C(group/dbaas.guest_images.openstack) as they are, for example through a
    YAML anchor. C(clouds.yaml) and the E(OS_*) variables are read as
    openstack.cloud reads them."
  - C(module_defaults) for C(group/openstack.cloud.openstack) do not reach these
    modules - Ansible applies a group's defaults only to the modules the group's
    own collection lists in its C(meta/runtime.yml) - and a play naming that group
    is refused when openstack.cloud is not installed.
"""
