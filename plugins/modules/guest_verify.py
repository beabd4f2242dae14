#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module dbaas.guest_images.guest_verify."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_verify
short_description: Boot a Trove guest image the way Trove boots it and ask its agent over RabbitMQ
version_added: 0.1.0
description:
  - Runs on the build host that holds the image. Boots O(image) under qemu on a throw-away copy-on-write
    overlay (the image is never written), with KVM where it really works (a short probe boot) and TCG
    (C(-accel tcg -cpu max)) otherwise, a blank raw second disk as C(/dev/vdb), and user networking
    restricted (C(restrict=on)) so that the guest reaches the broker and nothing else (a C(guestfwd) at
    C(10.0.2.100:5672), one C(socat) per guest connection).
  - The guest's files come from Trove's own taskmanager code (the C(trove) package at O(trove_version),
    in a venv on the build host, O(trove_venv)), exactly as Trove 26 makes them for a new instance
    at its default settings - C(guest_info.conf) and the operator's C(trove-guestagent.conf) (the
    C(transport_url) of the broker, C(control_exchange=trove), the agent's log on the console, plus
    O(guest_config_extra)) as cloud-config C(write_files) in the user-data, on a C(config-2) drive.
  - The broker is a private RabbitMQ started for this image on the build host's loopback (the
    distribution's C(rabbitmq-server), its own ports, vhost, user and one-time password; stopped and
    removed afterwards), or O(broker_url). The guest's account is tried once before the boot.
  - Then Trove's client (C(trove.guestagent.api.API)) asks C(rpc_ping) on C(guestagent.<guest_id>)
    until it answers or O(timeout) passes, then C(get_filesystem_stats), which must report the size of
    the volume (O(volume_gib)).
  - Writes C(<image>.verify.json) beside the image (fingerprint, sha256, result, failed step, step times,
    accelerator, trove version). A passed record whose fingerprint, sha256 and trove version equal the
    current ones means nothing runs again (RV(result=reused)).
extends_documentation_fragment:
  - dbaas.guest_images._attributes
attributes:
  check_mode:
    support: full
    details: Reports RV(result=would_verify) (C(changed)) when a verification is due, boots nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A matching record is reused (C(changed=false)).
options:
  image:
    description: The qcow2 image on the build host.
    type: path
    required: true
  fingerprint:
    description:
      - The image's build fingerprint (the C(fingerprint) of C(dbaas.guest_images.dib_image)); kept in the
        record.
    type: str
    default: ""
  sha256:
    description: The image file's sha256 from the build, kept in the record; a record of other bytes does not match.
    type: str
    default: ""
  datastore_manager:
    description:
      - The Trove datastore manager of the image (C(mysql), C(mariadb), C(postgresql)...), written to
        C(guest_info.conf).
    type: str
    required: true
  datastore_version:
    description: The datastore version written to C(guest_info.conf).
    type: str
    required: true
  mode:
    description:
      - V(required) fails the task when verification fails; V(warn) records the failure and warns;
        V(skip) does nothing.
    type: str
    default: required
    choices: [required, warn, skip]
  broker_url:
    description:
      - An operator's RabbitMQ, C(rabbit://USER:PASSWORD@HOST:PORT/VHOST), as the build host reaches it; the
        guest uses the same account through the C(guestfwd). Empty starts a private one.
    type: str
    default: ""
  accelerator:
    description: V(auto) probes KVM (falls back to TCG when it does not really work); V(kvm) or V(tcg) force one.
    type: str
    default: auto
    choices: [auto, kvm, tcg]
  timeout:
    description: Seconds from the boot to the agent's first answer; 0 means 900 under TCG, 180 under KVM.
    type: int
    default: 0
  kvm_probe_timeout:
    description: Seconds a KVM boot gets to show the kernel before TCG is used instead.
    type: int
    default: 30
  memory_mib:
    description: Guest memory.
    type: int
    default: 2048
  cpus:
    description: Guest vCPUs.
    type: int
    default: 2
  volume_gib:
    description: Size of the blank volume C(/dev/vdb) the agent formats and mounts.
    type: int
    default: 2
  trove_version:
    description:
      - Version of the C(trove) package whose client code asks the agent; empty means the agent version the
        collection pins.
    type: str
    default: ""
  trove_venv:
    description:
      - The venv of the Trove client; empty means C(<cache>/trove-client/trove-<version>) of the user the
        module runs as.
    type: path
    default: ""
  wheelhouse:
    description:
      - The guest agent wheelhouse (of C(dbaas.guest_images.guest_agent_wheelhouse)) to install the client
        from, offline, when it fits this host's Python.
    type: path
    default: ""
  pip_args:
    description: Extra pip arguments for installing the client from an index.
    type: list
    elements: str
    default: []
  python:
    description: The interpreter that creates the client venv.
    type: str
    default: python3
  guest_config_extra:
    description: "More sections and options of C(trove-guestagent.conf): C({section: {option: value}})."
    type: dict
    default: {}
  work_dir:
    description:
      - Where the overlay, volume and config drive are made (removed afterwards); empty means the system's
        temporary folder. Made (mode 0700) when it does not exist.
    type: path
    default: ""
  force:
    description: Verify even when the record matches.
    type: bool
    default: false
notes:
  - The guest reaches the broker only through qemu's user network; a C(broker_url) with TLS is not supported.
author:
  - dbaas.guest_images developers (@dbaas)
"""

EXAMPLES = r"""
- name: Verify the default image against a private RabbitMQ
  dbaas.guest_images.guest_verify:
    image: output/trove-debian-12-mysql-8.0-container.qcow2
    fingerprint: "{{ build.fingerprint }}"
    datastore_manager: mysql
    datastore_version: "8.0"

- name: Verify against the cloud's own broker, only warn on failure
  dbaas.guest_images.guest_verify:
    image: output/trove-debian-12-mysql-8.0-container.qcow2
    datastore_manager: mysql
    datastore_version: "8.0"
    mode: warn
    broker_url: "rabbit://verify:{{ vault_verify_password }}@rabbit.example.org:5672/verify"
"""

RETURN = r"""
result:
  description:
    - V(passed), V(failed), V(reused) (a matching record), V(skipped) (mode skip) or V(would_verify) (check
      mode).
  returned: always
  type: str
  sample: passed
record:
  description: The content of the verification record.
  returned: when verified or reused
  type: dict
  sample:
    result: passed
    accelerator: tcg
    times: {kernel: 11.2, cloud_init_done: 61.0, agent_rpc_up: 70.3, first_answer: 76.1, filesystem_stats: 76.4}
record_path:
  description: C(<image>.verify.json).
  returned: always
  type: str
step:
  description:
    - The step that failed (C(input), C(image), C(tools), C(trove-client), C(broker), C(user-data), C(boot),
      C(cloud-init), C(agent-rpc), C(filesystem-stats)).
  returned: when result is failed
  type: str
console_tail:
  description: The end of the guest's serial console.
  returned: when verified
  type: str
console_log:
  description: The guest's whole serial console, kept beside the image as C(<image>.verify.console.log).
  returned: when the image was booted
  type: str
agent_errors:
  description: The agent's last error lines on the console.
  returned: when verified
  type: list
  elements: str
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.signals import Interrupted  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.wheelhouse import (  # noqa: E402
    default_cache_dir,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify.request import (  # noqa: E402
    VerifyInputError,
    VerifyRequest,
    argument_spec,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify.run import (  # noqa: E402
    VerifyFailed,
    verify,
)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        request = VerifyRequest.from_params(module.params, default_cache_dir())
    except VerifyInputError as error:
        module.fail_json(msg=str(error), result="failed", step="input")
    try:
        result = verify(request, check_mode=module.check_mode)
    except VerifyFailed as error:
        module.fail_json(msg=str(error), step=error.step, result="failed",
                         record_path=os.path.splitext(request.image)[0] + ".verify.json")
    except Interrupted as error:
        module.fail_json(msg=f"guest_verify of {request.image} was stopped ({error}); its broker, qemu and"
                         " Trove client were stopped and its work folder removed", step="interrupted",
                         result="failed")
    warning = result.pop("warning", None)
    if warning:
        module.warn(warning)
    if result.get("failed"):
        result.pop("failed")
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
