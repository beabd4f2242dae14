# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``dbaas.guest_images.dib_images``: several dib_image builds on one host, some at once.

Every build is checked on the controller first (:mod:`module_utils._dib.batch`);
then each build's files are shipped, and
:meth:`plugin_utils._dib_progress.ModuleRun.execute_many` asks all builds in
one check-mode run of the module of the same name (unchanged images and bad
input answered at once), and runs each build that must run as a ``dib_image``
job, started into a free build slot, each slot with its own DIB image cache,
polled in turns with progress lines and heartbeats. Run for real (not in
check mode), the module of the same name is the one-after-another way for a
run without this plugin.
"""

from __future__ import annotations

import time
from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.batch import BatchError, check_builds, task_diff
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import slot_cache_dir
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._dib_progress import ModuleRun, warning_text
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._dib_staging import Stager

MODULE = "dbaas.guest_images.dib_image"
BATCH_MODULE = "dbaas.guest_images.dib_images"
_OPTIONS = ("builds", "builds_at_once", "fail_fast")


def for_slot(args: dict[str, Any], slot: int) -> dict[str, Any]:
    """A build's options in build slot ``slot``: its slot's own DIB image cache."""
    return dict(args, cache_dir=slot_cache_dir(args.get("cache_dir"), args.get("environment"), slot))


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = False

    def _needs_shipping(self) -> bool:
        return getattr(self._connection, "transport", None) != "local"

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        unknown = sorted(set(self._task.args) - set(_OPTIONS))
        if unknown:
            return dict(result, failed=True, msg=f"dib_images: unsupported option(s) {', '.join(unknown)};"
                        f" the options are {', '.join(_OPTIONS)} (each build's own options go inside builds)")
        builds = self._task.args.get("builds")
        at_once = self._task.args.get("builds_at_once", 1)
        fail_fast = bool(self._task.args.get("fail_fast", False))
        try:
            check_builds(builds if isinstance(builds, list) else [builds], at_once)
        except BatchError as exc:
            return dict(result, failed=True, msg=str(exc))
        at_once = int(at_once)
        # Only the options the user gave: the dib_image module fills in its own defaults.
        wanted = [dict(build) for build in builds]
        shipped: list[float | None] = []
        try:
            for index, args in enumerate(wanted):
                if self._needs_shipping():
                    started = time.monotonic()
                    wanted[index] = Stager(self).ship(args)
                    shipped.append(round(time.monotonic() - started, 3))
                else:
                    shipped.append(None)
        except AnsibleError as exc:
            return dict(result, failed=True, msg=f"dib_images: builds[{index}] ({args.get('name')}): {exc}")

        runner = ModuleRun(self, MODULE, task_vars)
        # Every build asked in one run of the module of this name, then the builds that must run as dib_image jobs.
        results = runner.execute_many(wanted, at_once, fail_fast, for_slot=for_slot if at_once > 1 else None,
                                      batch_module=BATCH_MODULE)
        warnings = list(runner.warnings)
        for args, build_result, seconds in zip(wanted, results, shipped, strict=True):
            build_result["name"] = args.get("name")
            own = build_result.pop("warnings", None) or []
            warnings.extend(f"{args.get('name')}: {warning_text(warning)}" for warning in own)
            if "slot" in build_result:
                build_result["cache_dir"] = for_slot(args, build_result["slot"])["cache_dir"]
            if seconds is not None and isinstance(build_result.get("stages"), dict):
                # The controller's part, before the module's own steps: element folders and inputs shipped.
                build_result["stages"] = dict({"ship": seconds}, **build_result["stages"])
            # One result per build; the task's own fields speak for the whole task.
            build_result.pop("invocation", None)
        self._remove_tmp_path(self._connection._shell.tmpdir)
        if warnings:
            result["warnings"] = warnings
        diffs = task_diff(results)
        if diffs:
            # Ansible shows a task's diff, not the ones in its results.
            result["diff"] = diffs
        return dict(result, changed=any(item.get("changed") for item in results), results=results)
