# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an image name may be: it becomes a file name on the build host and a name in Glance.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

import re

_IMAGE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RULE = "letters, digits, '.', '_' and '-', starting with a letter or digit; no '/', no '..', no white space"


def image_name_problem(name: object) -> str | None:
    """``None`` when ``name`` is a usable image name, else what is wrong with it."""
    if not isinstance(name, str) or not name.strip():
        return "must not be empty; give the image a file name such as 'debian-12'"
    if not _IMAGE_NAME.match(name) or ".." in name:
        return f"'{name}' is not usable as an image file name ({RULE})"
    return None
