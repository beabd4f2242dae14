# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bad input is refused with one message naming the option and the fix."""

import errno
import os
from collections import namedtuple

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import validate as v


@pytest.mark.parametrize("name", ["", "  ", "a/b", "..", "x..y", ".hidden", "with space"])
def test_bad_names(name):
    with pytest.raises(v.InvalidOption) as err:
        v.check_name(name)
    assert err.value.option == "name"
    assert str(err.value).startswith("name: ")


@pytest.mark.parametrize("name", ["debian-12", "ubuntu_24.04-mysql-8.0", "x"])
def test_good_names(name):
    v.check_name(name)


@pytest.mark.parametrize(
    "env, fragment",
    [
        ({"1ABC": "x"}, "key '1ABC' is not a shell variable name"),
        ({"DIB-RELEASE": "x"}, "key 'DIB-RELEASE'"),
        ({"A B": "x"}, "key 'A B'"),
        ({"DIB_X": "a\nb"}, "newline or NUL"),
        ({"DIB_X": "a\0b"}, "newline or NUL"),
    ],
)
def test_bad_environment(env, fragment):
    with pytest.raises(v.InvalidOption, match="environment: .*" + fragment.replace("(", "\\(")):
        v.check_environment(env)


def test_good_environment():
    v.check_environment({"DIB_RELEASE": "bookworm", "_X1": "", "DIB_CLOUD_INIT_DATASOURCES": "ConfigDrive, OpenStack"})


def test_inputs(tmp_path):
    good_file = tmp_path / "pkg.tar"
    good_file.write_bytes(b"x")
    good_dir = tmp_path / "wheels"
    (good_dir / "sub").mkdir(parents=True)
    (good_dir / "sub" / "a.whl").write_bytes(b"w")
    v.check_inputs({"PKG": str(good_file), "WHEELS": str(good_dir)}, {})

    empty_file = tmp_path / "empty"
    empty_file.write_bytes(b"")
    empty_dir = tmp_path / "emptydir"
    (empty_dir / "only-dirs").mkdir(parents=True)
    cases = [
        ({"PKG": str(tmp_path / "absent")}, "does not exist"),
        ({"PKG": str(empty_file)}, "is empty"),
        ({"PKG": str(empty_dir)}, "has no files"),
        ({"PKG": ""}, "empty path"),
        ({"bad-name": str(good_file)}, "not a shell variable name"),
    ]
    for inputs, fragment in cases:
        with pytest.raises(v.InvalidOption, match=fragment) as err:
            v.check_inputs(inputs, {})
        assert err.value.option == "inputs"
    with pytest.raises(v.InvalidOption, match="both inputs and environment"):
        v.check_inputs({"PKG": str(good_file)}, {"PKG": "/elsewhere"})


def test_check_mode_accepts_an_input_that_does_not_exist_yet(tmp_path):
    # An earlier task of the same run (the wheelhouse of the compose stage) creates it.
    good_file = tmp_path / "pkg.tar"
    good_file.write_bytes(b"x")
    absent = str(tmp_path / "wheelhouse" / "trove-26.0.0-cp311")
    inputs = {"PKG": str(good_file), "DBAAS_GUEST_AGENT_WHEELHOUSE": absent}
    assert v.check_inputs(inputs, {}, check_mode=True) == ["DBAAS_GUEST_AGENT_WHEELHOUSE"]
    assert v.check_inputs({"PKG": str(good_file)}, {}, check_mode=True) == []
    with pytest.raises(v.InvalidOption, match="does not exist on the build host"):
        v.check_inputs(inputs, {})
    # Every other refusal still holds in check mode.
    empty_file = tmp_path / "empty"
    empty_file.write_bytes(b"")
    with pytest.raises(v.InvalidOption, match="is empty"):
        v.check_inputs({"PKG": str(empty_file)}, {}, check_mode=True)


def test_unreadable_input(tmp_path, monkeypatch):
    # CI runs as root, who reads everything; the refusal is what a build user would see.
    path = tmp_path / "secret"
    path.write_bytes(b"x")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if p == str(path) else real_access(p, mode))
    with pytest.raises(v.InvalidOption, match="not readable"):
        v.check_inputs({"PKG": str(path)}, {})


def test_formats():
    v.check_formats(["qcow2", "raw", "tar"])
    with pytest.raises(v.InvalidOption, match="unknown format\\(s\\) qcow3; use any of: "):
        v.check_formats(["qcow2", "qcow3"])
    with pytest.raises(v.InvalidOption, match="at least one"):
        v.check_formats([])
    with pytest.raises(v.InvalidOption, match="twice"):
        v.check_formats(["qcow2", "qcow2"])


@pytest.mark.parametrize(
    "args, option",
    [((0, 10, 10, 1), "size"), ((-2, 10, 10, 1), "size"), ((None, 0, 10, 1), "timeout"),
     ((None, 10, -1, 1), "lock_timeout"), ((None, 10, 10, -1), "max_age")],
)
def test_numbers(args, option):
    with pytest.raises(v.InvalidOption) as err:
        v.check_numbers(*args)
    assert err.value.option == option


def test_numbers_ok():
    v.check_numbers(None, 1, 0, 0)
    v.check_numbers(4, 3600, 1800, 720)


def fake_dib(tmp_path):
    script = tmp_path / "bin" / "disk-image-create"
    script.parent.mkdir(parents=True, exist_ok=True)
    script.write_text("#!/bin/sh\necho 3.43.0\n")
    script.chmod(0o755)
    return script


def test_find_dib_command(tmp_path, monkeypatch):
    script = fake_dib(tmp_path)
    assert v.find_dib_command(str(script)) == str(script)
    assert v.find_dib_command(None, path_env=str(script.parent)) == str(script)
    assert v.find_dib_command("disk-image-create", path_env=str(script.parent)) == str(script)


def test_find_dib_command_missing_points_at_build_host_role(tmp_path, monkeypatch):
    monkeypatch.setattr(v, "DEFAULT_DIB_COMMAND", str(tmp_path / "nope" / "disk-image-create"))
    with pytest.raises(v.InvalidOption, match="dbaas.guest_images.build_host role") as err:
        v.find_dib_command(None, path_env=str(tmp_path))
    assert err.value.option == "dib_command"
    with pytest.raises(v.InvalidOption, match="not an executable file"):
        v.find_dib_command(str(tmp_path / "absent"))


def test_elements(tmp_path):
    dib = tmp_path / "dib"
    (dib / "debian-minimal").mkdir(parents=True)
    (dib / "vm").mkdir()
    mine = tmp_path / "mine"
    (mine / "trove-guest").mkdir(parents=True)
    v.check_elements(["debian-minimal", "vm", "trove-guest"], [str(mine), str(dib)])
    with pytest.raises(v.InvalidOption, match="element\\(s\\) trove-gest not found") as err:
        v.check_elements(["debian-minimal", "trove-gest"], [str(mine), str(dib)])
    assert err.value.option == "elements"
    assert "trove-guest" in str(err.value)  # the known list helps spot the typo
    with pytest.raises(v.InvalidOption, match="at least one"):
        v.check_elements([], [str(dib)])
    with pytest.raises(v.InvalidOption, match="not a valid element name"):
        v.check_elements(["-o"], [str(dib)])


def test_element_paths(tmp_path):
    v.check_element_paths([str(tmp_path)])
    with pytest.raises(v.InvalidOption, match="element_paths: .*absent.* is not a folder"):
        v.check_element_paths([str(tmp_path / "absent")])


def test_dest_created_and_checked(tmp_path):
    dest = tmp_path / "a" / "b"
    v.ensure_dest(str(dest))
    assert dest.is_dir()
    afile = tmp_path / "file"
    afile.write_text("")
    with pytest.raises(v.InvalidOption, match="exists and is not a folder"):
        v.ensure_dest(str(afile))
    with pytest.raises(v.InvalidOption, match="cannot create"):
        v.ensure_dest(str(afile / "sub"))


def test_free_space_message_says_free_and_needed(tmp_path, monkeypatch):
    StatVfs = namedtuple("StatVfs", "f_bavail f_frsize")
    monkeypatch.setattr(os, "statvfs", lambda _p: StatVfs(f_bavail=2 * 1024 ** 2, f_frsize=1024))  # 2 GiB
    with pytest.raises(v.InvalidOption) as err:
        v.check_free_space(str(tmp_path), 10, ["qcow2", "raw"])
    assert err.value.option == "size"
    assert "only 2.0 GiB free" in str(err.value) and "needs about 30.0 GiB" in str(err.value)
    monkeypatch.setattr(os, "statvfs", lambda _p: StatVfs(f_bavail=100 * 1024 ** 2, f_frsize=1024))
    v.check_free_space(str(tmp_path), 10, ["qcow2", "raw"])


def test_read_only_file_system_is_named_as_such(tmp_path, monkeypatch):
    # A read-only mount needs privileges the unit tests do not take: the kernel's answers are simulated.
    dest = tmp_path / "ro"
    dest.mkdir()
    StatVfs = namedtuple("StatVfs", "f_flag")
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(dest) else real_access(p, mode))
    monkeypatch.setattr(os, "statvfs", lambda _p: StatVfs(f_flag=os.ST_RDONLY))
    with pytest.raises(v.InvalidOption) as err:
        v.ensure_dest(str(dest))
    assert str(err.value) == (
        f"dest: '{dest}' is on a read-only file system; choose a folder on a writable file system"
        " (or remount it read-write)"
    )
    monkeypatch.setattr(os, "statvfs", lambda _p: StatVfs(f_flag=0))
    with pytest.raises(v.InvalidOption, match="is not writable by this user"):
        v.ensure_dest(str(dest))


def test_read_only_file_system_refuses_creating_dest(tmp_path, monkeypatch):
    def read_only(path, exist_ok=False):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), path)

    monkeypatch.setattr(os, "makedirs", read_only)
    with pytest.raises(v.InvalidOption, match=r"cannot create '.*/new': it is on a read-only file system"):
        v.ensure_dest(str(tmp_path / "new"))
