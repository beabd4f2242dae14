# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Mirror discovery from apt sources (deb822 and one-line formats)."""

import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import apt_sources

DEBIAN_DEB822 = """\
Types: deb deb-src
# a comment inside the paragraph
URIs: http://mirror.example.net/debian/
Suites: bookworm bookworm-updates
Components: main contrib
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example.net/debian-security
Suites: bookworm-security
Components: main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 mQINBF...
 -----END PGP PUBLIC KEY BLOCK-----
"""

VENDOR_DEB822 = """\
Types: deb
URIs: https://deb.vendor.example/node_20.x
Suites: nodistro
Components: main
"""

DISABLED_DEB822 = """\
Types: deb
URIs: http://disabled.example/debian
Suites: bookworm
Components: main
Enabled: no
"""

DEBIAN_ONE_LINE = """\
# deb http://commented.example/debian bookworm main
deb [arch=amd64 signed-by=/usr/share/keyrings/a.gpg] http://one.example/debian bookworm main non-free-firmware
deb-src http://src.example/debian bookworm main
deb http://one.example/debian-security bookworm-security main
deb https://packages.vendor.example/apt cloud-sdk-bookworm main
deb http://one.example/debian bookworm-backports contrib
"""

UBUNTU_ONE_LINE = """\
deb http://archive.example.com/ubuntu/ jammy main restricted
deb http://archive.example.com/ubuntu/ jammy-updates main restricted
deb http://security.example.com/ubuntu jammy-security main restricted
deb https://ppa.example/some/ppa/ubuntu jammy-stuff main
"""


def test_deb822_paragraphs_fields_and_continuations():
    entries = apt_sources.parse_deb822(DEBIAN_DEB822)
    assert len(entries) == 2
    assert entries[0]["types"] == ["deb", "deb-src"]
    assert entries[0]["suites"] == ["bookworm", "bookworm-updates"]
    assert entries[0]["components"] == ["main", "contrib"]
    assert entries[1]["uris"] == ["http://mirror.example.net/debian-security"]


def test_one_line_options_comments_and_deb_src():
    entries = apt_sources.parse_one_line(DEBIAN_ONE_LINE)
    assert [e["uris"][0] for e in entries] == [
        "http://one.example/debian",
        "http://src.example/debian",
        "http://one.example/debian-security",
        "https://packages.vendor.example/apt",
        "http://one.example/debian",
    ]
    assert entries[0]["components"] == ["main", "non-free-firmware"]
    assert entries[1]["types"] == ["deb-src"]


def test_debian_mirrors_from_deb822_ignore_vendor_and_disabled():
    entries = (
        apt_sources.parse_deb822(DISABLED_DEB822)
        + apt_sources.parse_deb822(VENDOR_DEB822)
        + apt_sources.parse_deb822(DEBIAN_DEB822)
    )
    mirrors = apt_sources.find_mirrors(entries, "bookworm", "debian")
    assert mirrors == {
        "debian": {
            "mirror": "http://mirror.example.net/debian",
            "security_mirror": "http://mirror.example.net/debian-security",
        }
    }


def test_debian_mirrors_from_one_line_ignore_deb_src_and_vendor():
    mirrors = apt_sources.find_mirrors(apt_sources.parse_one_line(DEBIAN_ONE_LINE), "bookworm", "debian")
    assert mirrors == {
        "debian": {
            "mirror": "http://one.example/debian",
            "security_mirror": "http://one.example/debian-security",
        }
    }


def test_ubuntu_mirror_is_the_release_archive_not_security_or_ppa():
    mirrors = apt_sources.find_mirrors(apt_sources.parse_one_line(UBUNTU_ONE_LINE), "jammy", "ubuntu")
    assert mirrors == {"ubuntu": {"mirror": "http://archive.example.com/ubuntu"}}
    assert apt_sources.dib_environment(mirrors, "ubuntu") == {
        "DIB_DISTRIBUTION_MIRROR": "http://archive.example.com/ubuntu"
    }


def test_unknown_codename_only_accepted_for_the_host_itself():
    text = "deb http://m.example/debian futurename main\n"
    entries = apt_sources.parse_one_line(text)
    assert apt_sources.find_mirrors(entries, "", "") == {}
    assert apt_sources.find_mirrors(entries, "futurename", "debian") == {
        "debian": {"mirror": "http://m.example/debian"}
    }


@pytest.mark.parametrize(
    "suite, expected",
    [
        ("bookworm", ("debian", "bookworm", "")),
        ("bookworm-security", ("debian", "bookworm", "security")),
        ("buster/updates", ("debian", "buster", "security")),
        ("noble-backports", ("ubuntu", "noble", "backports")),
        ("nodistro", None),
        ("cloud-sdk-bookworm", None),
        ("bookworm-pgdg", None),
        ("stable", ("debian", "stable", "")),
    ],
)
def test_classify_suite(suite, expected):
    assert apt_sources.classify_suite(suite) == expected


def test_only_updates_pocket_still_gives_a_mirror():
    entries = apt_sources.parse_one_line("deb http://m.example/debian bookworm-updates main\n")
    assert apt_sources.find_mirrors(entries) == {"debian": {"mirror": "http://m.example/debian"}}


def test_dib_environment_debian_host():
    mirrors = {"debian": {"mirror": "http://m/debian", "security_mirror": "http://m/debian-security"}}
    assert apt_sources.dib_environment(mirrors, "debian") == {
        "DIB_DISTRIBUTION_MIRROR": "http://m/debian",
        "DIB_DEBIAN_DISTRIBUTION_MIRROR": "http://m/debian",
        "DIB_DEBIAN_SECURITY_MIRROR": "http://m/debian-security",
    }


def test_environment_for_an_image_of_another_distribution_drops_generic_mirror():
    mirrors = {"debian": {"mirror": "http://m/debian", "security_mirror": "http://m/debian-security"}}
    host_env = apt_sources.dib_environment(mirrors, "debian")
    by_dist = apt_sources.dib_environment_by_distribution(mirrors)
    ubuntu = apt_sources.environment_for_elements(host_env, by_dist, "debian", ["ubuntu-minimal", "vm"])
    assert "DIB_DISTRIBUTION_MIRROR" not in ubuntu
    assert ubuntu["DIB_DEBIAN_DISTRIBUTION_MIRROR"] == "http://m/debian"
    debian = apt_sources.environment_for_elements(host_env, by_dist, "debian", ["debian-minimal", "vm"])
    assert debian == host_env
    plain = apt_sources.environment_for_elements(host_env, by_dist, "debian", ["vm"])
    assert plain == host_env


def test_read_sources_reads_list_and_sources_files(tmp_path):
    listd = tmp_path / "etc" / "apt" / "sources.list.d"
    listd.mkdir(parents=True)
    (tmp_path / "etc" / "apt" / "sources.list").write_text("# empty\n")
    (listd / "debian.sources").write_text(DEBIAN_DEB822)
    (listd / "vendor.list").write_text("deb https://packages.vendor.example/apt cloud-sdk-bookworm main\n")
    (listd / "ignored.list.disabled").write_text("deb http://x.example/debian bookworm main\n")
    entries = apt_sources.read_sources(str(tmp_path))
    origins = sorted({os.path.basename(e["origin"]) for e in entries})
    assert origins == ["debian.sources", "vendor.list"]
    assert apt_sources.find_mirrors(entries)["debian"]["mirror"] == "http://mirror.example.net/debian"


def test_explicit_mirrors_override_found_ones():
    found = {"debian": {"mirror": "http://found/debian", "security_mirror": "http://found/debian-security"}}
    result = apt_sources.override_mirrors(found, debian_mirror="http://given/debian/", ubuntu_mirror="http://u/ubuntu")
    assert result == {
        "debian": {"mirror": "http://given/debian", "security_mirror": "http://found/debian-security"},
        "ubuntu": {"mirror": "http://u/ubuntu"},
    }
    assert found["debian"]["mirror"] == "http://found/debian"
