# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests for the image matrix composition and operator-file checks."""

from __future__ import annotations

import hashlib
import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils import guest_matrix as gm
from ansible_collections.dbaas.guest_images.plugins.module_utils import guest_os

OS_ELEMENTS = guest_os.os_layer("debian", "12")["elements"]


def entry(**over):
    base = {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}
    base.update(over)
    return base


def write(path, data=b"payload"):
    path.write_bytes(data)
    return str(path)


def sha(data=b"payload"):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------- composition


def test_container_entry_composes_os_then_datastore_layer():
    got = gm.compose_guest_image(entry(), {"wheelhouse": "/srv/wheels"})
    assert got["name"] == "trove-debian-12-mysql-8.0-container"
    assert got["elements"] == OS_ELEMENTS + ["dbaas-datastore-container"]
    assert got["elements"][0] == "debian-minimal"
    assert got["environment"]["DIB_RELEASE"] == "bookworm"
    assert got["environment"]["DBAAS_CONTAINER_ENGINE"] == "docker"
    assert got["environment"]["DBAAS_CONTAINER_ENGINE_PACKAGES"] == "docker.io"
    assert got["environment"]["DBAAS_DATASTORE"] == "mysql"
    assert got["environment"]["DBAAS_DATASTORE_VERSION"] == "8.0"
    assert got["inputs"] == {"DBAAS_GUEST_AGENT_WHEELHOUSE": "/srv/wheels"}
    assert got["formats"] == ["qcow2"]
    assert got["size"] == gm.DEFAULT_TROVE_SIZE
    assert got["packages"] == []


def test_package_entry_takes_server_package_service_and_data_dir_from_table():
    got = gm.compose_guest_image(entry(datastore="mariadb", datastore_version="10.11", mode="package"))
    assert got["elements"][-1] == "dbaas-datastore-package"
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
    assert gm.collection_element_paths(str(tmp_path)) == [
        str(tmp_path / "roles" / "datastore_layer" / "files" / "elements"),
        str(tmp_path / "roles" / "os_layer" / "files" / "elements"),
    ]


def test_element_paths_found_from_this_checkout():
    got = gm.compose_guest_image(entry())
    ours = os.path.join(gm.collection_root(), "roles", "datastore_layer", "files", "elements")
    assert ours in got["element_paths"]
    assert all(os.path.isabs(p) for p in got["element_paths"])


def test_entry_extras_append_and_environment_wins_over_layers():
    got = gm.compose_guest_image(
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
    assert got["elements"][-1] == "my-element"
    assert got["element_paths"][-1] == "/opt/elements"
    assert got["environment"]["DIB_RELEASE"] == "trixie"
    assert got["environment"]["EXTRA"] == "1"
    assert got["environment"]["DIB_DISTRIBUTION_MIRROR"] == "http://mirror.invalid/debian"
    assert got["packages"] == ["vim"]
    assert got["formats"] == ["qcow2", "raw"]
    assert got["size"] == 6


def test_os_layer_environment_wins_over_layer_environment():
    got = gm.compose_guest_image(entry(), {"environment": {"DIB_RELEASE": "sid"}})
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
    with pytest.raises(gm.GuestMatrixError) as err:
        gm.compose_guest_image(entry(**over))
    for word in words:
        assert word in str(err.value)


def test_missing_required_key_is_named():
    bad = entry()
    del bad["datastore_version"]
    with pytest.raises(gm.GuestMatrixError, match="'datastore_version' is required"):
        gm.compose_guest_image(bad)


def test_unknown_key_is_refused_with_known_keys():
    with pytest.raises(gm.GuestMatrixError, match="unknown keys container_image;.*container_images"):
        gm.compose_guest_image(entry(container_image=["/x.tar"]))


@pytest.mark.parametrize("name", ["a/b", "..", "-x", "a b"])
def test_bad_names_refused(name):
    with pytest.raises(gm.GuestMatrixError, match="not usable as a file name"):
        gm.compose_guest_image(entry(name=name))


@pytest.mark.parametrize("size", ["big", 0, -1])
def test_bad_size_refused(size):
    with pytest.raises(gm.GuestMatrixError, match="'size'"):
        gm.compose_guest_image(entry(size=size))


def test_elements_must_be_a_list():
    with pytest.raises(gm.GuestMatrixError, match="'elements' must be a list"):
        gm.compose_guest_image(entry(elements="vm"))


def test_unknown_layer_key_refused():
    with pytest.raises(gm.GuestMatrixError, match="unknown keys wheelhose"):
        gm.compose_guest_image(entry(), {"wheelhose": "/x"})


def test_missing_os_table_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(gm, "guest_os", None)
    with pytest.raises(gm.GuestMatrixError, match="guest_os.py"):
        gm.compose_guest_image(entry())


def test_wheelhouse_is_picked_per_os_release():
    layers = {"wheelhouses": {"debian-12": "/w/deb12", "ubuntu-22.04": "/w/jammy"}, "wheelhouse": "/w/any"}
    assert gm.compose_guest_image(entry(), layers)["inputs"]["DBAAS_GUEST_AGENT_WHEELHOUSE"] == "/w/deb12"
    ubuntu = entry(os="ubuntu", release="22.04")
    assert gm.compose_guest_image(ubuntu, layers)["inputs"]["DBAAS_GUEST_AGENT_WHEELHOUSE"] == "/w/jammy"


def test_missing_wheelhouse_for_release_is_named():
    with pytest.raises(gm.GuestMatrixError, match="no guest agent wheelhouse for ubuntu-24.04.*debian-12"):
        gm.compose_guest_image(entry(os="ubuntu", release="24.04"), {"wheelhouses": {"debian-12": "/w"}})


def test_os_settings_and_ca_certs_reach_the_os_layer():
    got = gm.compose_guest_image(
        entry(), {"os_settings": {"timezone": "Europe/Berlin"}, "extra_ca_certs": "/etc/ssl/build-ca.pem"}
    )
    assert got["environment"]["DBAAS_GUEST_TIMEZONE"] == "Europe/Berlin"
    assert got["inputs"]["DBAAS_EXTRA_CA_CERTS"] == "/etc/ssl/build-ca.pem"


def test_bad_os_settings_name_the_entry():
    with pytest.raises(gm.GuestMatrixError, match="entry 'x': unknown OS layer setting"):
        gm.compose_guest_image(entry(name="x"), {"os_settings": {"timezon": "UTC"}})


def test_every_supported_row_composes():
    rows = gm.supported_table()
    assert len(rows) > 20
    for row in rows:
        got = gm.compose_guest_image(dict(row))
        assert got["elements"][-1].startswith("dbaas-datastore-")


def test_plain_entry_passes_through():
    got = gm.compose_guest_image(
        {"name": "plain", "elements": ["debian-minimal", "vm"], "inputs": {"X": "/x"}},
        {"environment": {"DIB_DISTRIBUTION_MIRROR": "m"}},
    )
    assert got["name"] == "plain"
    assert got["elements"] == ["debian-minimal", "vm"]
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
    with pytest.raises(gm.GuestMatrixError, match=message):
        gm.compose_guest_image(bad)


def test_supported_table_lists_both_modes():
    rows = gm.supported_table()
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


# ---------------------------------------------------------------- licensed packages


def test_licensed_deb_file_is_added_as_input_and_element(tmp_path):
    deb = write(tmp_path / "acme_1.0_all.deb")
    got = gm.compose_guest_image(
        entry(
            mode="package",
            datastore="mariadb",
            datastore_version="10.11",
            datastore_pkg_location=deb,
            datastore_pkg_sha256={"acme_1.0_all.deb": sha().upper()},
        )
    )
    assert got["elements"][-1] == "dbaas-licensed-packages"
    assert got["inputs"]["DATASTORE_PKG_LOCATION"] == deb
    assert got["environment"]["DATASTORE_PKG_SHA256SUMS"] == f"{sha()}  acme_1.0_all.deb"


def test_layer_default_location_applies_unless_entry_sets_its_own(tmp_path):
    folder = tmp_path / "pkgs"
    folder.mkdir()
    write(folder / "a.deb")
    got = gm.compose_guest_image(entry(), {"pkg_location": str(folder)})
    assert got["inputs"]["DATASTORE_PKG_LOCATION"] == str(folder)
    got = gm.compose_guest_image(entry(datastore_pkg_location=""), {"pkg_location": str(folder)})
    assert "DATASTORE_PKG_LOCATION" not in got["inputs"]
    assert "dbaas-licensed-packages" not in got["elements"]


def test_folder_returns_every_package_sorted_with_hashes(tmp_path):
    write(tmp_path / "b.deb", b"bbb")
    write(tmp_path / "a.deb", b"aaa")
    write(tmp_path / "README.txt", b"not a package")
    got = gm.check_package_location(str(tmp_path))
    assert [r["name"] for r in got] == ["a.deb", "b.deb"]
    assert got[0]["sha256"] == sha(b"aaa")
    assert got[0]["size"] == 3


def test_missing_location_named(tmp_path):
    missing = str(tmp_path / "nope.deb")
    with pytest.raises(gm.GuestMatrixError, match=f"{missing} does not exist"):
        gm.check_package_location(missing)


def test_empty_file_named(tmp_path):
    empty = write(tmp_path / "empty.deb", b"")
    with pytest.raises(gm.GuestMatrixError, match=f"{empty} is empty"):
        gm.check_package_location(empty)


def test_unreadable_file_named_when_open_fails(tmp_path, monkeypatch):
    path = write(tmp_path / "locked.deb")
    real_open = open

    def failing_open(file, *args, **kwargs):
        if file == path:
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(gm.GuestMatrixError, match=f"{path} cannot be read \\(Permission denied\\)"):
        gm.check_package_location(path)


def test_mismatching_pin_names_path_and_both_hashes(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(gm.GuestMatrixError) as err:
        gm.check_package_location(path, {"acme.deb": "0" * 64})
    assert path in str(err.value)
    assert sha() in str(err.value)
    assert "0" * 64 in str(err.value)


def test_pin_by_full_path_is_checked(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(gm.GuestMatrixError, match="sha256 of"):
        gm.check_package_location(path, {path: "1" * 64})
    assert gm.check_package_location(path, {path: sha()})[0]["sha256"] == sha()


def test_pin_for_absent_file_refused(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(gm.GuestMatrixError, match="pins acme2.deb"):
        gm.check_package_location(path, {"acme2.deb": sha()})


def test_malformed_pin_refused(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(gm.GuestMatrixError, match="not a sha256"):
        gm.check_package_location(path, {"acme.deb": "abc"})


def test_pins_without_location_refused():
    with pytest.raises(gm.GuestMatrixError, match="set both or neither"):
        gm.check_package_location("", {"a.deb": sha()})


def test_wrong_family_refused(tmp_path):
    rpm = write(tmp_path / "acme.rpm")
    with pytest.raises(gm.GuestMatrixError, match="not a .deb package"):
        gm.check_package_location(rpm, family="dpkg")
    assert gm.check_package_location(rpm, family="rpm")[0]["name"] == "acme.rpm"


def test_folder_with_foreign_packages_refused(tmp_path):
    write(tmp_path / "a.deb")
    write(tmp_path / "b.rpm")
    with pytest.raises(gm.GuestMatrixError, match="b.rpm, which cannot be installed on a dpkg-based image"):
        gm.check_package_location(str(tmp_path))


def test_family_any_accepts_both_kinds(tmp_path):
    write(tmp_path / "a.deb")
    write(tmp_path / "b.rpm")
    assert [r["name"] for r in gm.check_package_location(str(tmp_path), family="any")] == ["a.deb", "b.rpm"]


def test_folder_without_packages_refused(tmp_path):
    write(tmp_path / "notes.txt")
    with pytest.raises(gm.GuestMatrixError, match="holds no .deb package"):
        gm.check_package_location(str(tmp_path))


def test_folder_with_empty_package_names_it(tmp_path):
    write(tmp_path / "a.deb")
    empty = write(tmp_path / "b.deb", b"")
    with pytest.raises(gm.GuestMatrixError, match=f"{empty} is empty"):
        gm.check_package_location(str(tmp_path))


def test_compose_error_names_the_entry_and_option(tmp_path):
    missing = str(tmp_path / "gone.deb")
    with pytest.raises(gm.GuestMatrixError) as err:
        gm.compose_guest_image(entry(name="img1", datastore_pkg_location=missing))
    assert "entry 'img1'" in str(err.value)
    assert "datastore_pkg_location" in str(err.value)
    assert missing in str(err.value)


# ---------------------------------------------------------------- container images


def test_container_tarballs_become_inputs(tmp_path):
    one = write(tmp_path / "mysql-8.0.tar")
    folder = tmp_path / "more"
    folder.mkdir()
    write(folder / "proxy.tar.gz")
    got = gm.compose_guest_image(entry(container_images=[one, str(folder)]))
    assert got["inputs"]["DBAAS_CONTAINER_IMAGES"] == one
    assert got["inputs"]["DBAAS_CONTAINER_IMAGES_2"] == str(folder)


def test_layer_default_container_images_apply(tmp_path):
    one = write(tmp_path / "mysql-8.0.tar")
    got = gm.compose_guest_image(entry(), {"container_images": [one]})
    assert got["inputs"]["DBAAS_CONTAINER_IMAGES"] == one


def test_container_images_in_package_mode_refused(tmp_path):
    one = write(tmp_path / "mysql.tar")
    with pytest.raises(gm.GuestMatrixError, match="only applies to mode: container"):
        gm.compose_guest_image(
            entry(mode="package", datastore="mariadb", datastore_version="10.11", container_images=[one])
        )


@pytest.mark.parametrize(
    "name, data, message",
    [("gone.tar", None, "does not exist"), ("empty.tar", b"", "is empty"), ("image.zip", b"x", "not an image tarball")],
)
def test_bad_container_tarballs_named(tmp_path, name, data, message):
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    with pytest.raises(gm.GuestMatrixError, match=message) as err:
        gm.check_container_images([str(path)])
    assert str(path) in str(err.value)


def test_container_folder_without_tarballs_refused(tmp_path):
    with pytest.raises(gm.GuestMatrixError, match="holds no image tarball"):
        gm.check_container_images([str(tmp_path)])


def test_duplicate_tarball_names_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write(tmp_path / "a" / "x.tar")
    two = write(tmp_path / "b" / "x.tar")
    with pytest.raises(gm.GuestMatrixError, match="share the name x.tar"):
        gm.check_container_images([one, two])


# ---------------------------------------------------------------- selection

MATRIX = [
    entry(),
    entry(datastore="mariadb", datastore_version="10.11", mode="package"),
    {"name": "plain", "elements": ["vm"]},
]


def test_select_all_without_expression():
    assert gm.select_guest_images(MATRIX, "") == MATRIX
    assert gm.select_guest_images(MATRIX, None) == MATRIX


def test_select_by_expression():
    assert gm.select_guest_images(MATRIX, "[?mode=='package']") == [MATRIX[1]]
    assert gm.select_guest_images(MATRIX, "[?os]") == MATRIX[:2]


def test_select_bad_expression_is_clear():
    with pytest.raises(gm.GuestMatrixError, match="build_guest_select: '\\[\\?mode==' is not a valid JMESPath"):
        gm.select_guest_images(MATRIX, "[?mode==")


def test_select_must_yield_entries():
    with pytest.raises(gm.GuestMatrixError, match="must select matrix entries"):
        gm.select_guest_images(MATRIX, "[].mode")


def test_select_no_match_is_empty():
    assert gm.select_guest_images(MATRIX, "[?datastore=='redis']") == []
    assert gm.select_guest_images(MATRIX, "nothing") == []


def test_matrix_must_be_a_list():
    with pytest.raises(gm.GuestMatrixError, match="must be a list"):
        gm.select_guest_images({"a": 1}, "[?os]")
