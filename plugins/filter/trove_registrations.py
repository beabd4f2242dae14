# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the register stage: published images -> trove_datastore_version option sets, and back to rows.

Documented in trove_registrations.yml and trove_registration_results.yml beside this file.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.registrations import (
    RegistrationError,
    registration_results,
    registrations,
)
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain


def trove_registrations(images: Any, disk_formats: Any = ("qcow2",), default: Any = True, active: Any = True,
                        option: str = "register_images", check_mode: Any = False) -> list[dict[str, Any]]:
    try:
        return registrations(plain(images), [str(f) for f in plain(disk_formats)], bool(default), bool(active),
                             option=str(option), check_mode=bool(check_mode))
    except RegistrationError as exc:
        raise AnsibleFilterError(str(exc)) from None


def trove_registration_results(results: Any, entry_key: str) -> list[dict[str, Any]]:
    return registration_results(plain(results), str(entry_key))


class FilterModule:
    """dbaas.guest_images register stage filter."""

    def filters(self) -> dict[str, Any]:
        return {
            "trove_registrations": trove_registrations,
            "trove_registration_results": trove_registration_results,
        }
