# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared OpenStack connection: options, error wording, retries (no cloud needed)."""

import os
import pathlib

import pytest
import yaml
from keystoneauth1 import exceptions as ksa_exc
from openstack import exceptions as sdk_exc

from ansible_collections.dbaas.guest_images.plugins.doc_fragments.openstack import ModuleDocFragment
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack import connection as osc
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack import errors as ose


def test_doc_fragment_matches_argument_spec():
    documented = yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"]
    spec = osc.OPENSTACK_ARGUMENT_SPEC
    assert set(documented) == set(spec)
    for name, option in spec.items():
        doc = documented[name]
        assert doc["type"] == option["type"], name
        assert doc.get("default") == option.get("default"), name
        assert doc.get("choices") == option.get("choices"), name
        assert sorted(doc.get("aliases", [])) == sorted(option.get("aliases", [])), name
    assert spec["auth"]["no_log"] is True


def test_argument_spec_is_a_copy_with_extras():
    spec = osc.openstack_argument_spec(name=dict(type="str"))
    spec["cloud"]["type"] = "changed"
    assert osc.OPENSTACK_ARGUMENT_SPEC["cloud"]["type"] == "raw"
    assert "name" in spec and "name" not in osc.OPENSTACK_ARGUMENT_SPEC


def test_connection_kwargs_named_cloud_and_overrides():
    kwargs = osc.connection_kwargs({
        "cloud": "mycloud", "auth": {"password": "s3cret"}, "region_name": "R2", "interface": "internal",
        "validate_certs": False, "ca_cert": "/ca.pem", "client_cert": None, "client_key": None, "api_timeout": 30,
        "auth_type": None,
    })
    assert kwargs == {"cloud": "mycloud", "auth": {"password": "s3cret"}, "region_name": "R2",
                      "interface": "internal", "verify": False, "cacert": "/ca.pem", "api_timeout": 30}


def test_connection_kwargs_cloud_dict_merges_auth():
    cloud = {"auth": {"auth_url": "http://k/v3", "username": "u"}, "region_name": "R1"}
    kwargs = osc.connection_kwargs({"cloud": cloud, "auth": {"password": "p"}})
    assert kwargs["auth"] == {"auth_url": "http://k/v3", "username": "u", "password": "p"}
    assert kwargs["region_name"] == "R1"
    assert cloud["auth"] == {"auth_url": "http://k/v3", "username": "u"}  # caller's dict untouched


@pytest.mark.parametrize("bad", ["", "   ", 42, ["a"]])
def test_connection_kwargs_refuses_bad_cloud(bad):
    with pytest.raises(osc.OpenStackError, match="Option 'cloud'"):
        osc.connection_kwargs({"cloud": bad})


def test_unknown_cloud_is_named(tmp_path, monkeypatch):
    clouds = tmp_path / "clouds.yaml"
    clouds.write_text("clouds: {other: {auth: {auth_url: 'http://127.0.0.1:9/v3'}}}\n")
    monkeypatch.setenv("OS_CLIENT_CONFIG_FILE", str(clouds))
    with pytest.raises(osc.OpenStackError) as info:
        osc.connect({"cloud": "nope"})
    assert "Cloud 'nope' is not defined in any clouds.yaml" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_describe_error_plain_words():
    params = {"cloud": "c1", "auth": {"password": "s3cret"}}
    assert "refused the credentials of cloud 'c1'" in ose.describe_error(ksa_exc.Unauthorized("x"), params)
    assert "could not connect" in ose.describe_error(ksa_exc.ConnectFailure("refused"), params).lower()
    assert "ca_cert" in ose.describe_error(ksa_exc.SSLError("bad cert"), params)
    missing = ksa_exc.MissingRequiredOptions([type("Opt", (), {"dest": "auth_url"})()])
    assert "auth_url" in ose.describe_error(missing, params)
    assert "s3cret" not in ose.describe_error(ksa_exc.Unauthorized("x"), params)


def test_is_transient():
    class Http(Exception):
        def __init__(self, code):
            super().__init__(code)
            self.status_code = code

    assert ose.is_transient(Http(503)) and ose.is_transient(Http(502)) and ose.is_transient(Http(504))
    assert not ose.is_transient(Http(400)) and not ose.is_transient(Http(401)) and not ose.is_transient(Http(415))
    assert ose.is_transient(ksa_exc.ConnectFailure("reset"))
    assert not ose.is_transient(ksa_exc.SSLError("cert"))
    assert ose.is_transient(ConnectionResetError())
    assert not ose.is_transient(ValueError("x"))
    assert ose.is_transient(sdk_exc.HttpException("busy", http_status=503))


def test_backoff_delays_are_bounded():
    delays = ose.backoff_delays(6, base=1.0, maximum=5.0, jitter=0.0)
    assert delays == [1.0, 2.0, 4.0, 5.0, 5.0]
    jittered = ose.backoff_delays(3, base=2.0, jitter=0.5, rand=lambda: 1.0)
    assert jittered == [3.0, 6.0]


def test_retry_gives_up_after_attempts():
    calls, slept = [], []

    def flaky():
        calls.append(1)
        raise ConnectionResetError("reset")

    with pytest.raises(ConnectionResetError):
        ose.retry(flaky, attempts=3, sleep=slept.append)
    assert len(calls) == 3 and len(slept) == 2


def test_retry_succeeds_after_transient_and_not_on_permanent():
    answers = iter([ConnectionResetError(), "ok"])

    def once():
        value = next(answers)
        if isinstance(value, Exception):
            raise value
        return value

    seen = []
    assert ose.retry(once, attempts=3, sleep=lambda s: None, on_retry=lambda e, n, d: seen.append(n)) == "ok"
    assert seen == [1]

    calls = []

    def permanent():
        calls.append(1)
        raise ValueError("bad request")

    with pytest.raises(ValueError):
        ose.retry(permanent, attempts=5, sleep=lambda s: None)
    assert len(calls) == 1


class FakeModule:
    def __init__(self, params):
        self.params = params
        self.no_log_values = set()


def test_secrets_inside_a_cloud_dict_are_masked_in_the_module_output():
    from ansible.module_utils.basic import remove_values

    cloud = {"auth": {"auth_url": "http://k/v3", "username": "admin", "password": "s3cret-pw",
                      "application_credential_secret": "app-s3cret", "project_name": "p"},
             "region_name": "R1", "nested": [{"token": "tok-s3cret"}]}
    module = FakeModule({"cloud": cloud, "auth": None})
    osc.protect_secrets(module)
    assert module.no_log_values == {"s3cret-pw", "app-s3cret", "tok-s3cret"}
    shown = str(remove_values({"invocation": {"module_args": module.params}, "msg": "failed"},
                              module.no_log_values))
    assert "s3cret" not in shown
    assert "admin" in shown and "http://k/v3" in shown


def test_a_cloud_name_masks_nothing():
    module = FakeModule({"cloud": "mycloud"})
    osc.protect_secrets(module)
    assert module.no_log_values == set()


def test_cloud_options_read_once():
    options = osc.CloudOptions.from_params(dict.fromkeys(osc.OPENSTACK_ARGUMENT_SPEC, None) | {"cloud": "c"})
    assert options.cloud == "c" and options.interface is None
    assert osc.connection_kwargs(options) == {"cloud": "c"}


def test_openstack_module_masks_cloud_secrets_even_when_validation_fails(capsys):
    testing = pytest.importorskip("ansible.module_utils.testing")
    cloud = {"auth": {"auth_url": "http://k/v3", "username": "admin", "password": "s3cret-pw"}}
    with testing.patch_module_args({"cloud": cloud, "no_such_option": 1}), pytest.raises(SystemExit):
        osc.OpenStackModule(argument_spec=osc.openstack_argument_spec())
    out = capsys.readouterr().out
    assert "Unsupported parameters" in out
    assert "s3cret-pw" not in out and "http://k/v3" in out


CERT_PEM = "-----BEGIN CERTIFICATE-----\nMIIBcert\n-----END CERTIFICATE-----\n"
KEY_PEM = "-----BEGIN PRIVATE KEY-----\nMIIEkey-s3cret\n-----END PRIVATE KEY-----\n"


def test_inline_tls_files_are_written_privately_and_paths_kept(tmp_path):
    kwargs = {"auth": {"auth_url": "https://k/v3"}, "cacert": CERT_PEM, "cert": "/etc/pki/client.pem", "key": KEY_PEM}
    written = osc.write_inline_files(kwargs, str(tmp_path))
    assert written["cert"] == "/etc/pki/client.pem"  # a path stays a path
    for key, text in (("cacert", CERT_PEM), ("key", KEY_PEM)):
        path = written[key]
        assert path.startswith(str(tmp_path)) and pathlib.Path(path).read_text() == text
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert kwargs["cacert"] == CERT_PEM  # the caller's dictionary is not changed


def test_an_inline_private_key_is_masked_and_a_certificate_is_not():
    module = FakeModule({"cloud": {"auth": {"auth_url": "https://k/v3"}, "cacert": CERT_PEM, "key": KEY_PEM}})
    osc.protect_secrets(module)
    assert module.no_log_values == {KEY_PEM}


def test_connect_writes_inline_files_to_a_private_folder_removed_at_exit(monkeypatch):
    seen = {}
    registered = []

    def fake_connect(**kwargs):
        seen.update(kwargs)
        seen["cacert_text"] = pathlib.Path(kwargs["cacert"]).read_text()
        seen["folder_mode"] = os.stat(os.path.dirname(kwargs["cacert"])).st_mode & 0o777
        raise RuntimeError("stop here")

    monkeypatch.setattr(osc.openstack, "connect", fake_connect)
    monkeypatch.setattr(osc.atexit, "register", lambda *args: registered.append(args))
    with pytest.raises(osc.OpenStackError):
        osc.connect({"cloud": {"auth": {"auth_url": "https://k/v3"}, "cacert": CERT_PEM}})
    assert seen["cacert_text"] == CERT_PEM and seen["folder_mode"] == 0o700
    assert registered and registered[0][1] == os.path.dirname(seen["cacert"])
    registered[0][0](*registered[0][1:])
    assert not os.path.exists(os.path.dirname(seen["cacert"]))
