# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
import configparser

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import trove_client


def test_guestagent_conf_names_the_broker_and_trove_exchange_plus_extra_sections():
    text = trove_client.guestagent_conf("rabbit://u:p@10.0.2.100:5672/v", {"mysql": {"mount_point": "/x"}})
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    assert parser["DEFAULT"]["transport_url"] == "rabbit://u:p@10.0.2.100:5672/v"
    assert parser["DEFAULT"]["control_exchange"] == "trove"
    assert parser["mysql"]["mount_point"] == "/x"


def test_a_value_on_several_lines_is_refused():
    with pytest.raises(trove_client.TroveClientError, match=r"\[DEFAULT\] debug spans lines"):
        trove_client.ini_text({"DEFAULT": {"debug": "a\nb"}})


def test_the_side_script_needs_only_the_standard_library():
    source = trove_client._side_source()
    imports = [line for line in source.splitlines() if line.startswith(("import ", "from "))]
    assert all(line.split()[1] in {"__future__", "json", "sys", "tempfile", "time", "types", "typing"}
               for line in imports), imports
