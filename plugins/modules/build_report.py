#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: build_report
short_description: Write the build report (JSON and Markdown) of a build_guest run
version_added: 0.1.0
description:
  - Writes C(build-report.json) and C(build-report.md) into O(dest) from the rows the
    C(dbaas.guest_images.build_image) role recorded (fact C(build_image_results)) on every build host.
  - Both files are replaced atomically. When nothing but the time stamp and the time the
    no-op check took would change (a run that built nothing new), the files are left as they
    are and the module reports no change.
options:
  rows:
    description:
      - Report rows, as made by the C(dbaas.guest_images.build_report_row) filter.
    type: list
    elements: dict
    required: true
  dest:
    description:
      - Folder the two files are written to; created when missing.
    type: path
    required: true
  plan:
    description:
      - The build plan of the run (the C(dbaas.guest_images.build_plan) filter's output), kept in the
        report as C(plan) and shown as its own section of the Markdown.
    type: list
    elements: dict
    default: []
author:
  - dbaas.guest_images developers (@dbaas)
extends_documentation_fragment:
  - dbaas.guest_images._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Write the build report of every build host
  dbaas.guest_images.build_report:
    rows: "{{ groups['build_hosts'] | map('extract', hostvars, 'build_image_results') | select('defined') | flatten }}"
    dest: "{{ playbook_dir }}/output"
  register: report
"""

RETURN = r"""
report:
  description: The report document that was written (or found unchanged).
  returned: always
  type: dict
  sample: {"generated_at": "2026-01-01T00:00:00+00:00", "summary": {"built": 1, "reused": 0, "failed": 0}, "images": []}
json_path:
  description: Path of C(build-report.json).
  returned: always
  type: str
  sample: /srv/output/build-report.json
markdown_path:
  description: Path of C(build-report.md).
  returned: always
  type: str
  sample: /srv/output/build-report.md
"""

import json  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._report import report as build_report  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._report.request import (  # noqa: E402
    BuildReportRequest,
    argument_spec,
)


def _write_atomically(path, text):
    handle, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", dir=os.path.dirname(path))
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    request = BuildReportRequest.from_params(module.params)
    dest, json_path, markdown_path = request.dest, request.json_path, request.markdown_path

    document = build_report.report(request.rows, extra={"plan": request.plan} if request.plan else None)
    previous = None
    if os.path.isfile(json_path) and os.path.isfile(markdown_path):
        try:
            with open(json_path, encoding="utf-8") as handle:
                previous = json.load(handle)
        except (OSError, ValueError):
            previous = None
    if previous is not None and build_report.same_report(previous, document):
        module.exit_json(changed=False, report=previous, json_path=json_path, markdown_path=markdown_path)

    if not module.check_mode:
        try:
            os.makedirs(dest, exist_ok=True)
            _write_atomically(json_path, json.dumps(document, indent=2, sort_keys=True) + "\n")
            _write_atomically(markdown_path, build_report.render_markdown(document))
        except OSError as exc:
            module.fail_json(msg=f"could not write the build report into {dest}: {exc}; check dest (its permissions)")
    module.exit_json(changed=True, report=document, json_path=json_path, markdown_path=markdown_path)


if __name__ == "__main__":
    main()
