# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The AWX survey spec asks only for variables the playbook or its roles declare, with matching types and defaults."""

import json
import pathlib

import yaml

REPO = pathlib.Path(__file__).resolve().parents[3]
SURVEY = REPO / "meta" / "awx" / "build_guest_survey.json"
DEFAULTS = REPO / "playbooks" / "vars" / "build_guest_defaults.yml"
# AWX survey types and the Python types of the defaults they can stand for
# (AWX passes text and multiple choice answers as strings; `| bool` reads "true").
SURVEY_TYPES = {"text": (str,), "textarea": (str,), "password": (str,), "integer": (int,), "float": (float, int),
                "multiplechoice": (str, bool), "multiselect": (list,)}
SPEC_TYPES = {"str": (str,), "int": (int,), "bool": (bool,), "raw": (str, bool, int, dict, list), "path": (str,),
              "list": (list,), "dict": (dict,)}


def _role_options() -> dict:
    options = {}
    for spec in sorted(REPO.glob("roles/*/meta/argument_specs.yml")):
        for entry in yaml.safe_load(spec.read_text())["argument_specs"].values():
            options.update(entry.get("options") or {})
    return options


def _survey() -> list:
    return json.loads(SURVEY.read_text())["spec"]


def test_every_survey_variable_is_a_playbook_variable_or_a_role_option():
    defaults = yaml.safe_load(DEFAULTS.read_text())
    options = _role_options()
    unknown = [q["variable"] for q in _survey() if q["variable"] not in defaults and q["variable"] not in options]
    assert unknown == []


def test_survey_types_and_defaults_match_what_the_playbook_and_roles_declare():
    defaults = yaml.safe_load(DEFAULTS.read_text())
    options = _role_options()
    for question in _survey():
        name = question["variable"]
        declared = defaults[name] if name in defaults else options[name].get("default")
        assert isinstance(declared, SURVEY_TYPES[question["type"]]), (name, declared)
        if name in options:
            assert isinstance(declared, SPEC_TYPES[options[name]["type"]]), (name, options[name])
        if question["type"] == "multiplechoice":
            assert question["default"] in question["choices"], name
            if isinstance(declared, bool):
                assert question["default"] == str(declared).lower(), name
                assert sorted(question["choices"]) == ["false", "true"], name
        else:
            assert question["default"] == declared, (name, question["default"], declared)
        if question["type"] == "integer":
            assert question["min"] <= declared <= question["max"], name


def test_survey_has_what_awx_needs():
    names = [q["variable"] for q in _survey()]
    assert len(names) == len(set(names))
    for question in _survey():
        assert question["question_name"] and question["type"] in SURVEY_TYPES
        assert isinstance(question["required"], bool)
