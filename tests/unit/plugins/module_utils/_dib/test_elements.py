# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Element lookup and dependency expansion, the way DIB does it."""

import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import elements as el


def element(root, name, deps=(), provides=()):
    path = os.path.join(root, name)
    os.makedirs(path, exist_ok=True)
    if deps:
        with open(os.path.join(path, "element-deps"), "w") as handle:
            handle.write("\n".join(deps) + "\n\n")
    if provides:
        with open(os.path.join(path, "element-provides"), "w") as handle:
            handle.write("\n".join(provides) + "\n")
    return path


@pytest.fixture
def paths(tmp_path):
    dib = str(tmp_path / "dib")
    mine = str(tmp_path / "mine")
    element(dib, "base", deps=["install-types"])
    element(dib, "install-types")
    element(dib, "debian-minimal", deps=["debootstrap", "package-installs"], provides=["operating-system"])
    element(dib, "debootstrap", deps=["package-installs"])
    element(dib, "package-installs")
    element(dib, "vm", deps=["bootloader"])
    element(dib, "bootloader")
    element(mine, "trove-guest", deps=["operating-system", "pip-wheels"])
    element(mine, "pip-wheels")
    element(mine, "vm")  # overrides DIB's vm: no deps
    os.makedirs(os.path.join(mine, "__pycache__"))
    return [mine, dib]


def test_earlier_path_wins(paths):
    found = el.find_all_elements(paths)
    assert found["vm"] == os.path.realpath(os.path.join(paths[0], "vm"))
    assert "__pycache__" not in found


def test_resolve_expands_deps_and_skips_provided(paths):
    resolved = el.resolve_elements(["base", "debian-minimal", "trove-guest", "vm"], paths)
    assert list(resolved)[:4] == ["base", "debian-minimal", "trove-guest", "vm"]
    assert set(resolved) == {
        "base", "install-types", "debian-minimal", "debootstrap", "package-installs", "trove-guest", "pip-wheels", "vm",
    }
    # our vm hides DIB's, so DIB's bootloader dependency is not pulled in
    assert "bootloader" not in resolved
    assert "operating-system" not in resolved


def test_missing_dependency_names_its_parent(paths, tmp_path):
    element(paths[0], "broken", deps=["no-such-thing"])
    with pytest.raises(el.ElementError, match="'no-such-thing' \\(a dependency of 'broken'\\)"):
        el.resolve_elements(["broken"], paths)


def test_missing_elements(paths):
    assert el.missing_elements(["vm", "operating-system", "nope"], paths) == ["nope"]


def test_missing_path_is_an_error(tmp_path):
    with pytest.raises(el.ElementError, match="is not a directory"):
        el.find_all_elements([str(tmp_path / "absent")])


def test_dib_elements_dir_from_venv_layout(tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    elements = venv / "lib" / "python3.11" / "site-packages" / "diskimage_builder" / "elements"
    elements.mkdir(parents=True)
    script = venv / "bin" / "disk-image-create"
    script.write_text("#!/bin/sh\n")
    assert el.dib_elements_dir(str(script)) == str(elements)


def test_dib_elements_dir_asks_the_interpreter(tmp_path):
    """Layouts without lib/pythonX.Y: the script's interpreter knows where the package is."""
    pkg = tmp_path / "site" / "diskimage_builder"
    (pkg / "elements").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "paths.py").write_text(
        "import os\n\ndef get_path(what):\n    return os.path.join(os.path.dirname(__file__), what)\n"
    )
    wrapper = tmp_path / "python-wrapper"
    wrapper.write_text('#!/bin/sh\nPYTHONPATH=%s exec python3 "$@"\n' % (tmp_path / "site"))
    wrapper.chmod(0o755)
    script = tmp_path / "opt" / "bin" / "disk-image-create"
    script.parent.mkdir(parents=True)
    script.write_text(f"#!{wrapper}\n")
    assert el.dib_elements_dir(str(script)) == str(pkg / "elements")


def test_dib_defaults_add_base_and_a_partition_layout_for_vm():
    assert el.with_dib_defaults(["debian-minimal", "vm"]) == ["base", "debian-minimal", "vm", "block-device-mbr"]
    assert el.with_dib_defaults(["vm"], arch="arm64")[-1] == "block-device-efi"


def test_dib_defaults_keep_an_explicit_layout_and_leave_non_vm_images_alone():
    assert el.with_dib_defaults(["vm", "block-device-gpt"]) == ["base", "vm", "block-device-gpt"]
    assert el.with_dib_defaults(["base", "debian-minimal"]) == ["base", "debian-minimal"]
