# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import request as req


def params(**over):
    values = {name: spec.get("default") for name, spec in req.argument_spec().items()}
    values.update(image="/out/img.qcow2", datastore_manager="mysql", datastore_version="8.0")
    values.update(over)
    return values


def test_defaults_come_from_the_argument_spec_and_the_release_table():
    request = req.VerifyRequest.from_params(params(), "/cache")
    assert request.mode == "required"
    assert request.trove_version == releases.AGENT_VERSION
    assert request.trove_venv == f"/cache/trove-client/trove-{releases.AGENT_VERSION}"
    assert request.record_path == "/out/img.verify.json"
    assert request.broker is None
    assert request.timeout_for("tcg") == 900
    assert request.timeout_for("kvm") == 180
    assert req.VerifyRequest.from_params(params(timeout=42), "/c").timeout_for("kvm") == 42


def test_broker_url_is_parsed_and_quoted_back():
    broker = req.parse_broker_url("rabbit://us%40er:p%2Fw@10.1.2.3:5673/my%2Fvhost")
    assert (broker.host, broker.port, broker.user, broker.password, broker.vhost) == (
        "10.1.2.3", 5673, "us@er", "p/w", "my/vhost")
    assert broker.url("10.0.2.100", 5672) == "rabbit://us%40er:p%2Fw@10.0.2.100:5672/my%2Fvhost"
    assert req.parse_broker_url("rabbit://u:p@h").port == 5672
    assert req.parse_broker_url("rabbit://u:p@h").vhost == "/"


@pytest.mark.parametrize("url, words", [
    ("amqp://u:secret-pw@h:5672/v", "scheme 'amqp'"),
    ("rabbit://u@h:5672/v", "needs a host, a user and a password"),
    ("rabbit://:secret-pw@h/v", "needs a host, a user and a password"),
])
def test_a_wrong_broker_url_is_refused_without_showing_the_password(url, words):
    with pytest.raises(req.VerifyInputError) as error:
        req.VerifyRequest.from_params(params(broker_url=url), "/c")
    assert words in str(error.value)
    assert "secret-pw" not in str(error.value)
    assert "broker_url" in str(error.value)


@pytest.mark.parametrize("name, value, words", [
    ("timeout", -1, "timeout=-1 is negative"),
    ("memory_mib", 100, "memory_mib=100 is too small"),
    ("volume_gib", 0, "volume_gib=0 is too small"),
    ("datastore_manager", " ", "datastore_manager is empty"),
    ("guest_config_extra", {"DEFAULT": "debug"}, "guest_config_extra['DEFAULT'] must be a mapping"),
])
def test_bad_options_are_refused_naming_them(name, value, words):
    with pytest.raises(req.VerifyInputError) as error:
        req.VerifyRequest.from_params(params(**{name: value}), "/c")
    assert words in str(error.value)


def test_the_broker_url_option_is_no_log():
    assert req.argument_spec()["broker_url"]["no_log"] is True
