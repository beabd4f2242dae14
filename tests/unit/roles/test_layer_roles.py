# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The os_layer and datastore_layer roles: declared inputs, defaults in step, no reads of others' facts."""

import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
ROLES = ("os_layer", "datastore_layer")


def _spec(role):
    return yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]


@pytest.mark.parametrize("role", ROLES)
def test_every_default_is_declared_with_the_same_value(role):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    options = _spec(role)["options"]
    assert sorted(defaults) == sorted(options)
    for name, value in defaults.items():
        assert name.startswith(role + "_"), name
        if isinstance(value, str) and "{{" in value:
            continue
        assert options[name].get("default") == value, name


@pytest.mark.parametrize("role", ROLES)
def test_tasks_read_only_declared_variables_and_their_own_facts(role):
    declared = set(_spec(role)["options"])
    text = "".join(p.read_text() for p in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")))
    text = re.sub(r"dbaas\.guest_images\.[a-z_]+", "", text)
    used = set(re.findall(r"\b([a-z][a-z0-9_]*_(?:layer|guest|host|image)_[a-z0-9_]+)\b", text))
    foreign = {name for name in used if not name.startswith((role + "_", "_" + role + "_"))}
    assert foreign == set(), foreign
    for name in used:
        if name.startswith(role + "_") and name not in declared:
            assert re.search(rf"^\s+{name}:", text, re.M), f"{name} is neither declared nor set by the role"
    assert "build_guest_" not in text


def test_no_release_table_copy_in_the_role():
    assert not (ROOT / "roles" / "os_layer" / "vars" / "main.yml").exists()
    for path in (ROOT / "roles" / "os_layer").rglob("*.yml"):
        assert "2.36" not in path.read_text(), path


def test_wheelhouse_is_one_module_task():
    tasks = yaml.safe_load((ROOT / "roles" / "os_layer" / "tasks" / "main.yml").read_text())
    modules = [next(k for k in task if "." in k) for task in tasks]
    assert modules.count("dbaas.guest_images.guest_agent_wheelhouse") == 1
    assert "ansible.builtin.command" not in modules and "ansible.builtin.shell" not in modules
    assert not (ROOT / "roles" / "os_layer" / "tasks" / "wheelhouse.yml").exists()


def test_outputs_are_documented():
    os_layer = " ".join(_spec("os_layer")["description"])
    for fact in ("os_layer_layers", "os_layer_wheelhouses", "os_layer_wheelhouse", "os_layer_element_path"):
        assert fact in os_layer, fact
    datastore = " ".join(_spec("datastore_layer")["description"])
    for fact in ("datastore_layer_composed", "datastore_layer_layers", "datastore_layer_licensed_packages",
                 "datastore_layer_container_tarballs"):
        assert fact in datastore, fact
