# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""build_report as Ansible runs it: the module file in its own process, with real files."""

import json
import os
import subprocess
import sys

from ansible_collections.dbaas.guest_images.plugins.modules import build_report

MODULE = build_report.__file__


def start(tmp_path, dest, rows, tag):
    args = tmp_path / f"args-{tag}.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"rows": rows, "dest": str(dest)}}))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    return subprocess.Popen([sys.executable, MODULE, str(args)], env=env, stdout=subprocess.PIPE, text=True)


def finish(proc):
    out = proc.communicate(timeout=60)[0]
    assert proc.returncode == 0, out
    return json.loads(out)


def row(name, status="built", reason="new: no previous build (no fingerprint file)"):
    return {"name": name, "build_host": "h", "status": status, "reason": reason, "outputs": [],
            "fingerprint": name * 4}


def test_concurrent_runs_into_one_folder_keep_every_row(tmp_path):
    dest = tmp_path / "out"
    names = [f"image-{index}" for index in range(8)]
    procs = [start(tmp_path, dest, [row(name)], name) for name in names]
    results = [finish(proc) for proc in procs]
    document = json.loads((dest / "build-report.json").read_text())
    assert sorted(r["name"] for r in document["images"]) == names
    assert document["summary"]["built"] == 8
    markdown = (dest / "build-report.md").read_text()
    for name in names:
        assert f"| {name} | h | built | new: no previous build (no fingerprint file) |" in markdown
    # Each run tells its own rows apart from the merged report.
    assert all(result["run"]["summary"] == {"built": 1, "reused": 0, "failed": 0} for result in results)
    assert not [name for name in os.listdir(dest) if name.startswith(".build-report.") and name != ".build-report.lock"]


def test_newer_row_replaces_the_older_one_of_the_same_image(tmp_path):
    dest = tmp_path / "out"
    finish(start(tmp_path, dest, [row("a"), row("b")], "first"))
    second = finish(start(tmp_path, dest, [row("a", "failed", "DIB failed in install.d/50-x: E: no space")], "2"))
    document = json.loads((dest / "build-report.json").read_text())
    by_name = {r["name"]: r for r in document["images"]}
    assert by_name["a"]["status"] == "failed" and by_name["b"]["status"] == "built"
    assert second["run"]["summary"] == {"built": 0, "reused": 0, "failed": 1}
    assert document["summary"] == {"built": 1, "reused": 0, "failed": 1}
    # The same rows again tell nothing new: the files stay as they are.
    before = (dest / "build-report.json").stat().st_mtime_ns
    again = finish(start(tmp_path, dest, [row("a", "failed", "DIB failed in install.d/50-x: E: no space")], "3"))
    assert again["changed"] is False
    assert (dest / "build-report.json").stat().st_mtime_ns == before
