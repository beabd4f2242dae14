# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The disk-image-create argv and environment."""

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import argv as dib_argv


def test_argv_full():
    argv = dib_argv.build_argv(
        "/venv/bin/disk-image-create",
        out_base="/d/.img.tmp-x/out/img",
        formats=["qcow2", "tar"],
        elements=["debian-minimal", "vm"],
        logfile="/d/.img.tmp-x/dib.log",
        size=4,
        arch="arm64",
        packages=["vim", "curl"],
    )
    assert argv == [
        "/venv/bin/disk-image-create",
        "-o", "/d/.img.tmp-x/out/img",
        "-t", "qcow2,tar",
        "-a", "arm64",
        "--logfile", "/d/.img.tmp-x/dib.log",
        "--image-size", "4",
        "-p", "vim,curl",
        "--",
        "debian-minimal", "vm",
    ]


def test_argv_minimal_has_no_optional_flags():
    argv = dib_argv.build_argv("dic", out_base="o", formats=["qcow2"], elements=["e"], logfile="l")
    assert "--image-size" not in argv and "-p" not in argv
    assert argv[-2:] == ["--", "e"]


def test_uncompressed_qcow2_passes_u_and_compressed_does_not():
    assert "-u" not in dib_argv.build_argv("dic", out_base="o", formats=["qcow2"], elements=["e"], logfile="l")
    argv = dib_argv.build_argv("dic", out_base="o", formats=["qcow2", "raw"], elements=["e"], logfile="l",
                               compress=False)
    assert argv.index("-u") < argv.index("--")
    # Only qcow2 is ever compressed by DIB: nothing to pass for other formats.
    assert "-u" not in dib_argv.build_argv("dic", out_base="o", formats=["raw"], elements=["e"], logfile="l",
                                           compress=False)


def test_environment_is_explicit():
    host = {"PATH": "/usr/bin:/bin", "HOME": "/root", "SECRET_OF_CONTROLLER": "x", "ELEMENTS_PATH": "/stale"}
    env = dib_argv.build_environment(
        dib_command="/opt/dib/bin/disk-image-create",
        element_paths=["/e1", "/e2"],
        environment={"DIB_RELEASE": "bookworm", "TMP_DIR": "/user-tries"},
        inputs={"DATASTORE_PKG_LOCATION": "/stage/pkg"},
        tmp_dir="/d/.img.tmp-x/tmp",
        cache_dir="/cache",
        host_env=host,
    )
    assert env["ELEMENTS_PATH"] == "/e1:/e2"
    assert env["DIB_IMAGE_CACHE"] == "/cache"
    assert env["DATASTORE_PKG_LOCATION"] == "/stage/pkg"
    assert env["DIB_RELEASE"] == "bookworm"
    assert env["TMP_DIR"] == env["TMPDIR"] == "/d/.img.tmp-x/tmp"
    assert env["HOME"] == "/root"
    assert "SECRET_OF_CONTROLLER" not in env
    path = env["PATH"].split(":")
    assert path[0] == "/opt/dib/bin"
    assert "/usr/local/sbin" in path and "/usr/sbin" in path


def test_environment_without_element_paths_drops_stale_elements_path():
    env = dib_argv.build_environment(
        dib_command="/x/bin/disk-image-create", element_paths=[], environment={}, inputs={}, tmp_dir="/t",
        host_env={"ELEMENTS_PATH": "/stale", "PATH": "/bin"},
    )
    assert "ELEMENTS_PATH" not in env
    assert "DIB_IMAGE_CACHE" not in env


def test_output_path_suffixes():
    assert dib_argv.output_path("/d", "img", "qcow2") == "/d/img.qcow2"
    assert dib_argv.output_path("/d", "img", "squashfs") == "/d/img.squash"
