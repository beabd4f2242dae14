# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The datastore layer, licensed packages and matrix composition, end to end.

* Early refusals: bad operator files and unsupported combinations stop
  ``playbooks/build_guest.yml`` BEFORE diskimage-builder runs, naming the path.
* The two Trove test images (``trove_images``, built once per run) are
  inspected offline, read-only mounted: guest agent, container engine and
  preloaded image tarball, or the distribution's database server (disabled)
  plus the licensed package with its dependencies, and nothing of the build
  left behind.
* The test container tarball is a real image: podman loads it.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import shutil
import stat
import subprocess
import tempfile

import pytest
from lib.container_tarball import build_image_tarball, read_archive
from lib.digest import sha256
from lib.fake_deb import ACME_FILE, ACME_SCRIPT, build_deb
from lib.imageinspect import mounted_root

AGENT_VENV = "opt/trove-guestagent"
PRELOAD_STORE = "var/lib/dbaas/container-images"
DIB_TASK = "Run diskimage-builder"


# ---------------------------------------------------------------------------
# Early refusals: the play fails before any DIB build, naming the path
# ---------------------------------------------------------------------------

CONTAINER_ENTRY = {
    "os": "debian",
    "release": "12",
    "datastore": "mysql",
    "datastore_version": "8.0",
    "mode": "container",
}


def refused_run(run_playbook, tmp_path, build_cache_dir, entries, env_extra=None, **more_vars):
    output_dir = tmp_path / "out"
    extra_vars = {
        "build_guest_output_dir": str(output_dir),
        "build_guest_cache_dir": str(build_cache_dir),
        "build_guest_images": entries,
    }
    extra_vars.update(more_vars)
    run = run_playbook("build_guest.yml", extra_vars, env_extra=env_extra, timeout=1800)
    assert run.rc != 0, f"the play should have failed:\n{run.output[-3000:]}"
    assert run.task_status(DIB_TASK) == [], f"diskimage-builder ran although the input was bad:\n{run.output[-3000:]}"
    reports = {"build-report.json", "build-report.md"}
    leftovers = sorted(
        p.name for p in output_dir.glob("*")
        if p.suffix in (".qcow2", ".log", ".json", ".raw") and p.name not in reports
    )
    assert leftovers == [], f"files appeared in the output folder: {leftovers}"
    # A refusal in the compose stage still ends in the report: every entry failed, with the error.
    if run.report is not None:
        assert {row["status"] for row in run.report["images"]} == {"failed"}, run.report
        assert len(run.report["images"]) == len(entries), run.report
    # Ansible wraps long messages; compare on whitespace-collapsed text.
    return " ".join(run.output.split())


def test_missing_licensed_package_refused_before_build(run_playbook, tmp_path, build_cache_dir):
    missing = str(tmp_path / "gone" / "acme-dbtools_1.2.3_all.deb")
    out = refused_run(run_playbook, tmp_path, build_cache_dir, [dict(CONTAINER_ENTRY, datastore_pkg_location=missing)])
    assert f"{missing} does not exist" in out


def test_empty_licensed_package_refused_before_build(run_playbook, tmp_path, build_cache_dir):
    empty = tmp_path / "acme-dbtools_1.2.3_all.deb"
    empty.write_bytes(b"")
    out = refused_run(
        run_playbook, tmp_path, build_cache_dir, [dict(CONTAINER_ENTRY, datastore_pkg_location=str(empty))]
    )
    assert f"{empty} is empty" in out


def test_mismatching_sha256_pin_refused_before_build(run_playbook, tmp_path, build_cache_dir):
    deb = build_deb(str(tmp_path / "pkgs"))
    wrong = "0" * 64
    entry = dict(
        CONTAINER_ENTRY,
        datastore_pkg_location=str(tmp_path / "pkgs"),
        datastore_pkg_sha256={os.path.basename(deb): wrong},
    )
    out = refused_run(run_playbook, tmp_path, build_cache_dir, [entry])
    assert f"sha256 of {deb} is {sha256(deb)}" in out
    assert wrong in out


def test_environment_location_is_checked_before_build(run_playbook, tmp_path, build_cache_dir):
    missing = str(tmp_path / "licensed-from-env")
    out = refused_run(
        run_playbook,
        tmp_path,
        build_cache_dir,
        [CONTAINER_ENTRY],
        env_extra={"DATASTORE_PKG_LOCATION": missing},
    )
    assert f"datastore_layer_pkg_location: {missing} does not exist" in out


def test_mismatching_sha256_pin_names_the_real_pin_key(run_playbook, tmp_path, build_cache_dir):
    deb = build_deb(str(tmp_path / "pkgs"))
    entry = dict(CONTAINER_ENTRY, name="pinned", datastore_pkg_location=deb,
                 datastore_pkg_sha256={os.path.basename(deb): "0" * 64})
    out = refused_run(run_playbook, tmp_path, build_cache_dir, [entry])
    assert f"but build_guest_images entry 'pinned': datastore_pkg_sha256 pins {'0' * 64}" in out
    assert "location_sha256" not in out


def test_a_deb_that_is_not_a_debian_package_is_refused_before_build(run_playbook, tmp_path, build_cache_dir):
    # A download that saved an error page under the package's name.
    fake = tmp_path / "acme-dbtools_1.2.3_all.deb"
    fake.write_text("<html><body>404 Not Found</body></html>\n")
    entry = dict(CONTAINER_ENTRY, name="fake", datastore_pkg_location=str(fake))
    out = refused_run(run_playbook, tmp_path, build_cache_dir, [entry])
    assert f"build_guest_images entry 'fake': datastore_pkg_location: {fake} is not a Debian package: dpkg-deb" in out
    assert "replace it with the real .deb" in out
    # The report says why nothing was built.
    report = json.loads((tmp_path / "out" / "build-report.json").read_text())
    (row,) = report["images"]
    assert (row["name"], row["status"]) == ("fake", "failed")
    assert row["reason"].startswith("compose failed: ") and "is not a Debian package" in row["error"]
    markdown = (tmp_path / "out" / "build-report.md").read_text()
    assert "| fake | localhost | failed | compose failed: " in markdown


def test_unsupported_combination_refused_with_supported_list(run_playbook, tmp_path, build_cache_dir):
    entry = dict(CONTAINER_ENTRY, mode="package")
    out = refused_run(run_playbook, tmp_path, build_cache_dir, [entry])
    assert "datastore 'mysql' is not supported in package mode on debian 12; supported: mariadb, postgresql" in out


def test_bad_selection_refused(run_playbook, tmp_path, build_cache_dir):
    out = refused_run(run_playbook, tmp_path, build_cache_dir, [CONTAINER_ENTRY], build_guest_select="[?mode==")
    assert "build_guest_select: '[?mode==' is not a valid JMESPath expression" in out


# ---------------------------------------------------------------------------
# The test inputs are real: podman loads the tarball, dpkg reads the .deb
# ---------------------------------------------------------------------------


def test_container_tarball_loads_into_a_real_engine(tmp_path):
    tarball = build_image_tarball(str(tmp_path / "images"))
    podman = shutil.which("podman")
    assert podman, "podman is needed (bindep.txt, test profile)"
    # podman refuses a runroot path longer than 50 characters.
    runroot = tempfile.mkdtemp(prefix="podman-")
    store = ["--root", str(tmp_path / "storage"), "--runroot", runroot, "--storage-driver", "vfs"]
    try:
        load = subprocess.run(
            [podman, *store, "load", "--input", tarball["path"]], capture_output=True, text=True, check=False
        )
        assert load.returncode == 0, load.stderr
        assert "dbaas-test/datastore:1.0" in load.stdout + load.stderr
        images = subprocess.run(
            [podman, *store, "images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(runroot, ignore_errors=True)
    image_id = tarball["image_id"].split(":", 1)[1]
    assert re.search(rf"^(sha256:)?{image_id} \S*dbaas-test/datastore:1.0$", images, re.M), images


PRELOAD_SCRIPT = (
    pathlib.Path(__file__).resolve().parents[2]
    / "roles/datastore_layer/files/elements/dbaas-datastore-container/install.d/dbaas-datastore-container/preload"
)


@pytest.fixture
def podman_as_docker(tmp_path):
    """A PATH folder where ``docker`` is podman on a private vfs store and
    ``systemctl`` records its arguments (the unit's self-disable)."""
    podman = shutil.which("podman")
    assert podman, "podman is needed (bindep.txt, test profile)"
    runroot = tempfile.mkdtemp(prefix="podman-")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = f"--root {tmp_path / 'storage'} --runroot {runroot} --storage-driver vfs"
    (bindir / "docker").write_text(f'#!/bin/sh\nexec {podman} {store} "$@"\n')
    (bindir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "systemctl.calls"}\n')
    for tool in ("docker", "systemctl"):
        (bindir / tool).chmod(0o755)
    env = dict(os.environ, PATH=f"{bindir}{os.pathsep}{os.environ['PATH']}")
    try:
        yield env, tmp_path / "systemctl.calls"
    finally:
        shutil.rmtree(runroot, ignore_errors=True)


def test_first_boot_preload_loads_deletes_and_disables(tmp_path, podman_as_docker):
    env, calls = podman_as_docker
    store = tmp_path / "container-images"
    tarball = build_image_tarball(str(store))
    env["DBAAS_CONTAINER_IMAGE_STORE"] = str(store)
    result = subprocess.run([str(PRELOAD_SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "dbaas-container-preload: done in" in result.stdout
    assert not store.exists(), "the tarballs (and their folder) must be gone once loaded"
    assert calls.read_text().split() == ["disable", "dbaas-container-preload.service"]
    images = subprocess.run(
        ["docker", "images", "--format", "{{.Repository}}:{{.Tag}}"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "dbaas-test/datastore:1.0" in images
    assert tarball["repo_tag"] == "dbaas-test/datastore:1.0"


def test_first_boot_preload_keeps_a_bad_tarball_for_the_next_boot(tmp_path, podman_as_docker):
    env, calls = podman_as_docker
    store = tmp_path / "container-images"
    good = build_image_tarball(str(store))
    bad = store / "broken.tar"
    bad.write_bytes(b"not a tarball")
    env["DBAAS_CONTAINER_IMAGE_STORE"] = str(store)
    result = subprocess.run([str(PRELOAD_SCRIPT)], env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert "could not load" in result.stderr and "broken.tar" in result.stderr
    assert bad.exists(), "a tarball that did not load must stay for the next boot"
    assert not os.path.exists(good["path"]), "a loaded tarball must be deleted"
    assert not calls.exists(), "the unit must stay enabled while a tarball is left"


def test_fake_deb_is_a_real_package(tmp_path):
    deb = build_deb(str(tmp_path))
    info = subprocess.run(["dpkg-deb", "--info", deb], capture_output=True, text=True, check=True).stdout
    assert "Package: acme-dbtools" in info
    assert "Depends: jq" in info
    contents = subprocess.run(["dpkg-deb", "--contents", deb], capture_output=True, text=True, check=True).stdout
    assert "." + ACME_FILE in contents
    assert "." + ACME_SCRIPT in contents


# ---------------------------------------------------------------------------
# The built images, inspected offline
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def container_root(trove_images):
    with mounted_root(trove_images.container.qcow2) as root:
        yield root


@pytest.fixture(scope="module")
def package_root(trove_images):
    with mounted_root(trove_images.package.qcow2) as root:
        yield root


def dpkg_installed(root: pathlib.Path) -> dict:
    """``{package: version}`` of installed packages, from the image's dpkg status."""
    installed = {}
    text = (root / "var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", stanza, re.M))
        if fields.get("Status") == "install ok installed":
            installed[fields["Package"]] = fields.get("Version", "")
    return installed


def enabled_links(root: pathlib.Path, unit: str) -> list:
    """Symlinks in ``/etc/systemd/system/*.wants/`` that enable ``unit``.

    Listed by hand: the links are absolute, so from the host they dangle and
    pathlib's glob would skip them.
    """
    etc = root / "etc/systemd/system"
    found = []
    for wants in sorted(os.listdir(etc)):
        link = etc / wants / unit
        if wants.endswith(".wants") and os.path.islink(link):
            found.append(f"etc/systemd/system/{wants}/{unit}")
    return found


def dpkg_owned_files(root: pathlib.Path) -> set:
    """Paths (relative, no leading /) that installed packages own."""
    owned = set()
    for listing in (root / "var/lib/dpkg/info").glob("*.list"):
        for line in listing.read_text(encoding="utf-8", errors="replace").splitlines():
            owned.add(line.lstrip("/"))
    return owned


def all_files(root: pathlib.Path):
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if rel.split(os.sep)[0] in ("proc", "sys", "dev"):
            dirnames[:] = []
            continue
        for name in filenames:
            yield os.path.join(rel, name)


def group_members(root: pathlib.Path, group: str) -> list:
    for line in (root / "etc/group").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == group:
            return [m for m in fields[3].split(",") if m]
    return []


def uid_of(root: pathlib.Path, user: str) -> int:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == user:
            return int(fields[2])
    raise AssertionError(f"no user {user} in the image")


def chroot(root: pathlib.Path, *argv) -> subprocess.CompletedProcess:
    return subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, timeout=300, check=False)


def test_report_rows_match_the_files(trove_images):
    for image in (trove_images.container, trove_images.package):
        row = image.report_entry
        assert row["status"] in ("built", "reused"), row
        qcow2 = [o for o in row["outputs"] if o["format"] == "qcow2"]
        assert len(qcow2) == 1, row
        assert qcow2[0]["sha256"] == sha256(image.qcow2)


@pytest.mark.parametrize("which", ["container", "package"])
def test_guest_agent_installed_enabled_and_importable(request, which):
    root = request.getfixturevalue(f"{which}_root")
    python = root / AGENT_VENV / "bin/python"
    assert python.exists(), f"no guest agent venv at /{AGENT_VENV}"
    # The image's own Python imports the agent (read-only root: no bytecode is written).
    result = chroot(root, f"/{AGENT_VENV}/bin/python", "-B", "-c", "import trove.guestagent, trove.cmd.guest")
    assert result.returncode == 0, result.stderr
    assert enabled_links(root, "guest-agent.service"), "guest-agent.service is not enabled"


def test_container_image_has_enabled_engine_and_staged_tarball(container_root, trove_images):
    root = container_root
    installed = dpkg_installed(root)
    assert "docker.io" in installed
    assert enabled_links(root, "docker.service"), "docker.service is not enabled"
    assert "trove" in group_members(root, "docker"), "the guest agent user cannot reach the docker socket"
    assert "mariadb-server" not in installed and "mysql-server" not in installed

    store = root / PRELOAD_STORE
    assert stat.S_IMODE(store.stat().st_mode) == 0o700
    staged = store / os.path.basename(trove_images.inputs.tarball["path"])
    assert sha256(staged) == sha256(trove_images.inputs.tarball["path"])
    assert read_archive(str(staged))["repo_tags"] == ["dbaas-test/datastore:1.0"]

    unit = (root / "etc/systemd/system/dbaas-container-preload.service").read_text()
    assert "Before=guest-agent.service" in unit and "After=docker.service" in unit
    assert enabled_links(root, "dbaas-container-preload.service")
    assert os.access(root / "usr/local/libexec/dbaas-container-preload", os.X_OK)
    conf = (root / "etc/dbaas/datastore.conf").read_text()
    assert "DBAAS_MODE=container" in conf and "DBAAS_DATASTORE=mysql" in conf


def test_package_image_has_disabled_server_and_prepared_data_dir(package_root):
    root = package_root
    installed = dpkg_installed(root)
    assert installed.get("mariadb-server", "").startswith("1:10.11"), installed.get("mariadb-server")
    assert (root / "usr/lib/systemd/system/mariadb.service").exists() or (
        root / "lib/systemd/system/mariadb.service"
    ).exists()
    for name in ("mariadb.service", "mysql.service", "mysqld.service"):
        assert enabled_links(root, name) == [], f"{name} is enabled; the guest agent must start the database"
    data = root / "var/lib/mysql"
    assert data.is_dir()
    assert data.stat().st_uid == uid_of(root, "mysql")
    assert stat.S_IMODE(data.stat().st_mode) == 0o750
    assert "docker.io" not in installed
    conf = (root / "etc/dbaas/datastore.conf").read_text()
    assert "DBAAS_MODE=package" in conf and "DBAAS_DATASTORE_SERVICE=mariadb" in conf


def test_licensed_package_installed_with_its_dependencies(package_root, trove_images):
    root = package_root
    installed = dpkg_installed(root)
    assert installed.get("acme-dbtools") == "1.2.3"
    # Its dependency (and the dependency's own) came from the Debian archive.
    assert "jq" in installed and "libjq1" in installed
    assert (root / ACME_FILE.lstrip("/")).is_file()
    # The package works in the image: its script runs jq from the dependency.
    result = chroot(root, ACME_SCRIPT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "acme-dbtools"
    record = (root / "etc/dbaas/licensed-packages").read_text().split()
    assert record == ["acme-dbtools", "1.2.3", trove_images.inputs.deb_sha256]


@pytest.mark.parametrize("which", ["container", "package"])
def test_nothing_of_the_build_left_behind(request, which):
    root = request.getfixturevalue(f"{which}_root")
    owned = dpkg_owned_files(root)
    # Files the distribution's own packages ship (e.g. python3-pip-whl) are fine.
    files = [f for f in all_files(root) if f not in owned]
    debs = [f for f in files if f.endswith(".deb")]
    assert debs == [], f"package files left in the image: {debs}"
    wheels = [f for f in files if f.endswith(".whl") or f.endswith("wheelhouse.json")]
    assert wheels == [], f"wheelhouse files left in the image: {wheels}"
    assert not (root / "tmp/in_target.d").exists()
    assert not (root / "root/.cache/pip").exists()
    build_ca = [f for f in files if "dbaas-build-ca" in f]
    assert build_ca == [], f"build-time CA certificates left in the image: {build_ca}"
    if which == "package":
        assert not (root / PRELOAD_STORE).exists()
