# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build_host_facts request and its argument spec."""

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost.request import (
    BuildHostFactsRequest,
    argument_spec,
)
from ansible_collections.dbaas.guest_images.plugins.modules import build_host_facts


def test_wanted_packages_are_the_family_list_then_the_extra_ones():
    params = ArgumentSpecValidator(argument_spec()).validate(
        {"packages_by_family": {"Debian": ["qemu-utils", "kpartx"]}, "extra_packages": ["vim"]}
    ).validated_parameters
    request = BuildHostFactsRequest.from_params(params)
    assert request.root == "/" and request.from_apt is True and request.paths == []
    assert request.wanted_packages("Debian") == ["qemu-utils", "kpartx", "vim"]
    assert request.wanted_packages("RedHat") == ["vim"]


def test_argument_spec_matches_documentation():
    doc = yaml.safe_load(build_host_facts.DOCUMENTATION)["options"]
    spec = argument_spec()
    assert set(doc) == set(spec)
    for name, option in spec.items():
        assert doc[name]["type"] == option["type"], name
        assert doc[name].get("default") == option.get("default"), name
