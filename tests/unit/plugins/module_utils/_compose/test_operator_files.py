# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of licensed packages and container tarballs (_compose/operator_files.py), alone and composed."""

from __future__ import annotations

import gzip
import hashlib
import io
import shutil
import subprocess
import tarfile

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import composition, operator_files, releases
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.errors import GuestMatrixError

OS_ELEMENTS = releases.os_layer("debian", "12")["elements"]


def entry(**over):
    base = {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}
    base.update(over)
    return base


def _tar_gz(members):
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as zipped, tarfile.open(fileobj=zipped, mode="w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def _ar(members):
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(b"%-16s%-12d%-6d%-6d%-8s%-10d`\n" % (name.encode(), 0, 0, 0, b"100644", len(data)))
        out.append(data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


def deb_bytes(package="acme"):
    """A real (tiny) Debian package, the same bytes every time."""
    control = f"Package: {package}\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.org>\nDescription: t\n"
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.gz", _tar_gz({"./control": control.encode()})),
                ("data.tar.gz", _tar_gz({}))])


# Composition checks that a .deb is a Debian package: the default payload is one.
PAYLOAD = deb_bytes()


def write(path, data=PAYLOAD):
    path.write_bytes(data)
    return str(path)


def sha(data=PAYLOAD):
    return hashlib.sha256(data).hexdigest()


def test_licensed_deb_file_is_added_as_input_and_element(tmp_path):
    deb = write(tmp_path / "acme_1.0_all.deb")
    got = composition.compose_guest_image(
        entry(
            mode="package",
            datastore="mariadb",
            datastore_version="10.11",
            datastore_pkg_location=deb,
            datastore_pkg_sha256={"acme_1.0_all.deb": sha().upper()},
        )
    )
    assert got["elements"][-2:] == ["dbaas-licensed-packages", "dbaas-sbom"]
    assert got["inputs"]["DATASTORE_PKG_LOCATION"] == deb
    assert got["environment"]["DATASTORE_PKG_SHA256SUMS"] == f"{sha()}  acme_1.0_all.deb"


def test_layer_default_location_applies_unless_entry_sets_its_own(tmp_path):
    folder = tmp_path / "pkgs"
    folder.mkdir()
    write(folder / "a.deb")
    got = composition.compose_guest_image(entry(), {"pkg_location": str(folder)})
    assert got["inputs"]["DATASTORE_PKG_LOCATION"] == str(folder)
    got = composition.compose_guest_image(entry(datastore_pkg_location=""), {"pkg_location": str(folder)})
    assert "DATASTORE_PKG_LOCATION" not in got["inputs"]
    assert "dbaas-licensed-packages" not in got["elements"]


def test_folder_returns_every_package_sorted_with_hashes(tmp_path):
    write(tmp_path / "b.deb", b"bbb")
    write(tmp_path / "a.deb", b"aaa")
    write(tmp_path / "README.txt", b"not a package")
    got = operator_files.check_package_location(str(tmp_path))
    assert [r["name"] for r in got] == ["a.deb", "b.deb"]
    assert got[0]["sha256"] == sha(b"aaa")
    assert got[0]["size"] == 3


def test_missing_location_named(tmp_path):
    missing = str(tmp_path / "nope.deb")
    with pytest.raises(GuestMatrixError, match=f"{missing} does not exist"):
        operator_files.check_package_location(missing)


def test_empty_file_named(tmp_path):
    empty = write(tmp_path / "empty.deb", b"")
    with pytest.raises(GuestMatrixError, match=f"{empty} is empty"):
        operator_files.check_package_location(empty)


def test_unreadable_file_named_when_open_fails(tmp_path, monkeypatch):
    path = write(tmp_path / "locked.deb")
    real_open = open

    def failing_open(file, *args, **kwargs):
        if file == path:
            raise PermissionError(13, "Permission denied")
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", failing_open)
    with pytest.raises(GuestMatrixError, match=f"{path} cannot be read \\(Permission denied\\)"):
        operator_files.check_package_location(path)


def test_mismatching_pin_names_path_and_both_hashes(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(GuestMatrixError) as err:
        operator_files.check_package_location(path, {"acme.deb": "0" * 64})
    assert path in str(err.value)
    assert sha() in str(err.value)
    assert "0" * 64 in str(err.value)


def test_pin_by_full_path_is_checked(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(GuestMatrixError, match="sha256 of"):
        operator_files.check_package_location(path, {path: "1" * 64})
    assert operator_files.check_package_location(path, {path: sha()})[0]["sha256"] == sha()


def test_pin_for_absent_file_refused(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(GuestMatrixError, match="pins acme2.deb"):
        operator_files.check_package_location(path, {"acme2.deb": sha()})


def test_malformed_pin_refused(tmp_path):
    path = write(tmp_path / "acme.deb")
    with pytest.raises(GuestMatrixError, match="not a sha256"):
        operator_files.check_package_location(path, {"acme.deb": "abc"})


def test_pins_without_location_refused():
    with pytest.raises(GuestMatrixError, match="set both or neither"):
        operator_files.check_package_location("", {"a.deb": sha()})


def test_wrong_family_refused(tmp_path):
    rpm = write(tmp_path / "acme.rpm")
    with pytest.raises(GuestMatrixError, match="not a .deb package"):
        operator_files.check_package_location(rpm, family="dpkg")
    assert operator_files.check_package_location(rpm, family="rpm")[0]["name"] == "acme.rpm"


def test_folder_with_foreign_packages_refused(tmp_path):
    write(tmp_path / "a.deb")
    write(tmp_path / "b.rpm")
    with pytest.raises(GuestMatrixError, match="b.rpm, which cannot be installed on a dpkg-based image"):
        operator_files.check_package_location(str(tmp_path))


def test_family_any_accepts_both_kinds(tmp_path):
    write(tmp_path / "a.deb")
    write(tmp_path / "b.rpm")
    assert [r["name"] for r in operator_files.check_package_location(str(tmp_path), family="any")] == ["a.deb", "b.rpm"]


def test_folder_without_packages_refused(tmp_path):
    write(tmp_path / "notes.txt")
    with pytest.raises(GuestMatrixError, match="holds no .deb package"):
        operator_files.check_package_location(str(tmp_path))


def test_folder_with_empty_package_names_it(tmp_path):
    write(tmp_path / "a.deb")
    empty = write(tmp_path / "b.deb", b"")
    with pytest.raises(GuestMatrixError, match=f"{empty} is empty"):
        operator_files.check_package_location(str(tmp_path))


def test_compose_error_names_the_entry_and_option(tmp_path):
    missing = str(tmp_path / "gone.deb")
    with pytest.raises(GuestMatrixError) as err:
        composition.compose_guest_image(entry(name="img1", datastore_pkg_location=missing))
    assert "entry 'img1'" in str(err.value)
    assert "datastore_pkg_location" in str(err.value)
    assert missing in str(err.value)


def test_container_tarballs_become_inputs(tmp_path):
    one = write(tmp_path / "mysql-8.0.tar")
    folder = tmp_path / "more"
    folder.mkdir()
    write(folder / "proxy.tar.gz")
    got = composition.compose_guest_image(entry(container_images=[one, str(folder)]))
    assert got["inputs"]["DBAAS_CONTAINER_IMAGES"] == one
    assert got["inputs"]["DBAAS_CONTAINER_IMAGES_2"] == str(folder)


def test_layer_default_container_images_apply(tmp_path):
    one = write(tmp_path / "mysql-8.0.tar")
    got = composition.compose_guest_image(entry(), {"container_images": [one]})
    assert got["inputs"]["DBAAS_CONTAINER_IMAGES"] == one


def test_container_images_in_package_mode_refused(tmp_path):
    one = write(tmp_path / "mysql.tar")
    with pytest.raises(GuestMatrixError, match="only applies to mode: container"):
        composition.compose_guest_image(
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
    with pytest.raises(GuestMatrixError, match=message) as err:
        operator_files.check_container_images([str(path)])
    assert str(path) in str(err.value)


def test_container_folder_without_tarballs_refused(tmp_path):
    with pytest.raises(GuestMatrixError, match="holds no image tarball"):
        operator_files.check_container_images([str(tmp_path)])


def test_duplicate_tarball_names_refused(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one = write(tmp_path / "a" / "x.tar")
    two = write(tmp_path / "b" / "x.tar")
    with pytest.raises(GuestMatrixError, match="share the name x.tar"):
        operator_files.check_container_images([one, two])


def test_helper_package_is_a_real_debian_package(tmp_path):
    if not shutil.which("dpkg-deb"):
        pytest.skip("dpkg-deb is not installed")
    deb = write(tmp_path / "a.deb")
    info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True, check=False)
    assert info.returncode == 0, info.stderr
    assert "Package: acme" in info.stdout


def test_a_deb_that_is_not_a_debian_package_is_refused_when_composed(tmp_path):
    fake = write(tmp_path / "acme_1.0_all.deb", b"<html>404 Not Found</html>\n")
    with pytest.raises(GuestMatrixError) as err:
        composition.compose_guest_image(entry(name="x", datastore_pkg_location=fake))
    assert str(err.value).startswith(
        f"build_guest_images entry 'x': datastore_pkg_location: {fake} is not a Debian package: "
    )
    assert "replace it with the real .deb" in str(err.value)
    # The check of the layer default alone (every package kind, no content check) still takes it.
    assert operator_files.check_package_location(fake, family="any")[0]["name"] == "acme_1.0_all.deb"


def test_without_dpkg_deb_the_ar_magic_decides(tmp_path):
    assert operator_files.ar_deb_problem(write(tmp_path / "good.deb")) is None
    assert "not an ar archive starting with debian-binary" in operator_files.ar_deb_problem(
        write(tmp_path / "bad.deb", b"!<arch>\nother-member     ")
    )
    assert operator_files.ar_deb_problem(write(tmp_path / "html.deb", b"<html>")) is not None


def test_pin_messages_name_the_real_pin_keys(tmp_path):
    deb = write(tmp_path / "acme.deb")
    with pytest.raises(GuestMatrixError) as err:
        composition.compose_guest_image(
            entry(name="x", datastore_pkg_location=deb, datastore_pkg_sha256={"acme.deb": "0" * 64})
        )
    assert "but build_guest_images entry 'x': datastore_pkg_sha256 pins " + "0" * 64 in str(err.value)
    assert "location_sha256" not in str(err.value)
    with pytest.raises(GuestMatrixError, match="^datastore_layer_pkg_sha256 pins other.deb, which "):
        operator_files.check_package_location(deb, {"other.deb": sha()}, option="datastore_layer_pkg_location")
    with pytest.raises(GuestMatrixError, match="^datastore_layer_pkg_sha256 is set but datastore_layer_pkg_location"):
        operator_files.check_package_location("", {"a.deb": sha()}, option="datastore_layer_pkg_location")
