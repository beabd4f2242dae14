# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's documentation and its argument spec tell the same options."""

import yaml

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.wheelhouse import argument_spec
from ansible_collections.dbaas.guest_images.plugins.modules import guest_agent_wheelhouse as module


def test_documented_options_match_the_argument_spec():
    doc = yaml.safe_load(module.DOCUMENTATION)
    documented = doc["options"]
    spec = argument_spec()
    assert sorted(documented) == sorted(spec)
    for name, option in documented.items():
        assert option["type"] == spec[name]["type"], name
        assert option.get("default") == spec[name].get("default"), name
        assert bool(option.get("required")) == bool(spec[name].get("required")), name
    assert "dbaas.guest_images._attributes" in doc["extends_documentation_fragment"]
    assert doc["attributes"]["check_mode"]["support"] == "full"


def test_examples_and_return_are_yaml():
    assert yaml.safe_load(module.EXAMPLES)
    assert "path" in yaml.safe_load(module.RETURN)
