# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud_config lookup: a cloud of the controller's clouds.yaml, secure.yaml merged, as a dictionary."""

import os
import subprocess
import sys

import pytest
import yaml

import ansible_collections.dbaas.guest_images as collection
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._clouds_yaml import CloudsYamlError, cloud_entry


@pytest.fixture
def clouds(tmp_path, monkeypatch):
    public = {"clouds": {"prod": {"auth_type": "password", "region_name": "R1",
                                  "auth": {"auth_url": "https://keystone.example:5000/v3", "username": "svc",
                                           "project_name": "images", "user_domain_name": "Default",
                                           "project_domain_name": "Default"}},
                         "other": {"auth": {"auth_url": "https://x.example/v3"}}}}
    secure = {"clouds": {"prod": {"auth": {"password": "s3cret-pw"}}}}
    (tmp_path / "clouds.yaml").write_text(yaml.safe_dump(public))
    (tmp_path / "secure.yaml").write_text(yaml.safe_dump(secure))
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(tmp_path / "clouds.yaml"))
    monkeypatch.setenv("OS_CLIENT_SECURE_FILE", str(tmp_path / "secure.yaml"))
    # Environment variables describe a cloud of their own ("envvars"): never the one asked for by name.
    monkeypatch.setenv("OS_AUTH_URL", "https://from-env.example/v3")
    return tmp_path


def test_entry_has_the_secure_password_merged_in(clouds):
    entry = cloud_entry("prod")
    assert entry["auth"]["password"] == "s3cret-pw"
    assert entry["auth"]["username"] == "svc" and entry["region_name"] == "R1"
    assert entry["auth"]["auth_url"] == "https://keystone.example:5000/v3"


def test_unknown_name_says_which_clouds_there_are_and_no_secret(clouds):
    with pytest.raises(CloudsYamlError) as caught:
        cloud_entry("prd", where="build_guest_cloud")
    message = str(caught.value)
    assert message.startswith("build_guest_cloud: no cloud 'prd' in the controller's clouds.yaml")
    assert "clouds there: other, prod" in message
    assert "s3cret-pw" not in message


@pytest.mark.parametrize("bad", ["", "  ", None, 3])
def test_not_a_name_is_refused(clouds, bad):
    with pytest.raises(CloudsYamlError, match="expected the name of a cloud"):
        cloud_entry(bad)


def test_malformed_clouds_yaml_is_named(clouds):
    (clouds / "clouds.yaml").write_text("clouds: [not, a, mapping\n")
    with pytest.raises(CloudsYamlError, match="clouds.yaml cannot be read"):
        cloud_entry("prod")


def _ansible(clouds, expression):
    # The folder above ansible_collections/dbaas/guest_images: this checkout as the collection.
    root = os.path.abspath(os.path.join(list(collection.__path__)[0], "..", "..", ".."))
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=root, ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CONFIG", None)
    return subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "ansible"), "localhost", "-m", "ansible.builtin.debug",
         "-a", f"msg={{{{ {expression} }}}}"],
        env=env, cwd=str(clouds), capture_output=True, text=True, timeout=120, check=False,
    )


def test_lookup_returns_the_entry_and_names_where_on_error(clouds):
    found = _ansible(clouds, "lookup('dbaas.guest_images.cloud_config', 'prod').auth.keys() | sort | join(',')")
    assert found.returncode == 0, found.stdout + found.stderr
    assert "auth_url,password,project_domain_name,project_name,user_domain_name,username" in found.stdout
    missing = _ansible(clouds, "lookup('dbaas.guest_images.cloud_config', 'nope', where='build_guest_cloud')")
    assert missing.returncode != 0
    assert "build_guest_cloud: no cloud 'nope' in the controller's clouds.yaml" in missing.stdout + missing.stderr


PEM = "-----BEGIN CERTIFICATE-----\nMIIBca\n-----END CERTIFICATE-----\n"


def _with_tls(clouds, **files):
    data = yaml.safe_load((clouds / "clouds.yaml").read_text())
    data["clouds"]["prod"].update(files)
    (clouds / "clouds.yaml").write_text(yaml.safe_dump(data))


def test_tls_files_are_read_on_the_controller_and_inlined(clouds, monkeypatch):
    (clouds / "ca.pem").write_text(PEM)
    monkeypatch.setenv("HOME", str(clouds))
    _with_tls(clouds, cacert=str(clouds / "ca.pem"), cert="~/ca.pem")
    entry = cloud_entry("prod", inline_files=True)
    assert entry["cacert"] == PEM and entry["cert"] == PEM
    assert cloud_entry("prod")["cacert"] == str(clouds / "ca.pem")  # paths kept when not asked


def test_an_unreadable_tls_file_is_named_with_its_cloud(clouds):
    _with_tls(clouds, key=str(clouds / "gone.pem"))
    with pytest.raises(CloudsYamlError) as caught:
        cloud_entry("prod", where="build_guest_cloud", inline_files=True)
    message = str(caught.value)
    assert message.startswith("build_guest_cloud: cloud 'prod' of the controller's clouds.yaml gives key:")
    assert str(clouds / "gone.pem") in message and "No such file or directory" in message
    assert "s3cret-pw" not in message


def test_a_tls_file_that_is_not_pem_is_refused(clouds):
    (clouds / "ca.der").write_bytes(b"0\x82\x01\x0a")
    _with_tls(clouds, cacert=str(clouds / "ca.der"))
    with pytest.raises(CloudsYamlError, match="is not a PEM file"):
        cloud_entry("prod", inline_files=True)
    (clouds / "ca.der").write_text("plain text, no certificate")
    with pytest.raises(CloudsYamlError, match="is not a PEM file"):
        cloud_entry("prod", inline_files=True)
