# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Former home of the OpenStack connection helpers: re-exports ``_openstack`` for imports of this path.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import (
    HAS_OPENSTACKSDK,
    OPENSTACK_ARGUMENT_SPEC,
    OpenStackError,
    connect,
    connection_kwargs,
    has_service,
    openstack_argument_spec,
    openstack_connect,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import (
    TRANSIENT_HTTP_STATUS,
    describe_error,
    is_transient,
    retry,
)

__all__ = [
    "HAS_OPENSTACKSDK",
    "OPENSTACK_ARGUMENT_SPEC",
    "TRANSIENT_HTTP_STATUS",
    "OpenStackError",
    "connect",
    "connection_kwargs",
    "describe_error",
    "has_service",
    "is_transient",
    "openstack_argument_spec",
    "openstack_connect",
    "retry",
]
