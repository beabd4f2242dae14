# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes every module of the collection declares; modules state only their ``support``."""


class ModuleDocFragment:
    # Every module: check mode, diff mode and idempotency.
    DOCUMENTATION = r"""
options: {}
attributes:
  check_mode:
    description: Runs with C(--check) and reports what a real run would change, changing nothing.
  diff_mode:
    description: Returns a before/after view of what changed, or in check mode of what would change.
  idempotent:
    description: A second run with the same arguments and an unchanged world changes nothing and reports no change.
"""

    # Modules in the action group that module_defaults can address.
    ACTIONGROUP_OPENSTACK = r"""
options: {}
attributes:
  action_group:
    description: C(module_defaults) can set this module's options with C(group/dbaas.guest_images.openstack).
    support: full
    membership:
      - dbaas.guest_images.openstack
"""

    # Modules whose work can run as an C(async) task.
    ASYNC = r"""
options: {}
attributes:
  async:
    description: Can run as an C(async) task, polled by the controller or by C(async_status).
"""
