# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keyed debootstrap base cache: used only while its key holds, never half-made."""

import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import base_cache

DEBIAN = {"debian-minimal": "/e/debian-minimal", "debootstrap": "/e/debootstrap", "vm": "/e/vm"}
ENV = {"DIB_RELEASE": "bookworm", "DIB_DISTRIBUTION_MIRROR": "http://mirror.example/debian"}


def plan(cache_dir, environment=None, resolved=None, **overrides):
    args = {
        "environment": dict(ENV if environment is None else environment),
        "resolved_elements": DEBIAN if resolved is None else resolved,
        "arch": "amd64",
        "cache_dir": str(cache_dir),
        "dib_version": "3.43.0",
        "debootstrap_version": "debootstrap 1.0.128+nmu2+deb12u2",
        "debootstrap_element_sha256": "e" * 64,
    }
    args.update(overrides)
    return base_cache.plan(**args)


def make_tarball(base):
    """What DIB's debootstrap element leaves when asked to cache."""
    with open(base.tarball, "wb") as handle:
        handle.write(b"root filesystem")


def test_first_build_caches_and_keys_the_tarball(tmp_path):
    first = plan(tmp_path)
    assert first.state == "new"
    assert first.environment == {"DIB_DEBOOTSTRAP_CACHE": "1"}
    assert first.tarball == str(tmp_path / "debootstrap-debian-bookworm-amd64.tar.gz")
    make_tarball(first)
    base_cache.commit(first)
    assert (tmp_path / "debootstrap-debian-bookworm-amd64.tar.gz.key").read_text().strip() == first.key

    second = plan(tmp_path)
    assert second.state == "reused"
    assert second.environment == {"DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE": "1", "DIB_DEBOOTSTRAP_CACHE": "0"}
    assert os.path.isfile(second.tarball)


@pytest.mark.parametrize("change", [
    {"environment": dict(ENV, DIB_DISTRIBUTION_MIRROR="http://other.example/debian")},
    {"environment": dict(ENV, DIB_DEBIAN_COMPONENTS="main,contrib")},
    {"environment": dict(ENV, DIB_DEBOOTSTRAP_EXTRA_ARGS="--include=curl")},
    {"dib_version": "3.44.0"},
    {"debootstrap_version": "debootstrap 1.0.134"},
    {"debootstrap_element_sha256": "f" * 64},
])
def test_a_changed_input_deletes_the_stale_tarball_before_dib_runs(tmp_path, change):
    first = plan(tmp_path)
    make_tarball(first)
    base_cache.commit(first)
    stale = plan(tmp_path, **change)
    assert stale.state == "refreshed"
    assert "key differs" in stale.reason
    assert stale.environment == {"DIB_DEBOOTSTRAP_CACHE": "1"}
    assert not os.path.exists(first.tarball)
    assert not os.path.exists(first.tarball + ".key")


def test_a_keyring_counts_by_content(tmp_path):
    keyring = tmp_path / "keyring.gpg"
    keyring.write_bytes(b"one")
    env = dict(ENV, DIB_APT_KEYRING=str(keyring))
    first = plan(tmp_path / "cache", environment=env)
    os.makedirs(tmp_path / "cache")
    make_tarball(first)
    base_cache.commit(first)
    assert plan(tmp_path / "cache", environment=env).state == "reused"
    keyring.write_bytes(b"two")
    assert plan(tmp_path / "cache", environment=env).state == "refreshed"


def test_a_tarball_without_key_is_never_used(tmp_path):
    first = plan(tmp_path)
    make_tarball(first)  # e.g. a build killed while tar was writing: no key
    again = plan(tmp_path)
    assert again.state == "refreshed"
    assert "no key" in again.reason
    assert not os.path.exists(first.tarball)


def test_a_failed_build_drops_the_tarball_it_started(tmp_path):
    first = plan(tmp_path)
    make_tarball(first)
    base_cache.abandon(first)
    assert not os.path.exists(first.tarball)
    reused_plan = plan(tmp_path)
    make_tarball(reused_plan)
    base_cache.commit(reused_plan)
    reused = plan(tmp_path)
    base_cache.abandon(reused)  # a failure of a build that only read the cache keeps it
    assert os.path.isfile(reused.tarball)


@pytest.mark.parametrize("variable", ["DIB_DEBOOTSTRAP_CACHE", "DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE", "DIB_OFFLINE"])
def test_the_operator_s_own_cache_settings_win(tmp_path, variable):
    stray = tmp_path / "debootstrap-debian-bookworm-amd64.tar.gz"
    stray.write_bytes(b"operator's")
    got = plan(tmp_path, environment=dict(ENV, **{variable: "0"}))
    assert got.state == "operator"
    assert variable in got.reason
    assert got.environment == {}
    assert stray.read_bytes() == b"operator's"


def test_no_debootstrap_root_no_cache(tmp_path):
    got = plan(tmp_path, resolved={"centos": "/e/centos", "vm": "/e/vm"})
    assert got.state == "off"
    assert got.environment == {}


def test_without_a_release_the_cache_stays_off(tmp_path):
    got = plan(tmp_path, environment={"DIB_DISTRIBUTION_MIRROR": "http://mirror.example/debian"})
    assert got.state == "off"
    assert got.environment == {"DIB_DEBOOTSTRAP_CACHE": "0"}


def test_ubuntu_and_debian_keep_their_own_tarballs(tmp_path):
    debian = plan(tmp_path)
    ubuntu = plan(tmp_path, environment=dict(ENV, DIB_RELEASE="jammy"),
                  resolved={"ubuntu-minimal": "/e/u", "debootstrap": "/e/debootstrap"})
    assert os.path.basename(ubuntu.tarball) == "debootstrap-ubuntu-jammy-amd64.tar.gz"
    assert debian.tarball != ubuntu.tarball
