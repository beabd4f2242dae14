# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The os_layer role on this machine: the guest agent wheelhouse and early refusals.

The wheelhouse lives in the build host's cache (the same one the image builds
of this run use), so in a full run it is already there and the role must
reuse it; pip then proves, without any index, that trove and all its
dependencies resolve from it.
"""

import json
import pathlib
import subprocess
import sys

import pytest

PLAYBOOK = """
- name: Prepare the OS layer
  hosts: localhost
  gather_facts: false
  roles:
    - role: dbaas.guest_images.os_layer
  tasks:
    - name: Show the layer facts
      ansible.builtin.copy:
        dest: "{{ facts_file }}"
        content: "{{ {'layers': os_layer_layers, 'element_path': os_layer_element_path} | to_json }}"
        mode: "0644"
"""


@pytest.fixture
def os_layer_playbook(tmp_path):
    path = tmp_path / "os_layer.yml"
    path.write_text(PLAYBOOK)
    return path


def test_wheelhouse_is_built_once_and_installs_offline(run_playbook, os_layer_playbook, tmp_path):
    facts = tmp_path / "facts.json"
    first = run_playbook(str(os_layer_playbook), {"facts_file": str(facts)}, timeout=1800)
    assert first.rc == 0, first.output[-4000:]
    second = run_playbook(str(os_layer_playbook), {"facts_file": str(facts)}, timeout=600)
    assert second.rc == 0, second.output[-4000:]
    # The second run finds the complete wheelhouse and builds nothing.
    assert second.task_status("Build wheels of trove") in ([], ["skipping"]), second.output[-3000:]
    assert "changed: [localhost]" not in second.output.split("TASK [Show the layer facts]")[0]

    layers = json.loads(facts.read_text())["layers"]
    wheelhouse = pathlib.Path(layers["wheelhouse"])
    assert layers["wheelhouses"] == {"debian-12": str(wheelhouse)}
    assert wheelhouse.name == "trove-26.0.0-cp311"
    assert layers["os_settings"]["agent_version"] == "26.0.0"
    manifest = json.loads((wheelhouse / "wheelhouse.json").read_text())
    assert manifest["python"] == "3.11" and manifest["requirement"] == "trove==26.0.0"
    files = sorted(p.name for p in wheelhouse.iterdir() if p.name != "wheelhouse.json")
    assert files == sorted(manifest["wheels"])
    assert all(name.endswith(".whl") for name in files)
    assert not any(p.name.endswith(".partial") for p in wheelhouse.parent.iterdir())

    # Offline resolution of the whole dependency tree, as install.d does it.
    if sys.version_info[:2] == (3, 11):
        venv = tmp_path / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        proc = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--dry-run", "--no-index", "--isolated",
             "--find-links", str(wheelhouse), "trove==26.0.0"],
            capture_output=True, text=True, check=False,
            env={"PATH": "/usr/bin:/bin", "PIP_CONFIG_FILE": "/dev/null"},
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "Would install" in proc.stdout and "trove-26.0.0" in proc.stdout


@pytest.mark.parametrize("extra_vars, message", [
    ({"os_layer_releases": [{"os": "debian", "release": "11"}]},
     "os=debian release=11 is not supported; supported: debian-12, ubuntu-22.04, ubuntu-24.04"),
    ({"os_layer_extra_ca_certs": "/nonexistent/corp-ca.pem"},
     "os_layer_extra_ca_certs=/nonexistent/corp-ca.pem does not exist"),
    ({"os_layer_agent_source": "/nonexistent/trove"},
     "os_layer_agent_source=/nonexistent/trove is not a folder"),
])
def test_bad_input_is_refused_before_any_build(run_playbook, os_layer_playbook, tmp_path, extra_vars, message):
    run = run_playbook(str(os_layer_playbook), {"facts_file": str(tmp_path / "f.json"), **extra_vars}, timeout=300)
    assert run.rc != 0
    assert message in run.output, run.output[-3000:]
    assert run.task_status("Build wheels of trove") == []


def test_check_mode_on_a_fresh_cache_predicts_the_build_and_builds_nothing(run_playbook, os_layer_playbook, tmp_path):
    """--check with no cache folder given: the module resolves it and says it would build there."""
    cache_home = tmp_path / "xdg"
    run = run_playbook(
        str(os_layer_playbook), {"facts_file": str(tmp_path / "f.json")}, check=True,
        env_extra={"XDG_CACHE_HOME": str(cache_home)}, timeout=300,
    )
    assert run.rc == 0, run.output[-3000:]
    assert run.task_status("Prepare the guest agent wheelhouse") == ["changed"], run.output[-3000:]
    assert not cache_home.exists(), sorted(str(p) for p in cache_home.rglob("*"))
