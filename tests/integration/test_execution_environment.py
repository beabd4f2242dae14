# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""meta/execution-environment.yml is a definition ansible-builder accepts, with controller-side needs only."""

import pathlib
import shutil
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]


def _builder() -> str:
    found = pathlib.Path(sys.executable).parent / "ansible-builder"
    return str(found) if found.exists() else (shutil.which("ansible-builder") or "ansible-builder")


def test_ansible_builder_create_writes_the_build_context(tmp_path):
    context = tmp_path / "context"
    proc = subprocess.run([_builder(), "create", "-f", str(REPO / "meta" / "execution-environment.yml"),
                           "-c", str(context)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    containerfile = (context / "Containerfile").read_text()
    assert "ansible-core>=2.16,<2.20" in containerfile
    requirements = (context / "_build" / "requirements.txt").read_text()
    assert "openstacksdk" in requirements and "jmespath" in requirements
    # Controller-side only: nothing of the build hosts' or the tests' tools.
    for unwanted in ("diskimage-builder", "pytest", "ansible-lint", "qemu"):
        assert unwanted not in requirements + (context / "_build" / "bindep.txt").read_text()
    assert "openssh-client" in (context / "_build" / "bindep.txt").read_text()
