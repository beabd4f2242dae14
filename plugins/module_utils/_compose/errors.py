# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error of the compose stage: a matrix entry, a selection or an operator file cannot be used.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations


class GuestMatrixError(ValueError):
    """A matrix entry, a selection or an operator file cannot be used; the message says which and why."""
