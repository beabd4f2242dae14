# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build_host role's diskimage-builder install (files/install_dib.sh): one install at a time per virtualenv.

Runs the real script with a stand-in Python whose ``-m venv`` makes a
virtualenv with a slow stand-in pip, so two runs at once overlap for sure.
"""

import pathlib
import subprocess
import textwrap

SCRIPT = pathlib.Path(__file__).resolve().parents[3] / "roles" / "build_host" / "files" / "install_dib.sh"

FAKE_PYTHON = textwrap.dedent("""\
    #!/bin/sh
    # stand-in: python -m venv DIR
    [ "$1" = "-m" ] && [ "$2" = venv ] || exit 9
    echo "venv $3" >> "$LOG"
    mkdir -p "$3/bin"
    cat > "$3/bin/pip" <<'PIP'
    #!/bin/sh
    echo "pip start $*" >> "$LOG"
    sleep 1
    for word in "$@"; do case $word in diskimage-builder==*) version=${word#*==} ;; esac; done
    printf '#!/bin/sh\\necho %s\\n' "$version" > "$(dirname "$0")/disk-image-create"
    chmod +x "$(dirname "$0")/disk-image-create"
    echo "pip end" >> "$LOG"
    PIP
    chmod +x "$3/bin/pip"
    """)


def setup(tmp_path):
    python = tmp_path / "python"
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    log = tmp_path / "log"
    log.write_text("")
    return python, log


def start(python, log, venv, *extra):
    return subprocess.Popen(["/bin/sh", str(SCRIPT), str(venv), str(python), "3.43.0", *extra],
                            env={"PATH": "/usr/bin:/bin", "LOG": str(log)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_two_installs_at_once_make_one_virtualenv_and_run_pip_once(tmp_path):
    python, log = setup(tmp_path)
    venv = tmp_path / "opt" / "dib"
    first, second = (start(python, log, venv, "--index-url", "https://example.invalid/simple")
                     for _run in range(2))
    outputs = [proc.communicate(timeout=60) for proc in (first, second)]
    assert [proc.returncode for proc in (first, second)] == [0, 0], outputs
    said = sorted(out.strip().splitlines()[-1].split(":")[0] for out, _err in outputs)
    assert said == ["installed", "unchanged"], outputs
    lines = log.read_text().splitlines()
    assert lines == [f"venv {venv}",
                     "pip start install --disable-pip-version-check --index-url https://example.invalid/simple"
                     " diskimage-builder==3.43.0",
                     "pip end"]
    assert (venv / "bin" / "disk-image-create").read_text().strip().endswith("echo 3.43.0")
    # The lock is not held once the installs are done: a third run takes it at once and finds the version there.
    third = start(python, log, venv)
    out, _err = third.communicate(timeout=10)
    assert third.returncode == 0 and out.startswith("unchanged: diskimage-builder 3.43.0")


def test_a_virtualenv_left_without_pip_is_completed(tmp_path):
    python, log = setup(tmp_path)
    venv = tmp_path / "dib"
    (venv / "bin").mkdir(parents=True)  # an earlier install cut off before ensurepip
    proc = start(python, log, venv)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.strip() == f"installed: diskimage-builder 3.43.0 in {venv}"
    assert log.read_text().splitlines()[0] == f"venv {venv}"


def test_an_older_version_is_replaced(tmp_path):
    python, log = setup(tmp_path)
    venv = tmp_path / "dib"
    assert start(python, log, venv).wait(timeout=60) == 0
    (venv / "bin" / "disk-image-create").write_text("#!/bin/sh\necho 3.40.0\n")
    proc = start(python, log, venv)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.startswith("installed:")
    assert [line for line in log.read_text().splitlines() if line.startswith("venv")] == [f"venv {venv}"]
