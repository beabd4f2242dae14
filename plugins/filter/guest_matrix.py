# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters that turn the image matrix into dib_image option sets.

``entry | dbaas.guest_images.compose_guest_image(layers)``
    the dib_image option set of one matrix entry (see docs/LAYERS.md);
    refuses unsupported combinations and bad operator files before a build.
``entries | dbaas.guest_images.select_guest_images(expression, allow_empty, matrix)``
    every entry checked at once (messages name ``matrix[i]``), then the
    entries a JMESPath expression selects (empty expression: all).
``location | dbaas.guest_images.check_licensed_packages(pins, family)``
    validates licensed packages (file or folder), returns name/size/sha256.
``paths | dbaas.guest_images.check_container_images``
    validates container image tarballs, returns name/size.

The logic lives in ``plugins/module_utils/_compose``; these wrappers turn
Ansible's values into plain ones and errors into AnsibleFilterError.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import composition, operator_files, selection
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._plain import plain as _plain


def compose_guest_image(entry, layers=None):
    try:
        return composition.compose_guest_image(_plain(entry), _plain(layers or {}))
    except GuestMatrixError as exc:
        raise AnsibleFilterError(str(exc)) from None


def select_guest_images(entries, expression=None, allow_empty=True, matrix="build_guest_images"):
    try:
        return selection.select_guest_images(
            _plain(entries), expression, allow_empty=bool(allow_empty), matrix_option=str(matrix)
        )
    except GuestMatrixError as exc:
        raise AnsibleFilterError(str(exc)) from None


def check_licensed_packages(location, sha256_pins=None, family="dpkg", option="datastore_layer_pkg_location"):
    try:
        return operator_files.check_package_location(
            _plain(location), _plain(sha256_pins or {}), family=family, option=option
        )
    except GuestMatrixError as exc:
        raise AnsibleFilterError(str(exc)) from None


def check_container_images(paths, option="datastore_layer_container_images"):
    try:
        return operator_files.check_container_images(_plain(paths), option=option)
    except GuestMatrixError as exc:
        raise AnsibleFilterError(str(exc)) from None


class FilterModule:
    """dbaas.guest_images image matrix filters."""

    def filters(self):
        return {
            "compose_guest_image": compose_guest_image,
            "select_guest_images": select_guest_images,
            "check_licensed_packages": check_licensed_packages,
            "check_container_images": check_container_images,
        }
