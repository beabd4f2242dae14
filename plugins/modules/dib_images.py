#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dib_images
short_description: Build several disk images on one build host, some of them at the same time
version_added: "0.3.0"
description:
  - Runs the builds of O(builds), each a set of M(dbaas.guest_images.dib_image) options, on one build host and
    returns one result per build in RV(results), in the same order. A build that fails does not stop the others
    (unless O(fail_fast)); the task itself fails only when O(builds) or O(builds_at_once) are wrong.
  - Every build is checked and asked whether it must run at all (its fingerprint) before any of them starts, so
    a typo in the last build is reported before the first one spends minutes, and unchanged images cost a
    fraction of a second each.
  - With the action plugin of the same name, at most O(builds_at_once) builds run at the same time, each in a
    build slot of its own. Builds that share a DIB image cache run one after another (see the C(cache_dir)
    option of M(dbaas.guest_images.dib_image)), so slot 1 uses the build's own cache (its C(cache_dir),
    else C(DIB_IMAGE_CACHE) of its C(environment), else C(~/.cache/image-create)) and slot N the same
    path with C(-slotN) appended. Each slot keeps its own package downloads and debootstrap base, so a warm
    rebuild is warm in the slot that built the image before, which with the same matrix is usually the same.
  - Each running build prints its progress lines on the controller, as M(dbaas.guest_images.dib_image) does, and
    each has its own heartbeat (see there); a killed controller stops all of them.
  - Without the action plugin (the module alone) the builds run one after another.
author:
  - dbaas.guest_images developers (@dbaas)
options:
  builds:
    description:
      - The builds, each a dictionary of M(dbaas.guest_images.dib_image) options (C(name), C(elements) and C(dest)
        required). Each is checked against that module's options, and a wrong one is refused naming its index and
        name before any build starts.
    type: list
    elements: dict
    required: true
  builds_at_once:
    description:
      - How many builds run at the same time on the build host. Each slot past the first has its own DIB image cache
        (C(<cache>-slot2), ...), which costs disk space and a cold first build in that slot.
      - Two or more need the CPU, memory and temporary space of that many builds.
    type: int
    default: 1
  fail_fast:
    description:
      - V(true) starts no further build once one has failed (the builds already running finish); those not started
        are answered as failed with the reason.
    type: bool
    default: false
seealso:
  - module: dbaas.guest_images.dib_image
extends_documentation_fragment:
  - dbaas.guest_images._attributes
attributes:
  check_mode:
    support: full
    details: In check mode every build is only asked whether it would build; none runs.
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Build four images, two at a time
  dbaas.guest_images.dib_images:
    builds_at_once: 2
    builds:
      - {name: debian-12-base, dest: /srv/images, elements: [debian-minimal, vm], environment: {DIB_RELEASE: bookworm}}
      - {name: ubuntu-22-base, dest: /srv/images, elements: [ubuntu-minimal, vm], environment: {DIB_RELEASE: jammy}}
      - {name: debian-12-small, dest: /srv/images, elements: [debian-minimal], formats: [qcow2], compress: false}
      - {name: debian-12-raw, dest: /srv/images, elements: [debian-minimal, vm], formats: [raw]}
  register: built

- name: The images that failed
  ansible.builtin.debug:
    msg: "{{ built.results | selectattr('failed', 'defined') | selectattr('failed') | map(attribute='name') | list }}"
"""

RETURN = r"""
results:
  description:
    - One M(dbaas.guest_images.dib_image) result per build, in the order of O(builds), each with the build's C(name);
      a failed build has C(failed) and C(msg) (and DIB's error, as that module reports it).
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The build's image name.
      type: str
    slot:
      description: The build slot DIB ran in (1 .. O(builds_at_once)).
      type: int
      returned: when DIB ran in a slot
    cache_dir:
      description: The DIB image cache of that slot.
      type: str
      returned: when DIB ran in a slot
  sample:
    - {name: debian-12-base, changed: true, built: true, slot: 1, cache_dir: "~/.cache/image-create"}
    - {name: ubuntu-22-base, changed: false, built: false, reason: fingerprint unchanged}
"""


from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.batch import (  # noqa: E402
    BatchError,
    argument_spec,
    check_builds,
    task_diff,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.build import BuildError, run  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import DibImageRequest  # noqa: E402


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        builds = check_builds(module.params["builds"], module.params["builds_at_once"])
    except BatchError as exc:
        module.fail_json(msg=str(exc))
    results = []
    failed = None
    for params in builds:
        name = params["name"]
        if failed and module.params["fail_fast"]:
            results.append({"name": name, "failed": True, "changed": False,
                            "msg": f"dib_image: not started: the build of {failed} failed first (fail_fast)"})
            continue
        try:
            result = run(DibImageRequest.from_params(params), check_mode=module.check_mode, diff_mode=module._diff)
        except BuildError as exc:
            result = dict(exc.extra, failed=True, changed=False, msg=str(exc))
            failed = failed or name
        for warning in result.pop("warnings", []):
            module.warn(f"{name}: {warning}")
        results.append(dict(result, name=name))
    diffs = task_diff(results) if module._diff else []
    module.exit_json(changed=any(result.get("changed") for result in results), results=results,
                     **({"diff": diffs} if diffs else {}))


if __name__ == "__main__":
    main()
