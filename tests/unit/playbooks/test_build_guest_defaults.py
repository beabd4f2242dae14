# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The playbook's default matrix is a supported Trove guest and composes to a real build."""

import pathlib

import yaml

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import composition as gm

DEFAULTS = pathlib.Path(__file__).resolve().parents[3] / "playbooks" / "vars" / "build_guest_defaults.yml"


def _defaults():
    return yaml.safe_load(DEFAULTS.read_text())


def test_default_is_one_debian_12_container_mode_trove_guest():
    images = _defaults()["build_guest_images"]
    assert len(images) == 1
    entry = images[0]
    assert (entry["os"], entry["release"], entry["mode"]) == ("debian", "12", "container")


def test_default_composes_to_os_agent_and_container_layers():
    entry = _defaults()["build_guest_images"][0]
    spec = gm.compose_guest_image(entry, {"wheelhouse": "/var/cache/wheelhouse"})
    assert spec["name"] == "trove-debian-12-mysql-8.0-container"
    for element in ("debian-minimal", "vm", "cloud-init", "dbaas-guest-os", "dbaas-guest-agent",
                    "dbaas-datastore-container"):
        assert element in spec["elements"], element
    assert spec["inputs"]["DBAAS_GUEST_AGENT_WHEELHOUSE"] == "/var/cache/wheelhouse"
    for path in spec["element_paths"]:
        assert pathlib.Path(path).is_dir(), path
