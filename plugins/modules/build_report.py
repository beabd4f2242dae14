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
  - Rows are merged by image name into the report already in O(dest). A row of this run replaces the
    earlier row of the same image; rows of other images (built by an earlier or a concurrent run into
    the same folder) are kept. Runs that write into one folder at the same time take turns, by a lock
    file C(<dest>/.build-report.lock), so no run's rows are lost.
  - Both files are replaced atomically. When nothing but the time stamp and the time the
    no-op check took would change (a run that built nothing new), the files are left as they
    are and the module reports no change.
  - C(build-report.md) has a reason column - why an image was built (new, fingerprint changed and
    which input, forced, too old), why it was reused, why it failed (DIB's error line, or the error of
    the stage before the build) - and says how an earlier build that was abandoned ended.
  - Where the time went - each row's C(stages) (seconds per stage the image went through in the run that reported
    it, measured; see the C(dbaas.guest_images.build_report_stage_times) filter) and C(phases) (seconds per DIB
    phase) are kept in C(build-report.json), and C(build-report.md) shows them in a "Time per stage" table, one
    column per stage, DIB's phases last. A reused row whose only news would be its times counts as unchanged.
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
  lock_timeout:
    description:
      - Seconds to wait for another run writing the report in O(dest) before failing.
    type: int
    default: 300
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
run:
  description: This run's rows only and their summary (the report file may hold rows of other runs too).
  returned: always
  type: dict
  sample: {"summary": {"built": 1, "reused": 0, "failed": 0}, "images": []}
report:
  description: The report document that was written (or found unchanged), with the rows of earlier runs merged in.
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

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.files import write_atomically  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.lock import ImageLock, LockTimeout  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._report import report as build_report  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._report.request import (  # noqa: E402
    BuildReportRequest,
    argument_spec,
)


def _previous(json_path, markdown_path):
    if not (os.path.isfile(json_path) and os.path.isfile(markdown_path)):
        return None
    try:
        with open(json_path, encoding="utf-8") as handle:
            previous = json.load(handle)
    except (OSError, ValueError):
        return None
    return previous if isinstance(previous, dict) else None


def _write(module, request):
    json_path, markdown_path = request.json_path, request.markdown_path
    previous = _previous(json_path, markdown_path)
    stamp = build_report.report([])["generated_at"]
    rows = [dict(row, **{build_report.REPORTED_AT: stamp}) for row in request.rows]
    run = build_report.report(rows, generated_at=stamp)
    document = build_report.report(
        build_report.merge_rows((previous or {}).get("images"), rows), generated_at=stamp,
        extra={"plan": request.plan} if request.plan else None,
    )
    outcome = dict(run={"summary": run["summary"], "images": run["images"]}, json_path=json_path,
                   markdown_path=markdown_path)
    if previous is not None and build_report.same_report(previous, document):
        return dict(outcome, changed=False, report=previous)
    if not module.check_mode:
        write_atomically(json_path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        write_atomically(markdown_path, build_report.render_markdown(document))
    return dict(outcome, changed=True, report=document)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    request = BuildReportRequest.from_params(module.params)
    dest = request.dest
    try:
        if module.check_mode and not os.path.isdir(dest):
            module.exit_json(**_write(module, request))
        os.makedirs(dest, exist_ok=True)
        # Read, merge and write under one lock: two runs into one folder must not drop each other's rows.
        lock = ImageLock(dest, "build-report", request.lock_timeout,
                         busy_message=f"the build report in {dest} is being written by another run")
        try:
            lock.acquire()
        except LockTimeout as exc:
            module.fail_json(msg=str(exc), lock_path=lock.path, holder_pid=exc.holder_pid)
        try:
            result = _write(module, request)
        finally:
            lock.release()
    except OSError as exc:
        module.fail_json(msg=f"could not write the build report into {dest}: {exc}; check dest (its permissions)")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
