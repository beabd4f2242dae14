# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest agent wheelhouse (_compose/wheelhouse.py): cache key, reuse, check mode, build, offline check."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import wheelhouse as wh


def params(**over):
    base = {name: spec.get("default") for name, spec in wh.argument_spec().items()}
    base.update({"os": "debian", "release": "12"})
    base.update(over)
    return base


def request(tmp_path, **over):
    return wh.WheelhouseRequest.from_params(params(cache_dir=str(tmp_path / "cache"), **over))


class FakeHost:
    """Runs nothing: records argv, answers interpreter probes, fills pip's target folder."""

    def __init__(self, versions=None, wheels=("trove-26.0.0-py3-none-any.whl", "oslo.config-9.0-py3-none-any.whl"),
                 pip_rc=0):
        self.versions = versions if versions is not None else {"python3.11": "3.11", "python3": "3.11"}
        self.wheels = wheels
        self.pip_rc = pip_rc
        self.calls = []

    def __call__(self, argv):
        self.calls.append(list(argv))
        if argv[1:2] == ["-c"]:
            if argv[0] not in self.versions:
                return 127, "", "not found"
            return 0, self.versions[argv[0]] + "\n", ""
        if argv[1:3] == ["-m", "venv"]:
            os.makedirs(os.path.join(argv[3], "bin"))
            open(os.path.join(argv[3], "bin", "pip"), "w").close()
            return 0, "", ""
        if argv[1] in ("wheel", "download"):
            if self.pip_rc:
                return self.pip_rc, "", "ERROR: No matching distribution found for netifaces\n"
            flag = "--wheel-dir" if argv[1] == "wheel" else "--dest"
            target = argv[argv.index(flag) + 1]
            for name in self.wheels:
                with open(os.path.join(target, name), "w") as handle:
                    handle.write("x")
            return 0, "", ""
        raise AssertionError(f"unexpected command {argv}")


@pytest.fixture(autouse=True)
def which(monkeypatch):
    monkeypatch.setattr(wh.shutil, "which", lambda name: "/usr/bin/" + name)


def test_request_resolves_release_and_pinned_version(tmp_path):
    req = request(tmp_path)
    assert (req.python_version, req.tag, req.glibc) == ("3.11", "cp311", "2.36")
    assert req.agent_version == releases.AGENT_VERSION
    assert req.path == str(tmp_path / "cache" / "wheelhouse" / f"trove-{releases.AGENT_VERSION}-cp311")
    assert req.requirement == f"trove=={releases.AGENT_VERSION}"


def test_source_tree_gets_the_dev_key(tmp_path):
    req = request(tmp_path, agent_source=str(tmp_path))
    assert os.path.basename(req.path) == "trove-dev-cp311"
    assert req.requirement == str(tmp_path)


def test_cache_dir_defaults_to_xdg_then_home():
    assert wh.default_cache_dir({"XDG_CACHE_HOME": "/x/cache"}) == "/x/cache/dbaas-guest-images"
    assert wh.default_cache_dir({}) == os.path.join(os.path.expanduser("~"), ".cache", "dbaas-guest-images")
    req = wh.WheelhouseRequest.from_params(params(), environ={"XDG_CACHE_HOME": "/x/cache"})
    assert req.path.startswith("/x/cache/dbaas-guest-images/wheelhouse/")


def test_unknown_release_is_refused():
    with pytest.raises(wh.WheelhouseError, match="os=debian release=11 is not supported"):
        wh.WheelhouseRequest.from_params(params(release="11"))


def test_check_mode_predicts_a_build_and_runs_nothing(tmp_path):
    host = FakeHost()
    req = request(tmp_path)
    result = wh.ensure(req, host, check_mode=True)
    assert result["changed"] is True and result["built"] is False
    assert result["path"] == req.path and "would build" in result["msg"]
    assert host.calls == []
    assert not os.path.exists(tmp_path / "cache")


def test_build_then_reuse_with_nothing_run(tmp_path):
    host = FakeHost()
    req = request(tmp_path)
    first = wh.ensure(req, host, check_mode=False)
    assert first["changed"] is True and first["built"] is True
    assert not os.path.exists(req.partial)
    manifest = json.loads(pathlib.Path(req.manifest_path).read_text())
    assert manifest == {
        "agent_version": releases.AGENT_VERSION,
        "built_with": "python3.11",
        "python": "3.11",
        "python_tag": "cp311",
        "requirement": f"trove=={releases.AGENT_VERSION}",
        "wheels": ["oslo.config-9.0-py3-none-any.whl", "trove-26.0.0-py3-none-any.whl"],
    }
    wheel = [c for c in host.calls if c[1:2] == ["wheel"]][0]
    assert wheel[0].endswith(".builder-cp311/bin/pip") and wheel[-1] == req.requirement

    again = FakeHost()
    for mode in (False, True):
        second = wh.ensure(req, again, check_mode=mode)
        assert second["changed"] is False and second["manifest"] == manifest
    assert again.calls == []


def test_source_tree_is_rebuilt_every_run(tmp_path):
    source = tmp_path / "trove"
    source.mkdir()
    req = request(tmp_path, agent_source=str(source))
    wh.ensure(req, FakeHost(), check_mode=False)
    assert wh.ensure(req, FakeHost(), check_mode=True)["changed"] is True
    assert json.loads(pathlib.Path(req.manifest_path).read_text())["requirement"] == "trove"


def test_constraints_and_pip_args_reach_pip(tmp_path):
    req = request(tmp_path, constraints="/c.txt", pip_args=["--index-url", "http://mirror/simple"])
    host = FakeHost()
    wh.ensure(req, host, check_mode=False)
    wheel = [c for c in host.calls if c[1:2] == ["wheel"]][0]
    assert wheel[-5:] == ["--index-url", "http://mirror/simple", "--constraint", "/c.txt", req.requirement]


def test_without_the_guest_python_binary_wheels_are_fetched(tmp_path):
    host = FakeHost(versions={"python3": "3.13"})
    req = request(tmp_path)
    result = wh.ensure(req, host, check_mode=False)
    assert result["manifest"]["built_with"] == "binary wheels only"
    download = [c for c in host.calls if c[1:2] == ["download"]][0]
    assert download[0].endswith(".builder-host/bin/pip")
    assert "manylinux_2_36_x86_64" in download and "--only-binary=:all:" in download


def test_binary_fetch_failure_names_the_fix(tmp_path):
    host = FakeHost(versions={"python3": "3.13"}, pip_rc=1)
    with pytest.raises(wh.WheelhouseError, match="needs Python 3.11.*Install python3.11.*No matching distribution"):
        wh.ensure(request(tmp_path), host, check_mode=False)
    assert not os.path.exists(request(tmp_path).path)


def test_explicit_interpreter_of_another_version_refused(tmp_path):
    host = FakeHost(versions={"/opt/py/bin/python": "3.12"})
    with pytest.raises(wh.WheelhouseError, match="python=/opt/py/bin/python is not Python 3.11"):
        wh.ensure(request(tmp_path, python="/opt/py/bin/python"), host, check_mode=False)


@pytest.mark.parametrize("wheels", [
    ("oslo.config-9.0-py3-none-any.whl",),
    ("trove-26.0.0-py3-none-any.whl", "netifaces-0.11.tar.gz"),
])
def test_not_installable_offline_is_refused_and_never_cached(tmp_path, wheels):
    req = request(tmp_path)
    with pytest.raises(wh.WheelhouseError, match="not installable offline: it needs exactly one trove wheel"):
        wh.ensure(req, FakeHost(wheels=wheels), check_mode=False)
    assert not os.path.exists(req.path)
    assert wh.cached(req) is None


def test_missing_source_tree_refused(tmp_path):
    req = request(tmp_path, agent_source=str(tmp_path / "nope"))
    with pytest.raises(wh.WheelhouseError, match="is not a folder"):
        wh.ensure(req, FakeHost(), check_mode=False)
