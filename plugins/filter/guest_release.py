# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filter ``guest_release``: what the build host needs to know of one guest OS release.

``{'os': 'debian', 'release': '12'} | dbaas.guest_images.guest_release(agent_version, where)``
    python, glibc, wheel tag, codename, agent version and wheelhouse name from
    the collection's release table (plugins/module_utils/_compose/releases.py);
    an unknown os/release is refused naming ``where`` and what is supported.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain


def guest_release(value, agent_version="", where="os_layer_releases"):
    value = _plain(value)
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"{where}: expected a mapping with os and release, got {value!r}")
    try:
        return releases.guest_release(value.get("os"), value.get("release"), agent_version, where=where)
    except releases.GuestOSError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """dbaas.guest_images guest release filter."""

    def filters(self):
        return {"guest_release": guest_release}
