# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller side of ``dbaas.guest_images.dib_image``.

Two things only the controller can do, each in its own helper:

1. Ship files (:mod:`plugin_utils._dib_staging`): ``element_paths`` and
   ``inputs`` that exist on the controller are copied to the build host
   once per content, and the module is called with those remote paths.
   With the ``local`` connection the paths are used as they are. The
   seconds it took lead the result's ``stages`` as ``ship``.
2. Show progress (:mod:`plugin_utils._dib_progress`): a build DIB must run
   is started asynchronously and polled, printing a line per phase.

All real work is done by the module, which also works without this plugin.
"""

from __future__ import annotations

import time

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.dbaas.guest_images.plugins.plugin_utils._dib_progress import ModuleRun
from ansible_collections.dbaas.guest_images.plugins.plugin_utils._dib_staging import Stager

MODULE = "dbaas.guest_images.dib_image"


class ActionModule(ActionBase):
    _supports_check_mode = True
    _supports_async = True

    def _needs_shipping(self):
        return getattr(self._connection, "transport", None) != "local"

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        args = dict(self._task.args)
        shipped = None
        try:
            if self._needs_shipping():
                started = time.monotonic()
                args = Stager(self).ship(args)
                shipped = round(time.monotonic() - started, 3)
        except AnsibleError as exc:
            result.update(failed=True, msg=str(exc))
            return result

        result.update(ModuleRun(self, MODULE, task_vars).execute(args))
        if shipped is not None and isinstance(result.get("stages"), dict):
            # The controller's part, before the module's own steps: element folders and inputs shipped.
            result["stages"] = dict({"ship": shipped}, **result["stages"])
        if not self._task.async_val:
            # An async task's module is still running from the temporary folder.
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result
