# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release table, the pinned agent and the OS-layer settings (_compose/releases.py)."""

import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases

ROLE = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..", "roles", "os_layer")


def test_debian_12_layer():
    layer = releases.os_layer("debian", "12")
    assert layer["elements"] == [
        "debian-minimal", "vm", "cloud-init", "cloud-init-datasources",
        "dbaas-guest-os", "dbaas-guest-agent",
    ]
    env = layer["environment"]
    assert env["DIB_RELEASE"] == "bookworm"
    assert env["DIB_CLOUD_INIT_DATASOURCES"] == "ConfigDrive, OpenStack"
    assert env["DIB_BOOTLOADER_SERIAL_CONSOLE"] == "ttyS0,115200"
    assert env["DBAAS_GUEST_AGENT_VERSION"] == "26.0.0"
    assert env["DBAAS_GUEST_TIMEZONE"] == "Etc/UTC"
    assert "DBAAS_GUEST_SSH_KEY" not in env
    assert layer["python"] == "3.11"
    assert layer["tested"] is True


@pytest.mark.parametrize("release, base, codename, python", [
    ("22.04", "ubuntu-minimal", "jammy", "3.10"),
    ("24.04", "ubuntu-minimal", "noble", "3.12"),
])
def test_ubuntu_layers(release, base, codename, python):
    layer = releases.os_layer("Ubuntu", release)
    assert layer["elements"][0] == base
    assert layer["environment"]["DIB_RELEASE"] == codename
    assert layer["python"] == python


def test_settings_reach_the_environment():
    key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk operator@example"
    env = releases.os_layer("debian", 12, {
        "agent_version": "25.0.1", "timezone": "Europe/Berlin", "locale": "en_US.UTF-8",
        "ssh_key": key + "\n",
    })["environment"]
    assert env["DBAAS_GUEST_AGENT_VERSION"] == "25.0.1"
    assert env["DBAAS_GUEST_TIMEZONE"] == "Europe/Berlin"
    assert env["DBAAS_GUEST_LOCALE"] == "en_US.UTF-8"
    assert env["DBAAS_GUEST_SSH_KEY"] == key


def test_empty_settings_mean_defaults():
    env = releases.os_layer("debian", "12", {"ssh_key": "", "timezone": None})["environment"]
    assert "DBAAS_GUEST_SSH_KEY" not in env
    assert env["DBAAS_GUEST_TIMEZONE"] == "Etc/UTC"


def test_unknown_release_lists_supported():
    with pytest.raises(releases.GuestOSError) as err:
        releases.os_layer("debian", "11")
    assert "debian 12" in str(err.value) and "ubuntu 24.04" in str(err.value)


@pytest.mark.parametrize("settings, word", [
    ({"colour": "blue"}, "colour"),
    ({"ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----"}, "ssh_key"),
    ({"ssh_key": "ssh-ed25519 AAAA a\nssh-ed25519 BBBB b"}, "ssh_key"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"locale": "en US"}, "locale"),
    ({"agent_version": "latest"}, "agent_version"),
])
def test_bad_settings_are_refused(settings, word):
    with pytest.raises(releases.GuestOSError, match=word):
        releases.os_layer("debian", "12", settings)


def test_wheelhouse_name():
    assert releases.wheelhouse_name("26.0.0", "3.11") == "trove-26.0.0-cp311"
    assert releases.python_tag("3.12") == "cp312"
    with pytest.raises(releases.GuestOSError):
        releases.python_tag("311")


def test_elements_exist_with_readme():
    elements = os.path.join(ROLE, "files", "elements")
    for name in ("dbaas-guest-os", "dbaas-guest-agent"):
        assert os.path.isfile(os.path.join(elements, name, "README.rst"))
    layer = releases.os_layer("debian", "12")
    with open(os.path.join(elements, "dbaas-guest-os", "README.rst")) as handle:
        readme = handle.read()
    for var in ("DBAAS_GUEST_TIMEZONE", "DBAAS_GUEST_LOCALE", "DBAAS_GUEST_SSH_KEY"):
        assert var in readme
    with open(os.path.join(elements, "dbaas-guest-agent", "README.rst")) as handle:
        readme = handle.read()
    for var in ("DBAAS_GUEST_AGENT_WHEELHOUSE", "DBAAS_GUEST_AGENT_VERSION", "DBAAS_EXTRA_CA_CERTS"):
        assert var in readme
    assert set(layer["elements"]) >= {"dbaas-guest-os", "dbaas-guest-agent"}


def test_guest_release_gives_the_build_host_facts():
    row = releases.guest_release("debian", 12)
    assert row == {
        "os": "debian", "release": "12", "key": "debian-12", "python": "3.11", "glibc": "2.36", "tag": "cp311",
        "codename": "bookworm", "agent_version": releases.AGENT_VERSION,
        "wheelhouse": f"trove-{releases.AGENT_VERSION}-cp311",
    }
    assert releases.guest_release("ubuntu", "24.04", "25.0.1")["wheelhouse"] == "trove-25.0.1-cp312"


def test_guest_release_refusals_name_where_the_user_wrote_it():
    with pytest.raises(releases.GuestOSError) as err:
        releases.guest_release("debian", "11", where="os_layer_releases[1]")
    assert str(err.value) == (
        "os_layer_releases[1]: os=debian release=11 is not supported; supported: debian-12, ubuntu-22.04, ubuntu-24.04"
    )
    with pytest.raises(releases.GuestOSError, match="^x: 'release' missing"):
        releases.guest_release("debian", "", where="x")
    with pytest.raises(releases.GuestOSError, match="agent_version"):
        releases.guest_release("debian", "12", "latest")


def test_injected_config_owner_and_group_default_to_trove_and_reach_the_environment():
    env = releases.os_layer("debian", "12")["environment"]
    assert env["DBAAS_GUEST_CONFIG_OWNER"] == "ubuntu"
    assert env["DBAAS_GUEST_CONFIG_GROUP"] == "root"
    env = releases.os_layer("debian", "12", {"injected_config_owner": "trove", "injected_config_group": "trove"})[
        "environment"
    ]
    assert (env["DBAAS_GUEST_CONFIG_OWNER"], env["DBAAS_GUEST_CONFIG_GROUP"]) == ("trove", "trove")


@pytest.mark.parametrize("name", ["", None])
def test_empty_injected_config_settings_mean_trove_defaults(name):
    settings = releases.resolve_settings({"injected_config_owner": name, "injected_config_group": name})
    assert settings["injected_config_owner"] == "ubuntu" and settings["injected_config_group"] == "root"
    assert settings["agent_version"] == releases.AGENT_VERSION
    assert sorted(settings) == sorted(releases.SETTINGS)


@pytest.mark.parametrize("value", ["-x", "1abc", "a b", "root:root", "a" * 33, "ü"])
def test_bad_injected_config_names_refused_with_prefix(value):
    with pytest.raises(releases.GuestOSError, match="^os_layer_injected_config_owner must be a POSIX user name"):
        releases.resolve_settings({"injected_config_owner": value}, "os_layer_")
    with pytest.raises(releases.GuestOSError, match="injected_config_group must be a POSIX group name"):
        releases.os_layer("debian", "12", {"injected_config_group": value})


def test_the_agent_version_is_written_once():
    """`grep 26.0.0 plugins roles playbooks` finds the pin in releases.py only."""
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "..")
    hits = []
    for top in ("plugins", "roles", "playbooks"):
        for folder, dirs, files in os.walk(os.path.join(root, top)):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in files:
                path = os.path.join(folder, name)
                with open(path, "rb") as handle:
                    if releases.AGENT_VERSION.encode() in handle.read():
                        hits.append(os.path.relpath(path, root))
    assert hits == [os.path.join("plugins", "module_utils", "_compose", "releases.py")]
