# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build_image role's contract: declared inputs with defaults equal to defaults/main.yml, size passed as given."""

import importlib.util
import json
import os
import pathlib
import re
import subprocess
import sys
import textwrap

import yaml

ROLE = pathlib.Path(__file__).resolve().parents[3] / "roles" / "build_image"
_HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location(
    "fake_dib_role_tests", os.path.join(_HERE, "..", "plugins", "modules", "test_dib_image.py")
)
fake = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fake)


def test_argument_spec_covers_every_default():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    assert set(defaults) == set(spec)
    for name, value in defaults.items():
        assert name.startswith("build_image_")
        if "default" in spec[name]:
            assert spec[name]["default"] == value, name


def test_tasks_read_only_declared_or_private_role_variables():
    spec = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    text = (ROLE / "tasks" / "main.yml").read_text()
    used = set(re.findall(r"(?<![\w.])(build_\w+)", text))
    outputs = {"build_image_results"}
    assert used - set(spec) - outputs == set(), "undeclared inputs"


def run_role(tmp_path, spec, dib, **more):
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    play = tmp_path / "site.yml"
    variables = {
        **({"build_image_spec": spec} if spec else {}),
        **more,
        "build_image_dest": str(tmp_path / "out"),
        "build_image_dib_command": dib["command"],
        "build_image_dib_environment": {"FAKE_DIB_STATE": str(dib["state"])},
        "build_image_lock_timeout": 5,
    }
    play.write_text(textwrap.dedent(f"""\
        - hosts: localhost
          gather_facts: false
          connection: local
          tasks:
            - name: Build
              ansible.builtin.include_role:
                name: dbaas.guest_images.build_image
              vars: {json.dumps(variables)}
            - name: Save the rows
              ansible.builtin.copy:
                content: "{{{{ build_image_results | to_json }}}}"
                dest: {tmp_path / "rows.json"}
        """))
    env = dict(os.environ, HOME=str(home), ANSIBLE_NOCOLOR="1", ANSIBLE_PYTHON_INTERPRETER=sys.executable,
               ANSIBLE_LOCAL_TEMP=str(tmp_path / "ansible-local"))
    for entry in sys.path:
        if entry and os.path.isdir(os.path.join(entry, "ansible_collections", "dbaas", "guest_images")):
            env["ANSIBLE_COLLECTIONS_PATH"] = entry
            break
    env.pop("ANSIBLE_CONFIG", None)
    cmd = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,", str(play)]
    proc = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300,
                          check=False, cwd=str(tmp_path))
    rows = json.loads((tmp_path / "rows.json").read_text()) if (tmp_path / "rows.json").exists() else None
    return proc, rows


def test_size_zero_reaches_the_module(tmp_path):
    """A given size 0 is the module's to refuse, not silently replaced by DIB's default size."""
    dib = fake.make_fake_dib(tmp_path)
    proc, rows = run_role(tmp_path, {"name": "img", "elements": ["fake-os"], "size": 0}, dib)
    assert proc.returncode == 0, proc.stdout
    assert rows[0]["status"] == "failed", rows
    assert rows[0]["error"].startswith("size: "), rows
    assert fake.runs(dib) == 0


def test_size_left_out_builds_at_the_default_size(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    proc, rows = run_role(tmp_path, {"name": "img", "elements": ["fake-os"]}, dib)
    assert proc.returncode == 0, proc.stdout
    assert rows[0]["status"] == "built", rows
    argv = dib["state"] / "argv"
    assert "--image-size" not in (argv.read_text() if argv.exists() else "")


def test_several_images_two_at_once_each_in_its_slot(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    slow = {"DIB_RELEASE": "bookworm", "FAKE_DIB_STEP": "0.3"}
    specs = [{"name": name, "elements": ["fake-os"], "environment": slow} for name in ("a", "b", "c")]
    proc, rows = run_role(tmp_path, None, dib, build_image_specs=specs, build_image_builds_at_once=2,
                          build_image_cache_dir=str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stdout
    assert [(row["name"], row["status"]) for row in rows] == [("a", "built"), ("b", "built"), ("c", "built")]
    assert {rows[0]["build_slot"], rows[1]["build_slot"]} == {1, 2}
    assert {row["cache_dir"] for row in rows} == {str(tmp_path / "cache"), str(tmp_path / "cache") + "-slot2"}
    starts = {line.split()[1]: float(line.split()[2])
              for line in (dib["state"] / "spans").read_text().splitlines() if line.startswith("start")}
    ends = {line.split()[1]: float(line.split()[2])
            for line in (dib["state"] / "spans").read_text().splitlines() if line.startswith("end")}
    assert starts["b"] < ends["a"] and starts["a"] < ends["b"], (starts, ends)


def test_neither_spec_nor_specs_is_refused(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    proc, rows = run_role(tmp_path, None, dib)
    assert proc.returncode != 0
    assert "give build_image_spec (one image" in proc.stdout
    assert fake.runs(dib) == 0
