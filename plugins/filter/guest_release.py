# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that give roles the facts of the collection's release table and OS-layer settings.

``{'os': 'debian', 'release': '12'} | dbaas.guest_images.guest_release(agent_version, where)``
    python, glibc, wheel tag, codename, agent version and wheelhouse name of
    one guest release (plugins/module_utils/_compose/releases.py); an unknown
    os/release is refused naming ``where`` and what is supported.
``settings | dbaas.guest_images.guest_os_settings(prefix)``
    every OS-layer setting, checked, unset ones at the collection's defaults.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.composition import entry_label
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain


def guest_release(value, agent_version="", where="os_layer_releases"):
    value = _plain(value)
    if not isinstance(value, dict):
        raise AnsibleFilterError(f"{where}: expected a mapping with os and release, got {value!r}")
    if set(value) - {"os", "release"}:
        # A matrix entry: name it the way composition does.
        where = entry_label(value, where)
    try:
        return releases.guest_release(value.get("os"), value.get("release"), agent_version, where=where)
    except releases.GuestOSError as exc:
        raise AnsibleFilterError(str(exc)) from None


def guest_os_settings(settings, prefix=""):
    settings = _plain(settings or {})
    if not isinstance(settings, dict):
        raise AnsibleFilterError(f"OS layer settings must be a mapping, got {settings!r}")
    try:
        return releases.resolve_settings(settings, prefix)
    except releases.GuestOSError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """dbaas.guest_images release table filters."""

    def filters(self):
        return {"guest_release": guest_release, "guest_os_settings": guest_os_settings}
