# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection tarball builds, installs offline and its plugins load from the install."""

import os
import pathlib
import subprocess
import sys
import tarfile

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent


def _run(argv, **kwargs):
    return subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="module")
def installed_collection(tmp_path_factory):
    work = tmp_path_factory.mktemp("collection")
    built = _run([str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(work), str(REPO)])
    assert built.returncode == 0, built.stdout + built.stderr
    tarballs = list(work.glob("dbaas-guest_images-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    dest = work / "installed"
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(dest))
    env.pop("ANSIBLE_CONFIG", None)
    installed = _run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-p", str(dest), str(tarballs[0])],
        env=env,
        cwd=str(work),
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    return tarballs[0], dest, env, work


def test_tarball_carries_the_pipeline_and_no_build_junk(installed_collection):
    tarball, _dest, _env, _work = installed_collection
    with tarfile.open(tarball) as tar:
        names = set(tar.getnames())
    for wanted in (
        "galaxy.yml" if "galaxy.yml" in names else "MANIFEST.json",
        "meta/runtime.yml",
        "plugins/modules/dib_image.py",
        "plugins/action/dib_image.py",
        "roles/build_host/meta/argument_specs.yml",
        "playbooks/build_guest.yml",
    ):
        assert wanted in names, f"{wanted} missing from {tarball.name}"
    assert not [n for n in names if n.startswith((".venv", "output/", ".git/"))]


def test_installed_collection_documents_its_modules(installed_collection):
    _tarball, _dest, env, work = installed_collection
    docs = _run([str(BIN / "ansible-doc"), "-t", "module", "dbaas.guest_images.dib_image"], env=env, cwd=str(work))
    assert docs.returncode == 0, docs.stderr
    assert "disk-image-create" in docs.stdout
    listing = _run([str(BIN / "ansible-doc"), "-l", "dbaas.guest_images"], env=env, cwd=str(work))
    assert listing.returncode == 0, listing.stderr
    assert "dbaas.guest_images.dib_image" in listing.stdout


def test_installed_playbook_is_addressable_by_fqcn(installed_collection):
    _tarball, _dest, env, work = installed_collection
    listed = _run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "dbaas.guest_images.build_guest"],
        env=env,
        cwd=str(work),
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
