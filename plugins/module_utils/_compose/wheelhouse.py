# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest agent wheelhouse on the build host: its request, cache key, build and offline check.

PRIVATE to the collection: no compatibility promise outside it.

One wheelhouse holds trove (pinned, or from a source tree) and all its
dependencies as wheels for the guest's Python, in
``<cache>/wheelhouse/trove-<version>-cp<XY>``. It is built into a
``.partial`` folder and renamed when complete (``wheelhouse.json`` written
last inside it), so a failed build never looks like a cache hit.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose import releases

# (argv) -> (rc, stdout, stderr), e.g. AnsibleModule.run_command.
Runner = Callable[[list[str]], tuple[int, str, str]]

MANIFEST = "wheelhouse.json"
PACKAGE_SUFFIXES = (".whl", ".tar.gz", ".zip")
CACHE_SUBDIR = "dbaas-guest-images"


def argument_spec() -> dict[str, Any]:
    """The options of ``dbaas.guest_images.guest_agent_wheelhouse``."""
    return {
        "os": {"type": "str", "required": True},
        "release": {"type": "str", "required": True},
        "agent_version": {"type": "str", "default": ""},
        "agent_source": {"type": "path", "default": ""},
        "constraints": {"type": "path", "default": ""},
        "pip_args": {"type": "list", "elements": "str", "default": []},
        "python": {"type": "str", "default": ""},
        "cache_dir": {"type": "path", "default": ""},
    }


class WheelhouseError(Exception):
    """The wheelhouse cannot be made; the message says why and what to do."""

    def __init__(self, msg: str, **detail: Any) -> None:
        super().__init__(msg)
        self.detail = detail


def default_cache_dir(environ: Mapping[str, str] | None = None) -> str:
    """``${XDG_CACHE_HOME:-~/.cache}/dbaas-guest-images`` of the user the module runs as."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, CACHE_SUBDIR)


@dataclass(frozen=True)
class WheelhouseRequest:
    """The module's options, read once; the guest release resolved against the release table."""

    os: str
    release: str
    python_version: str
    glibc: str
    tag: str
    agent_version: str
    agent_source: str
    constraints: str
    pip_args: tuple[str, ...]
    python: str
    cache_dir: str
    path: str = field(init=False)

    def __post_init__(self) -> None:
        version = "dev" if self.agent_source else self.agent_version
        object.__setattr__(self, "path", os.path.join(self.cache_dir, "wheelhouse", f"trove-{version}-{self.tag}"))

    @classmethod
    def from_params(cls, params: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> WheelhouseRequest:
        try:
            row = releases.guest_release(
                params["os"], params["release"], params["agent_version"], where="os/release"
            )
        except releases.GuestOSError as exc:
            raise WheelhouseError(str(exc)) from None
        return cls(
            os=row["os"],
            release=row["release"],
            python_version=row["python"],
            glibc=row["glibc"],
            tag=row["tag"],
            agent_version=row["agent_version"],
            agent_source=params["agent_source"] or "",
            constraints=params["constraints"] or "",
            pip_args=tuple(str(a) for a in params["pip_args"] or ()),
            python=params["python"] or "",
            cache_dir=params["cache_dir"] or default_cache_dir(environ),
        )

    @property
    def requirement(self) -> str:
        return self.agent_source or f"trove=={self.agent_version}"

    @property
    def partial(self) -> str:
        return self.path + ".partial"

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.path, MANIFEST)

    def builder_venv(self, matching: bool) -> str:
        return os.path.join(self.cache_dir, "wheelhouse", ".builder-" + (self.tag if matching else "host"))


def cached(request: WheelhouseRequest) -> dict[str, Any] | None:
    """The manifest of a complete cached wheelhouse that can be reused, else None.

    A source tree is rebuilt on every run (its contents are not versioned).
    """
    if request.agent_source or not os.path.isfile(request.manifest_path):
        return None
    try:
        with open(request.manifest_path, encoding="utf-8") as handle:
            manifest = json.load(handle)
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def find_interpreters(request: WheelhouseRequest, run: Runner) -> tuple[str, str]:
    """``(builder, any_python)``: an interpreter of the guest's X.Y ('' if none) and one to fetch with."""
    candidates = [request.python] if request.python else [f"python{request.python_version}", "python3"]
    builder = ""
    found = ""
    for candidate in candidates:
        if shutil.which(candidate) is None:
            continue
        rc, out, _err = run([candidate, "-c", 'import sys; print("%d.%d" % sys.version_info[:2])'])
        if rc != 0:
            continue
        found = found or candidate
        if out.strip() == request.python_version and not builder:
            builder = candidate
    if request.python and not builder:
        raise WheelhouseError(
            f"python={request.python} is not Python {request.python_version} (the Python of {request.os}"
            f" {request.release}): wheels built from source with it would not load in the guest."
            f" Point it at a python{request.python_version}."
        )
    return builder, found or "python3"


def _pip_tail(request: WheelhouseRequest) -> list[str]:
    argv = list(request.pip_args)
    if request.constraints:
        argv += ["--constraint", request.constraints]
    return argv + [request.requirement]


def _last_lines(text: str, count: int = 3) -> str:
    return " / ".join(text.strip().splitlines()[-count:])


def _reset(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def check_offline(folder: str) -> list[str]:
    """The wheel names of ``folder``; refuse unless it holds exactly one trove wheel and only wheels."""
    files = sorted((n for n in os.listdir(folder) if n.endswith(PACKAGE_SUFFIXES)), key=str)
    troves = [n for n in files if n.startswith("trove-") and n.endswith(".whl")]
    others = [n for n in files if not n.endswith(".whl")]
    if len(troves) != 1 or others:
        raise WheelhouseError(
            f"The wheelhouse {folder} is not installable offline: it needs exactly one trove wheel and only"
            f" wheels; found {files}",
            found=files,
        )
    return files


def build(request: WheelhouseRequest, run: Runner) -> dict[str, Any]:
    """Build the wheelhouse into ``<path>.partial``, check it, write the manifest, rename it into place."""
    if request.agent_source and not os.path.isdir(request.agent_source):
        raise WheelhouseError(
            f"agent_source={request.agent_source} is not a folder on the build host (a trove source tree)"
        )
    builder, any_python = find_interpreters(request, run)
    _reset(request.partial)
    os.makedirs(request.partial, mode=0o755)

    venv = request.builder_venv(matching=bool(builder))
    pip = os.path.join(venv, "bin", "pip")
    if not os.path.exists(pip):
        rc, out, err = run([builder or any_python, "-m", "venv", venv])
        if rc != 0:
            raise WheelhouseError(
                f"Could not make the builder venv {venv} with {builder or any_python}: {_last_lines(err or out)};"
                " install the venv module of that Python (Debian: python3-venv)",
                rc=rc, stderr=err,
            )
    if builder:
        argv = [pip, "wheel", "--disable-pip-version-check", "--wheel-dir", request.partial] + _pip_tail(request)
        rc, out, err = run(argv)
        if rc != 0:
            raise WheelhouseError(
                f"pip wheel of {request.requirement} for Python {request.python_version} failed (rc {rc}):"
                f" {_last_lines(err or out)}",
                rc=rc, cmd=argv, stdout=out, stderr=err,
            )
    else:
        platform = "manylinux_{}_x86_64".format(request.glibc.replace(".", "_"))
        argv = [
            pip, "download", "--disable-pip-version-check", "--only-binary=:all:",
            "--python-version", request.python_version, "--implementation", "cp", "--abi", request.tag,
            "--platform", platform, "--dest", request.partial,
        ] + _pip_tail(request)
        rc, out, err = run(argv)
        if rc != 0:
            raise WheelhouseError(
                f"The guest agent wheelhouse for {request.os} {request.release} needs Python"
                f" {request.python_version}: the build host has no python{request.python_version}, and fetching"
                f" only binary wheels for it failed (some dependency is published as source only, or"
                f" {request.requirement} does not support Python {request.python_version}). Install"
                f" python{request.python_version} (with venv) on the build host or set the interpreter"
                f" (python, role variable os_layer_wheelhouse_python). pip said: {_last_lines(err)}",
                rc=rc, cmd=argv, stdout=out, stderr=err,
            )

    wheels = check_offline(request.partial)
    manifest = {
        "requirement": "trove" if request.agent_source else request.requirement,
        "agent_version": "dev" if request.agent_source else request.agent_version,
        "python": request.python_version,
        "python_tag": request.tag,
        "built_with": builder or "binary wheels only",
        "wheels": wheels,
    }
    with open(os.path.join(request.partial, MANIFEST), "w", encoding="utf-8") as handle:
        handle.write(json.dumps(manifest, indent=4, sort_keys=True) + "\n")
    os.chmod(os.path.join(request.partial, MANIFEST), 0o644)
    _reset(request.path)
    os.rename(request.partial, request.path)
    return manifest


def ensure(request: WheelhouseRequest, run: Runner, check_mode: bool) -> dict[str, Any]:
    """The module's result: reuse a complete cached wheelhouse, predict a build (check mode), or build."""
    result: dict[str, Any] = {
        "path": request.path,
        "name": os.path.basename(request.path),
        "python": request.python_version,
        "python_tag": request.tag,
        "agent_version": "dev" if request.agent_source else request.agent_version,
        "cache_dir": request.cache_dir,
    }
    manifest = cached(request)
    if manifest is not None:
        result.update(changed=False, built=False, manifest=manifest, msg=f"reused {request.path}")
        return result
    if check_mode:
        result.update(changed=True, built=False, manifest={}, msg=f"would build {request.path}")
        return result
    manifest = build(request, run)
    result.update(changed=True, built=True, manifest=manifest, msg=f"built {request.path}")
    return result


def run_argv(runner: Callable[..., tuple[int, str, str]]) -> Runner:
    """Adapt ``AnsibleModule.run_command`` to a Runner (argument lists, never a shell)."""

    def run(argv: Sequence[str]) -> tuple[int, str, str]:
        rc, out, err = runner(list(argv))
        return int(rc), str(out), str(err)

    return run
