# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module's documentation and its argument spec tell the same options."""

import yaml

from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.connection import OPENSTACK_ARGUMENT_SPEC
from ansible_collections.dbaas.guest_images.plugins.modules import trove_datastore_version as module


def test_documented_options_match_the_argument_spec():
    documented = yaml.safe_load(module.DOCUMENTATION)["options"]
    spec = module.argument_spec()
    own = {name: value for name, value in spec.items() if name not in OPENSTACK_ARGUMENT_SPEC}
    assert sorted(documented) == sorted(own)
    for name, doc in documented.items():
        assert doc["type"] == own[name]["type"], name
        assert doc.get("default") == own[name].get("default"), name
        assert sorted(doc.get("aliases", [])) == sorted(own[name].get("aliases", [])), name
        assert doc.get("choices") == own[name].get("choices"), name
        assert bool(doc.get("required")) == bool(own[name].get("required")), name


def test_examples_and_return_are_yaml():
    assert yaml.safe_load(module.EXAMPLES)
    assert "version" in yaml.safe_load(module.RETURN)
