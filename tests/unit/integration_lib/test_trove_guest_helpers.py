# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pure helpers of the Trove guest integration tests: config text, broker URLs, the qemu forward."""

import configparser

from lib.qemu import guestfwd_to_loopback
from lib.rabbitmq import Account
from lib.trove_guest import guestagent_conf, ini_text


def _parse(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string(text)
    return parser


def test_guestagent_conf_names_the_broker_and_the_exchange():
    parsed = _parse(guestagent_conf("rabbit://u:p@10.0.2.100:5672/v"))
    assert parsed["DEFAULT"]["transport_url"] == "rabbit://u:p@10.0.2.100:5672/v"
    assert parsed["DEFAULT"]["control_exchange"] == "trove"


def test_guestagent_conf_adds_sections_and_keeps_case():
    parsed = _parse(guestagent_conf("rabbit://x", control_exchange="openstack",
                                    extra={"mysql": {"mount_point": "/var/lib/mysql"}, "DEFAULT": {"debug": True}}))
    assert parsed["DEFAULT"]["control_exchange"] == "openstack"
    assert parsed["DEFAULT"]["debug"] == "True"
    assert parsed["mysql"]["mount_point"] == "/var/lib/mysql"


def test_ini_text_keeps_percent_signs_and_order():
    text = ini_text({"DEFAULT": {"b": "50%", "a": "1"}, "s": {"K": "v"}})
    assert text.index("b = 50%") < text.index("a = 1")
    assert "K = v" in text


def test_account_url_quotes_credentials_and_vhost():
    account = Account(user="dbaas-1", password="p/w:@", vhost="v/h")
    assert account.url("10.0.2.100", 5672) == "rabbit://dbaas-1:p%2Fw%3A%40@10.0.2.100:5672/v%2Fh"


def test_guestfwd_is_one_socat_per_connection_to_loopback():
    assert guestfwd_to_loopback("10.0.2.100", 5672, 41000) == (
        "guestfwd=tcp:10.0.2.100:5672-cmd:socat STDIO TCP:127.0.0.1:41000")
