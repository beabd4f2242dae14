# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shipping controller files to the build host for ``dbaas.guest_images.dib_image``.

PRIVATE to the collection, controller only: no compatibility promise outside it.

``element_paths`` and ``inputs`` that exist on the controller are copied to
the build host, into ``~/.cache/dbaas-guest-images/stage/<content sha256>/<name>``,
and the module is called with those remote paths.  A folder whose content
did not change is not copied again (the staging folder is named by its
content hash, and marked complete only once fully unpacked).
"""

from __future__ import annotations

import os
import secrets
import shlex
import tarfile
import tempfile
from typing import Any

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.utils.display import Display

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.fingerprint import tree_sha256

display = Display()

STAGE_ROOT = "~/.cache/dbaas-guest-images/stage"


def pack(local_path: str, archive_path: str) -> None:
    """tar.gz of a file or folder under its own base name; modes and symlinks kept as they are."""
    with tarfile.open(archive_path, "w:gz") as archive:
        archive.add(local_path, arcname=os.path.basename(local_path.rstrip(os.sep)), recursive=True)


def stage_command(archive: str, stage_dir: str) -> str:
    """Shell command that unpacks ``archive`` into ``stage_dir`` atomically and marks it complete."""
    part = f"{stage_dir}.part-{secrets.token_hex(4)}"
    return " && ".join(
        [
            f"mkdir -p {shlex.quote(part)}",
            f"tar -xzf {shlex.quote(archive)} -C {shlex.quote(part)}",
            f"touch {shlex.quote(part + '/.complete')}",
            f"rm -rf {shlex.quote(stage_dir)}",
            f"mv {shlex.quote(part)} {shlex.quote(stage_dir)}",
        ]
    )


def controller_path(loader: Any, path: str) -> str | None:
    """The controller-side path for ``path`` (relative ones as the play resolves them), or None when absent."""
    if not path:
        return None
    candidate = os.path.expanduser(path)
    if not os.path.isabs(candidate):
        candidate = loader.path_dwim(candidate)
    return candidate if os.path.exists(candidate) else None


def remote_home_path(action: Any, path: str) -> str:
    """Expand ``~`` the way the module's own process will see it (the become user's ``$HOME``)."""
    result = action._low_level_execute_command('echo "$HOME"', sudoable=True)
    home = to_text(result.get("stdout", "")).strip().splitlines()
    if result.get("rc") != 0 or not home or not home[-1].startswith("/"):
        raise AnsibleError("dib_image: cannot find the home folder on the build host to stage files in")
    return str(home[-1].rstrip("/") + path[1:])


class Stager:
    """Stages the controller files of one task through the action plugin's connection."""

    def __init__(self, action: Any):
        self._action = action
        self._shell = action._connection._shell

    def _remote_ok(self, command: str) -> bool:
        return bool(self._action._low_level_execute_command(command, sudoable=True).get("rc") == 0)

    def stage(self, path: str, stage_root: str) -> str:
        """The build-host path of ``path``: staged when it is a controller path, else unchanged."""
        local = controller_path(self._action._loader, path)
        if local is None:
            return path  # already a build-host path; the module validates it
        digest = tree_sha256(local)
        stage_dir = self._shell.join_path(stage_root, digest)
        remote_path = str(self._shell.join_path(stage_dir, os.path.basename(local.rstrip(os.sep))))
        if self._remote_ok("test -e {}".format(shlex.quote(stage_dir + "/.complete"))):
            display.vv(f"dib_image: {local} already staged at {remote_path}")
            return remote_path
        display.v(f"dib_image: shipping {local} to {remote_path}")
        if not self._shell.tmpdir:
            self._action._make_tmp_path()
        remote_archive = self._shell.join_path(self._shell.tmpdir, f"stage-{digest}.tar.gz")
        fd, local_archive = tempfile.mkstemp(suffix=".tar.gz")
        os.close(fd)
        try:
            pack(local, local_archive)
            self._action._transfer_file(local_archive, remote_archive)
            self._action._fixup_perms2([remote_archive], execute=False)
        finally:
            os.unlink(local_archive)
        result = self._action._low_level_execute_command(stage_command(remote_archive, stage_dir), sudoable=True)
        if result.get("rc") != 0:
            raise AnsibleError("dib_image: could not stage {} on the build host at {}: {}".format(
                local, stage_dir, to_text(result.get("stderr") or result.get("stdout")).strip()))
        return remote_path

    def ship(self, args: dict[str, Any]) -> dict[str, Any]:
        """``args`` with controller ``element_paths`` and ``inputs`` replaced by their staged copies."""
        stage_root = remote_home_path(self._action, STAGE_ROOT)
        args = dict(args)
        if args.get("element_paths"):
            args["element_paths"] = [self.stage(p, stage_root) for p in args["element_paths"]]
        if args.get("inputs"):
            args["inputs"] = {var: self.stage(p, stage_root) for var, p in args["inputs"].items()}
        return args
