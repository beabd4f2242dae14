# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""JMESPath selection of matrix entries (_compose/selection.py)."""

from __future__ import annotations

import hashlib

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases, selection
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError

OS_ELEMENTS = releases.os_layer("debian", "12")["elements"]


def entry(**over):
    base = {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}
    base.update(over)
    return base


def write(path, data=b"payload"):
    path.write_bytes(data)
    return str(path)


def sha(data=b"payload"):
    return hashlib.sha256(data).hexdigest()


MATRIX = [
    entry(),
    entry(datastore="mariadb", datastore_version="10.11", mode="package"),
    {"name": "plain", "elements": ["vm"]},
]


def test_select_all_without_expression():
    assert selection.select_guest_images(MATRIX, "") == MATRIX
    assert selection.select_guest_images(MATRIX, None) == MATRIX


def test_select_by_expression():
    assert selection.select_guest_images(MATRIX, "[?mode=='package']") == [MATRIX[1]]
    assert selection.select_guest_images(MATRIX, "[?os]") == MATRIX[:2]


def test_select_bad_expression_is_clear():
    with pytest.raises(GuestMatrixError, match="build_guest_select: '\\[\\?mode==' is not a valid JMESPath"):
        selection.select_guest_images(MATRIX, "[?mode==")


def test_select_must_yield_entries():
    with pytest.raises(GuestMatrixError, match="must select matrix entries"):
        selection.select_guest_images(MATRIX, "[].mode")


def test_select_no_match_is_empty():
    assert selection.select_guest_images(MATRIX, "[?datastore=='redis']") == []
    assert selection.select_guest_images(MATRIX, "nothing") == []


def test_matrix_must_be_a_list():
    with pytest.raises(GuestMatrixError, match="must be a list"):
        selection.select_guest_images({"a": 1}, "[?os]")


def test_empty_selection_is_refused_listing_the_matrix_unless_allowed():
    entries = [entry(), {"name": "base", "elements": ["vm"]}]
    with pytest.raises(GuestMatrixError) as err:
        selection.select_guest_images(entries, "[?datastore=='nothing']", allow_empty=False)
    assert str(err.value) == (
        "build_guest_select: '[?datastore=='nothing']' selects none of the 2 entries of build_guest_images"
        " ([0] {os: debian, release: 12, datastore: mysql, datastore_version: 8.0, mode: container}; [1] base);"
        " fix the expression (e.g. [?datastore=='mysql']), or set build_guest_allow_empty=true to allow a run"
        " that builds nothing"
    )
    with pytest.raises(GuestMatrixError, match="build_guest_images: is empty.*build_guest_allow_empty=true"):
        selection.select_guest_images([], "", allow_empty=False)
    assert selection.select_guest_images(entries, "[?datastore=='nothing']", allow_empty=True) == []
    assert selection.select_guest_images(entries, "[?name=='base']", allow_empty=False) == [entries[1]]
