# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dib_image request: module parameters read once, the way the module always read them."""

import dataclasses
import os

import pytest
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import (
    DibImageRequest,
    argument_spec,
    option_default,
)


def validated(**params):
    result = ArgumentSpecValidator(argument_spec()).validate(params)
    assert not result.error_messages, result.error_messages
    return result.validated_parameters


def test_defaults_come_from_the_argument_spec():
    request = DibImageRequest.from_params(validated(name="img", elements=["debian-minimal"], dest="/srv/out"))
    assert request.formats == ["qcow2"] and request.arch == "amd64" and request.size is None
    assert (request.timeout, request.lock_timeout, request.max_age, request.force) == (3600, 1800, 720, False)
    assert option_default("timeout") == 3600 and option_default("lock_timeout") == 1800
    assert option_default("size") is None


def test_environment_values_become_strings_and_paths_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    request = DibImageRequest.from_params(validated(
        name="img", elements=["debian-minimal"], dest="out", element_paths=["elements"],
        environment={"A": True, "B": None, "C": 3, "D": "x"}, inputs={"PKG": "pkg.tar"},
    ))
    assert request.environment == {"A": "true", "B": "", "C": "3", "D": "x"}
    assert request.dest == str(tmp_path / "out")
    assert request.element_paths == [str(tmp_path / "elements")]
    assert request.inputs == {"PKG": str(tmp_path / "pkg.tar")}


def test_home_in_inputs_is_expanded(monkeypatch):
    monkeypatch.setenv("HOME", "/home/builder")
    request = DibImageRequest.from_params(validated(
        name="img", elements=["x"], dest="/out", inputs={"PKG": "~/pkg"}))
    assert request.inputs["PKG"] == os.path.join("/home/builder", "pkg")


def test_request_is_frozen():
    request = DibImageRequest.from_params(validated(name="img", elements=["x"], dest="/out"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.name = "other"
