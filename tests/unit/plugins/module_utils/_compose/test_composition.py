# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Composition of matrix entries into dib_image option sets (_compose/composition.py)."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import (
    composition,
    datastores,
    elements,
    releases,
)
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


def test_container_entry_composes_os_then_datastore_layer():
    got = composition.compose_guest_image(entry(), {"wheelhouse": "/srv/wheels"})
    assert got["name"] == "trove-debian-12-mysql-8.0-container"
    assert got["elements"] == OS_ELEMENTS + ["dbaas-datastore-container", "dbaas-sbom"]
    assert got["elements"][0] == "debian-minimal"
    assert got["environment"]["DIB_RELEASE"] == "bookworm"
    assert got["environment"]["DBAAS_CONTAINER_ENGINE"] == "docker"
    assert got["environment"]["DBAAS_CONTAINER_ENGINE_PACKAGES"] == "docker.io"
    assert got["environment"]["DBAAS_DATASTORE"] == "mysql"
    assert got["environment"]["DBAAS_DATASTORE_VERSION"] == "8.0"
    assert got["inputs"] == {"DBAAS_GUEST_AGENT_WHEELHOUSE": "/srv/wheels"}
    assert got["formats"] == ["qcow2"]
    assert got["size"] == composition.DEFAULT_TROVE_SIZE
    assert got["packages"] == []


def test_package_entry_takes_server_package_service_and_data_dir_from_table():
    got = composition.compose_guest_image(entry(datastore="mariadb", datastore_version="10.11", mode="package"))
    assert got["elements"][-2:] == ["dbaas-datastore-package", "dbaas-sbom"]
    env = got["environment"]
    assert env["DBAAS_DATASTORE_PACKAGES"] == "mariadb-server"
    assert env["DBAAS_DATASTORE_SERVICE"] == "mariadb"
    assert env["DBAAS_DATASTORE_DATA_DIR"] == "/var/lib/mysql"
    assert env["DBAAS_DATASTORE_USER"] == "mysql"
    assert "DBAAS_CONTAINER_ENGINE" not in env


def test_element_paths_are_the_collections_role_element_folders(tmp_path):
    for role in ("os_layer", "datastore_layer", "build_host"):
        (tmp_path / "roles" / role / "files").mkdir(parents=True)
    (tmp_path / "roles" / "datastore_layer" / "files" / "elements").mkdir()
    (tmp_path / "roles" / "os_layer" / "files" / "elements").mkdir()
    assert elements.collection_element_paths(str(tmp_path)) == [
        str(tmp_path / "roles" / "datastore_layer" / "files" / "elements"),
        str(tmp_path / "roles" / "os_layer" / "files" / "elements"),
    ]


def test_element_paths_found_from_this_checkout():
    got = composition.compose_guest_image(entry())
    ours = os.path.join(elements.collection_root(), "roles", "datastore_layer", "files", "elements")
    assert ours in got["element_paths"]
    assert all(os.path.isabs(p) for p in got["element_paths"])


def test_entry_extras_append_and_environment_wins_over_layers():
    got = composition.compose_guest_image(
        entry(
            name="custom",
            elements=["my-element"],
            element_paths=["/opt/elements"],
            environment={"DIB_RELEASE": "trixie", "EXTRA": 1},
            packages=["vim"],
            formats=["qcow2", "raw"],
            size="6",
        ),
        {"environment": {"DIB_DISTRIBUTION_MIRROR": "http://mirror.invalid/debian", "DIB_RELEASE": "x"}},
    )
    assert got["name"] == "custom"
    assert got["elements"][-2:] == ["my-element", "dbaas-sbom"]
    assert got["element_paths"][-1] == "/opt/elements"
    assert got["environment"]["DIB_RELEASE"] == "trixie"
    assert got["environment"]["EXTRA"] == "1"
    assert got["environment"]["DIB_DISTRIBUTION_MIRROR"] == "http://mirror.invalid/debian"
    assert got["packages"] == ["vim"]
    assert got["formats"] == ["qcow2", "raw"]
    assert got["size"] == 6


def test_os_layer_environment_wins_over_layer_environment():
    got = composition.compose_guest_image(entry(), {"environment": {"DIB_RELEASE": "sid"}})
    assert got["environment"]["DIB_RELEASE"] == "bookworm"


@pytest.mark.parametrize(
    "over, words",
    [
        ({"os": "fedora"}, ["os 'fedora'", "debian, ubuntu"]),
        ({"release": "11"}, ["release '11'", "12"]),
        ({"mode": "baked"}, ["mode 'baked'", "container, package"]),
        ({"datastore": "redis"}, ["datastore 'redis'", "mariadb, mysql, postgresql"]),
        ({"datastore_version": "9.9"}, ["version '9.9'", "5.7, 8.0, 8.4"]),
        ({"mode": "package"}, ["datastore 'mysql'", "package mode on debian 12", "mariadb, postgresql"]),
        ({"mode": "package", "datastore": "postgresql", "datastore_version": "16"}, ["version '16'", "15", "ships"]),
        ({"release": "20.04", "os": "ubuntu"}, ["release '20.04'", "22.04, 24.04"]),
        ({"os": "ubuntu", "release": "24.04", "mode": "package", "datastore_version": "8.4"}, ["version '8.4'", "8.0"]),
    ],
)
def test_unsupported_combinations_list_what_is_supported(over, words):
    with pytest.raises(GuestMatrixError) as err:
        composition.compose_guest_image(entry(**over))
    for word in words:
        assert word in str(err.value)


def test_missing_required_key_is_named():
    bad = entry()
    del bad["datastore_version"]
    with pytest.raises(GuestMatrixError, match="'datastore_version' is required"):
        composition.compose_guest_image(bad)


def test_unknown_key_is_refused_with_known_keys():
    with pytest.raises(GuestMatrixError, match="unknown keys container_image;.*container_images"):
        composition.compose_guest_image(entry(container_image=["/x.tar"]))


@pytest.mark.parametrize("name", ["a/b", "..", "-x", "a b"])
def test_bad_names_refused(name):
    with pytest.raises(GuestMatrixError, match="not usable as a file name"):
        composition.compose_guest_image(entry(name=name))


@pytest.mark.parametrize("size", ["big", 0, -1])
def test_bad_size_refused(size):
    with pytest.raises(GuestMatrixError, match="'size'"):
        composition.compose_guest_image(entry(size=size))


def test_elements_must_be_a_list():
    with pytest.raises(GuestMatrixError, match="'elements' must be a list"):
        composition.compose_guest_image(entry(elements="vm"))


def test_unknown_layer_key_refused():
    with pytest.raises(GuestMatrixError, match="unknown keys wheelhose"):
        composition.compose_guest_image(entry(), {"wheelhose": "/x"})


def test_wheelhouse_is_picked_per_os_release():
    layers = {"wheelhouses": {"debian-12": "/w/deb12", "ubuntu-22.04": "/w/jammy"}, "wheelhouse": "/w/any"}
    assert composition.compose_guest_image(entry(), layers)["inputs"]["DBAAS_GUEST_AGENT_WHEELHOUSE"] == "/w/deb12"
    ubuntu = entry(os="ubuntu", release="22.04")
    assert composition.compose_guest_image(ubuntu, layers)["inputs"]["DBAAS_GUEST_AGENT_WHEELHOUSE"] == "/w/jammy"


def test_missing_wheelhouse_for_release_is_named():
    with pytest.raises(GuestMatrixError, match="no guest agent wheelhouse for ubuntu-24.04.*debian-12"):
        composition.compose_guest_image(entry(os="ubuntu", release="24.04"), {"wheelhouses": {"debian-12": "/w"}})


def test_os_settings_and_ca_certs_reach_the_os_layer():
    got = composition.compose_guest_image(
        entry(), {"os_settings": {"timezone": "Europe/Berlin"}, "extra_ca_certs": "/etc/ssl/build-ca.pem"}
    )
    assert got["environment"]["DBAAS_GUEST_TIMEZONE"] == "Europe/Berlin"
    assert got["inputs"]["DBAAS_EXTRA_CA_CERTS"] == "/etc/ssl/build-ca.pem"


def test_bad_os_settings_name_the_entry():
    with pytest.raises(GuestMatrixError, match="entry 'x': unknown OS layer setting"):
        composition.compose_guest_image(entry(name="x"), {"os_settings": {"timezon": "UTC"}})


def test_every_supported_row_composes():
    rows = datastores.supported_table()
    assert len(rows) > 20
    for row in rows:
        got = composition.compose_guest_image(dict(row))
        assert got["elements"][-2].startswith("dbaas-datastore-")
        assert got["elements"][-1] == "dbaas-sbom"


def test_plain_entry_passes_through():
    got = composition.compose_guest_image(
        {"name": "plain", "elements": ["debian-minimal", "vm"], "inputs": {"X": "/x"}},
        {"environment": {"DIB_DISTRIBUTION_MIRROR": "m"}},
    )
    assert got["name"] == "plain"
    assert got["elements"] == ["debian-minimal", "vm", "dbaas-sbom"]
    assert got["environment"] == {"DIB_DISTRIBUTION_MIRROR": "m"}
    assert got["inputs"] == {"X": "/x"}
    assert got["size"] is None


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"elements": ["vm"]}, "needs 'name'"),
        ({"name": "x"}, "needs 'elements'"),
        ({"name": "x", "elements": ["vm"], "datastore": "mysql"}, "unknown keys datastore"),
    ],
)
def test_plain_entry_refusals(bad, message):
    with pytest.raises(GuestMatrixError, match=message):
        composition.compose_guest_image(bad)


def test_supported_table_lists_both_modes():
    rows = datastores.supported_table()
    assert {
        "os": "debian",
        "release": "12",
        "datastore": "mariadb",
        "datastore_version": "10.11",
        "mode": "package",
    } in rows
    assert {
        "os": "debian",
        "release": "12",
        "datastore": "mysql",
        "datastore_version": "8.0",
        "mode": "container",
    } in rows
    assert not [r for r in rows if r["mode"] == "package" and r["datastore"] == "mysql" and r["os"] == "debian"]


def test_trove_entries_carry_their_trove_facts():
    got = composition.compose_guest_image(entry(datastore_version=8.0))
    assert got["trove"] == {
        "os": "debian",
        "release": "12",
        "datastore": "mysql",
        "datastore_version": "8.0",
        "mode": "container",
    }
    plain = composition.compose_guest_image({"name": "plain", "elements": ["vm"]})
    assert "trove" not in plain


def test_arch_is_passed_on_when_set():
    assert composition.compose_guest_image({"name": "p", "elements": ["vm"], "arch": "arm64"})["arch"] == "arm64"
    assert composition.compose_guest_image(entry(arch="amd64"))["arch"] == "amd64"
    assert "arch" not in composition.compose_guest_image(entry())


@pytest.mark.parametrize("given, expected", [(False, False), (True, True), ("false", False), ("yes", True)])
def test_compress_is_passed_on_when_set(given, expected):
    assert composition.compose_guest_image({"name": "p", "elements": ["vm"], "compress": given})["compress"] is expected
    assert composition.compose_guest_image(entry(compress=given))["compress"] is expected
    assert "compress" not in composition.compose_guest_image(entry())


def test_compress_that_is_not_a_boolean_is_refused_naming_the_entry():
    (line,) = matrix_error([entry(), {"name": "p", "elements": ["vm"], "compress": "fast"}])
    assert line.startswith("build_guest_images[1] (p): compress: 'fast' is not true or false; ")
    with pytest.raises(GuestMatrixError, match="compress: 'fast' is not true or false"):
        composition.compose_guest_image(entry(compress="fast"))


def test_plain_entry_typos_and_zero_size_are_refused():
    with pytest.raises(GuestMatrixError, match="unknown keys enviroment"):
        composition.compose_guest_image({"name": "p", "elements": ["vm"], "enviroment": {"A": "1"}})
    with pytest.raises(GuestMatrixError, match="'size' must be at least 1"):
        composition.compose_guest_image({"name": "p", "elements": ["vm"], "size": 0})


def test_plain_entries_get_the_collections_element_folders():
    got = composition.compose_guest_image({"name": "p", "elements": ["vm"], "element_paths": ["/mine"]})
    assert got["element_paths"] == elements.collection_element_paths() + ["/mine"]


def test_injected_config_settings_reach_the_composed_environment():
    got = composition.compose_guest_image(entry(), {"os_settings": {"injected_config_owner": "trove"}})
    assert got["environment"]["DBAAS_GUEST_CONFIG_OWNER"] == "trove"
    assert got["environment"]["DBAAS_GUEST_CONFIG_GROUP"] == "root"


def test_element_folders_are_found_without_the_roles_passing_them():
    root = elements.collection_root()
    assert os.path.isfile(os.path.join(root, "galaxy.yml"))


# --- the matrix check (every entry, before any stage) -------------------------

def matrix_error(entries):
    with pytest.raises(GuestMatrixError) as err:
        composition.check_matrix(entries)
    return str(err.value).splitlines()


def test_matrix_check_accepts_good_entries_unchanged():
    plain = {"name": "base", "elements": ["debian-minimal"], "size": 3, "environment": {"A": "1"}}
    entries = [entry(), entry(name="pg", datastore="postgresql", datastore_version="15", mode="package", size="4"),
               plain]
    assert composition.check_matrix(entries) == entries
    assert composition.check_matrix([]) == []


@pytest.mark.parametrize("size", [2.5, "2.5", True, "4G", 0, -1])
def test_matrix_check_refuses_a_size_that_is_not_a_whole_positive_number(size):
    (line,) = matrix_error([entry(), entry(name="db", size=size)])
    assert line.startswith(f"build_guest_images[1] (db): size: {size!r} ")
    assert "; " in line


def test_compose_refuses_a_fractional_size_instead_of_truncating():
    with pytest.raises(GuestMatrixError, match="'size' must be a whole number of GiB, got 2.5"):
        composition.compose_guest_image(entry(size=2.5))


def test_matrix_check_names_a_typo_of_a_required_key_and_the_known_keys():
    bad = entry()
    bad["relase"] = bad.pop("release")
    lines = matrix_error([entry(), entry(), bad])
    assert lines[0] == (
        "build_guest_images[2]: relase: unknown key of a Trove entry; did you mean 'release'? known keys: "
        + ", ".join(composition.TROVE_KEYS)
    )
    assert lines[1].startswith("build_guest_images[2]: release: missing; a Trove entry (one with 'os') needs os,")
    assert not any("os_layer_releases" in line for line in lines)


def test_matrix_check_blames_an_unknown_os_on_the_entry():
    (line,) = matrix_error([entry(os="gentoo", name="g")])
    assert line == "build_guest_images[0] (g): os: os 'gentoo' is not supported; supported: debian, ubuntu"


def test_matrix_check_names_unsupported_combinations_with_what_is_supported():
    lines = matrix_error([entry(mode="package"), entry(datastore_version="9.9"), entry(mode="vm")])
    assert lines == [
        "build_guest_images[0] (trove-debian-12-mysql-8.0-package): datastore: datastore 'mysql' is not supported"
        " in package mode on debian 12; supported: mariadb, postgresql",
        "build_guest_images[1] (trove-debian-12-mysql-9.9-container): datastore_version: mysql version '9.9' is not"
        " supported in container mode on debian 12; supported: 5.7, 8.0, 8.4",
        "build_guest_images[2] (trove-debian-12-mysql-8.0-vm): mode: mode 'vm' is not supported; supported:"
        " container, package",
    ]


def test_matrix_check_plain_entries_like_trove_ones():
    lines = matrix_error([
        {"name": "p", "elements": ["vm"], "enviroment": {"A": "1"}},
        {"elements": "vm"},
        {"name": "../evil", "elements": ["vm"], "environment": ["A=1"]},
        "just a string",
    ])
    assert lines[0].startswith("build_guest_images[0] (p): enviroment: unknown key of a plain entry (no 'os');"
                               " did you mean 'environment'? known keys: name, elements,")
    assert lines[1].startswith("build_guest_images[1]: name: missing; a plain entry (no 'os') needs name and elements")
    assert lines[2] == "build_guest_images[1]: elements: 'vm' is not a list; write it as a YAML list, e.g. ['vm']"
    assert lines[3].startswith("build_guest_images[2] (../evil): name: '../evil' is not usable as an image file name")
    assert lines[4].startswith("build_guest_images[2] (../evil): environment: ['A=1'] is not a mapping;")
    assert lines[5].startswith("build_guest_images[3]: must be a mapping")
    assert len(lines) == 6
