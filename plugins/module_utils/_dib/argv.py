# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``disk-image-create`` command line and environment for one build.

PRIVATE to the collection: no compatibility promise outside it.

Everything is passed explicitly: an argv list (never a shell string) and a
complete environment dict, so the build does not depend on what happens to
be exported in the calling process.
"""

from __future__ import annotations

import os

# DIB image types and the file each one leaves next to ``-o <base>``.
# ``docker`` is not listed: it imports into a docker daemon and leaves no file.
FORMAT_SUFFIX = {
    "qcow2": "qcow2",
    "raw": "raw",
    "vhd": "vhd",
    "vdi": "vdi",
    "vmdk": "vmdk",
    "qed": "qed",
    "tar": "tar",
    "tgz": "tgz",
    "squashfs": "squash",
    "aci": "aci",
}

# Host variables DIB and its tools need; anything else must be asked for.
_PASSTHROUGH = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "http_proxy", "https_proxy", "no_proxy",
                "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "SUDO_USER")
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def output_path(dest: str, name: str, fmt: str) -> str:
    return os.path.join(dest, f"{name}.{FORMAT_SUFFIX[fmt]}")


def build_argv(
    dib_command: str,
    *,
    out_base: str,
    formats: list[str],
    elements: list[str],
    logfile: str,
    size: int | None = None,
    arch: str = "amd64",
    packages: list[str] | None = None,
    compress: bool = True,
) -> list[str]:
    argv = [dib_command, "-o", out_base, "-t", ",".join(formats), "-a", arch, "--logfile", logfile]
    if not compress and "qcow2" in formats:
        # DIB compresses qcow2 by default; -u leaves it uncompressed.
        argv.append("-u")
    if size:
        argv += ["--image-size", str(size)]
    if packages:
        argv += ["-p", ",".join(packages)]
    # "--" so an element name can never be read as an option.
    argv += ["--"] + list(elements)
    return argv


def build_environment(
    *,
    dib_command: str,
    element_paths: list[str],
    environment: dict[str, str],
    inputs: dict[str, str],
    tmp_dir: str,
    cache_dir: str | None = None,
    host_env: dict[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment of the DIB process.

    Order of precedence (later wins): a few host basics, the user's
    ``environment``, then what the module itself owns: the ``inputs``
    variables, ``ELEMENTS_PATH``, ``DIB_IMAGE_CACHE``, the temp folders,
    and ``PATH`` with the DIB venv's ``bin`` first.
    """
    host_env = dict(os.environ) if host_env is None else host_env
    env = {key: host_env[key] for key in _PASSTHROUGH if key in host_env}
    env.update(environment)
    env.update(inputs)
    if element_paths:
        env["ELEMENTS_PATH"] = ":".join(element_paths)
    else:
        env.pop("ELEMENTS_PATH", None)
    if cache_dir:
        env["DIB_IMAGE_CACHE"] = cache_dir
    # DIB makes its build folders under TMP_DIR (mktemp --tmpdir) and mounts
    # tmpfs there; TMPDIR covers every other tool.  Both point at a folder
    # this build owns, so cleanup finds everything it left behind.
    env["TMP_DIR"] = tmp_dir
    env["TMPDIR"] = tmp_dir
    venv_bin = os.path.dirname(os.path.abspath(dib_command))
    path = [venv_bin] + [p for p in host_env.get("PATH", _DEFAULT_PATH).split(os.pathsep) if p and p != venv_bin]
    for sbin in ("/usr/local/sbin", "/usr/sbin", "/sbin"):
        if sbin not in path:
            path.append(sbin)
    env["PATH"] = os.pathsep.join(path)
    return env
