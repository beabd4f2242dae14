#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: dib_image
short_description: Build a disk image with diskimage-builder, idempotently and atomically
version_added: "0.1.0"
description:
  - Runs C(disk-image-create) on the build host to produce one image in one or more formats.
  - Idempotent by content. A sha256 fingerprint covers the element names, the content of every element
    folder the build resolves (including the element dependencies and diskimage-builder's own elements),
    the environment, packages, formats, size, arch, the diskimage-builder version and the content of every
    file or folder in O(inputs). When the fingerprint matches the one stored in C(<dest>/<name>.fingerprint.json),
    all outputs are present and the image is younger than O(max_age), nothing is built.
  - Atomic. DIB works in a private folder C(<dest>/.<name>.tmp-XXXX); outputs are checked (C(qemu-img check),
    format) and hashed before they are renamed into place, and the fingerprint file is written last. A build
    that fails, times out or is killed leaves nothing at the output paths; its processes are killed, and the
    mounts and loop devices it left are released.
  - With the collection's C(dbaas-sbom) element among O(elements) (the compose stage adds it to every image), the
    build records what the image holds while DIB still has its root at hand, and writes the image's CycloneDX 1.6
    SBOM C(<dest>/<name>.cdx.json) beside it (no second mount of the finished image). The SBOM of the build before
    is kept as C(<dest>/<name>.cdx.previous.json) and RV(sbom.changes) says what changed between the two.
  - Outputs of an earlier successful build stay in place while a new build runs and when it fails, as long as
    they still match their own fingerprint file. Outputs that no fingerprint file vouches for are removed.
  - One build per image at a time, by a lock file C(<dest>/.<name>.lock).
  - While DIB runs, C(<dest>/.<name>.progress.json) tells the current phase and hook; the action plugin of
    the same name prints it on the controller. The module works without the action plugin too.
  - Bad input is refused before DIB starts, with a message naming the option.
author:
  - dbaas.guest_images developers (@dbaas)
options:
  name:
    description:
      - Image name. Outputs are C(<dest>/<name>.<format>).
      - A plain file name, no C(/), no C(..).
    type: str
    required: true
  elements:
    description:
      - DIB elements, in order. Each must be on O(element_paths) or among diskimage-builder's own elements.
    type: list
    elements: str
    required: true
  element_paths:
    description:
      - Extra element folders, searched in order before diskimage-builder's own; they become C(ELEMENTS_PATH).
      - With the action plugin, folders that exist on the controller are copied to the build host first.
    type: list
    elements: path
    default: []
  dest:
    description:
      - Output folder on the build host. Created if missing.
    type: path
    required: true
  formats:
    description:
      - Output formats (DIB image types). C(squashfs) is written as C(<name>.squash).
    type: list
    elements: str
    choices: [qcow2, raw, vhd, vdi, vmdk, qed, tar, tgz, squashfs, aci]
    default: [qcow2]
  compress:
    description:
      - Compress the qcow2 output (DIB's default). V(false) passes C(-u) for a larger file that is written
        faster (no compression while converting) and read without decompression when a server boots
        from it. Part of the fingerprint when V(false); no effect on other formats.
    type: bool
    default: true
  size:
    description:
      - Image size in GiB (C(--image-size)). Left out, DIB sizes the image to its content.
    type: int
  arch:
    description:
      - Target architecture (C(-a)).
    type: str
    default: amd64
  environment:
    description:
      - C(DIB_*) and element variables for the build. Keys must be shell variable names; values must not
        contain newlines or NUL bytes.
      - Values whose names look secret (C(*PASSWORD*), C(*SECRET*), C(*TOKEN*), C(*_KEY)) are stored only as
        hashes in the fingerprint file.
    type: dict
    default: {}
  packages:
    description:
      - Extra packages to install in the image (C(-p)).
    type: list
    elements: str
    default: []
  inputs:
    description:
      - Files or folders that enter the image from outside, keyed by the environment variable that points
        at them (for example C(DATASTORE_PKG_LOCATION)). Each is exported to DIB under its key, and its content
        is part of the fingerprint.
      - With the action plugin, paths that exist on the controller are copied to the build host first.
      - A path that does not exist is refused, except in check mode, where an earlier task of the same run
        (for example the guest agent wheelhouse of the compose stage) may still have to create it; the module
        then warns, says in RV(reason) that the input does not exist yet, and returns no RV(fingerprint).
    type: dict
    default: {}
  cache_dir:
    description:
      - DIB's download cache (C(DIB_IMAGE_CACHE)). Defaults to DIB's own (C(~/.cache/image-create)).
      - DIB bind-mounts the cache's apt archive into every build, so builds that share a cache on one host run
        one after another (each waits up to O(lock_timeout)); give builds their own cache to run them side by side.
      - Images whose root comes from debootstrap (C(debian-minimal), C(ubuntu-minimal)) keep the debootstrap result
        there as C(debootstrap-<distro>-<release>-<arch>.tar.gz) with a C(.key) file beside it, and later builds
        unpack it instead of running debootstrap again, only while the key (mirror, release, components,
        keyring content, extra arguments, DIB and debootstrap versions) is unchanged; a stale tarball is deleted
        before DIB starts. Setting C(DIB_DEBOOTSTRAP_CACHE), C(DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE) or C(DIB_OFFLINE)
        in O(environment) leaves the cache to you (C(DIB_DEBOOTSTRAP_CACHE=0) turns it off). See C(docs/caches.md).
    type: path
  dib_command:
    description:
      - Path of C(disk-image-create).
      - Defaults to C(disk-image-create) found on C(PATH), then C(/opt/dbaas-guest-images/dib/bin/disk-image-create)
        (where the C(dbaas.guest_images.build_host) role installs it).
    type: path
  timeout:
    description:
      - Seconds the build may take; after that it is killed and cleaned up.
    type: int
    default: 3600
  lock_timeout:
    description:
      - Seconds to wait for another build of the same image to finish before failing.
    type: int
    default: 1800
  force:
    description:
      - Build even if the fingerprint matches.
    type: bool
    default: false
  max_age:
    description:
      - Hours after which an unchanged image is rebuilt anyway (to pick up updated packages). C(0) means never.
    type: int
    default: 720
  heartbeat_path:
    description:
      - A file the module creates and the controller refreshes while it waits for the build. When it is not
        refreshed for O(heartbeat_misses) times O(heartbeat_interval) seconds (or times the longest gap seen
        between two refreshes, when the controller is slower than that; never less than 30 s, and 30 s more
        for the first refresh), the controller is taken to be gone;
        the build stops, DIB is killed, mounts, loop devices and locks are released, and
        C(<dest>/<name>.abandoned.json) says where the build was; the next run returns it as RV(previous_build).
      - The action plugin sets the three heartbeat options when it polls an async build (set the variables
        C(dib_image_poll_interval) and C(dib_image_heartbeat_misses) instead). Left out, there is no heartbeat.
    type: path
  heartbeat_interval:
    description:
      - Seconds between two refreshes of O(heartbeat_path) by the controller; C(0) turns the heartbeat off.
    type: float
    default: 0.0
  heartbeat_misses:
    description:
      - How many intervals without a refresh of O(heartbeat_path) end the build.
    type: int
    default: 3
notes:
  - Needs C(sudo) (or root), C(qemu-img) and the tools diskimage-builder needs; the C(dbaas.guest_images.build_host)
    role installs them.
  - Check mode runs nothing but C(disk-image-create --version); it tells whether a build would run and why.
    With diff mode, the changed inputs are shown before and after. An input that does not exist yet, or
    a O(dib_command) not installed yet (a fresh build host, prepared by an earlier task of the same run),
    makes check mode say the image would build, with a warning; a real run refuses both.
  - The action plugin prints a progress line (phase, elapsed time, running hook) when the phase changes and at
    least every minute; it polls every C(dib_image_poll_interval) seconds (a variable, default 10). Each poll is
    one command on the build host that waits up to that long for the build to end, so the task ends within a
    fraction of a second of the build.
  - When the module process is killed (for example by the async timeout), a guardian process it started kills
    DIB and cleans up.
  - When the controller is killed (a cancelled AWX job, a lost SSH session), the build stops itself after
    C(dib_image_heartbeat_misses) (default 3) poll intervals without a heartbeat, cleans up and leaves
    C(<dest>/<name>.abandoned.json); its async result is not left in the async folder.
extends_documentation_fragment:
  - dbaas.guest_images._attributes
  - dbaas.guest_images._attributes.async
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
  async:
    support: full
"""

EXAMPLES = r"""
- name: Build a Debian 12 guest image
  dbaas.guest_images.dib_image:
    name: debian-12-mysql-8.0
    dest: /var/lib/guest-images
    elements: [debian-minimal, vm, cloud-init, cloud-init-datasources, trove-guest-agent]
    element_paths: ["{{ playbook_dir }}/files/elements"]
    environment:
      DIB_RELEASE: bookworm
      DIB_CLOUD_INIT_DATASOURCES: "ConfigDrive, OpenStack"
    inputs:
      DATASTORE_PKG_LOCATION: /srv/wheelhouse
    size: 4
  register: image

- name: Only tell whether the image is up to date
  dbaas.guest_images.dib_image:
    name: debian-12-mysql-8.0
    dest: /var/lib/guest-images
    elements: [debian-minimal, vm]
  check_mode: true
  register: plan
"""

RETURN = r"""
images:
  description: The outputs, one per format.
  returned: always (empty when a check-mode run would build)
  type: list
  elements: dict
  contains:
    path:
      description: Absolute path on the build host.
      type: str
      sample: /var/lib/guest-images/debian-12.qcow2
    format:
      description: Image format.
      type: str
      sample: qcow2
    size:
      description: Size in bytes.
      type: int
      sample: 344195072
    sha256:
      description: sha256 of the file.
      type: str
      sample: 0f343b0931126a20f133d67c2b018a3b1e44d5b1b5cbbcd54e0bbbdc0f0a8a5c
  sample:
    - path: /var/lib/guest-images/debian-12.qcow2
      format: qcow2
      size: 344195072
      sha256: 0f343b0931126a20f133d67c2b018a3b1e44d5b1b5cbbcd54e0bbbdc0f0a8a5c
sbom:
  description:
    - The image's CycloneDX SBOM; none when the build has no C(dbaas-sbom) element, in check mode when the
      image would build, and for a reused image whose SBOM file is no longer the one recorded.
  returned: always
  type: dict
  contains:
    path:
      description: C(<dest>/<name>.cdx.json) on the build host.
      type: str
      sample: /var/lib/guest-images/debian-12.cdx.json
    sha256:
      description: sha256 of the SBOM file.
      type: str
      sample: 5d0c7f0e8b8f55cd1b0c6a2c0f1e7c7be5e2b1b8e5b0e0b5a7f3c1d9e2a4b6c8
    summary:
      description: How many components of each kind (C(deb), C(python), C(container-tarball), C(licensed-package)).
      type: dict
      sample: {deb: 412, python: 87, container-tarball: 1, licensed-package: 0}
    changes:
      description:
        - C(unchanged) for a reused image; none for the first SBOM of an image; else lists C(added),
          C(removed) (C({kind, name, arch, version})), C(upgraded), C(downgraded) (C({kind, name, arch, from, to}))
          against the previous build's SBOM, Debian versions ordered as dpkg orders them.
      type: raw
      sample: {added: [], removed: [], upgraded: [{kind: deb, name: openssl, arch: amd64, from: 3.0.15-1~deb12u1,
               to: 3.0.16-1~deb12u1}], downgraded: []}
    previous_path:
      description: C(<dest>/<name>.cdx.previous.json), the SBOM compared with (built images that had one).
      type: str
      returned: when a previous SBOM was compared
    seconds:
      description: Seconds the SBOM took after DIB finished (built images).
      type: float
      returned: when built
  sample:
    path: /var/lib/guest-images/debian-12.cdx.json
    sha256: 5d0c7f0e8b8f55cd1b0c6a2c0f1e7c7be5e2b1b8e5b0e0b5a7f3c1d9e2a4b6c8
    summary: {deb: 412, python: 0, container-tarball: 0, licensed-package: 0}
    changes: unchanged
fingerprint:
  description:
    - sha256 over everything that decides the image's content.
    - None in check mode when an input does not exist yet (its content is not known).
  returned: always
  type: str
  sample: 9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab
phases:
  description: Seconds DIB spent in each of its phases (C(setup), C(root.d), C(extra-data.d), C(pre-install.d),
    C(install.d), C(post-install.d), C(block-device), C(finalise.d), C(cleanup.d), C(conversion)), in the order they
    ran, read from DIB's log. They split the C(dib) step of RV(stages) (DIB's start, before its logger runs, is in
    no phase).
  returned: when DIB ran
  type: dict
  sample: {setup: 3.7, root.d: 80.6, extra-data.d: 0.8, pre-install.d: 18.2, install.d: 231.9, post-install.d: 2.2,
           block-device: 9.7, finalise.d: 6.5, cleanup.d: 1.8, conversion: 46.2}
stages:
  description:
    - Seconds this task spent per step, measured, in the order the steps ran; only steps that ran appear.
    - C(ship) - controller files (element folders, inputs) copied to the build host (only when any were).
    - C(validate) - the options' checks and the elements' resolution.
    - C(fingerprint) - DIB's version, the inputs' content, the record and the rebuild decision (a reused image
      spends only this and C(validate)).
    - C(lock_wait) - waiting for the image's lock and the shared DIB cache's lock.
    - C(dib) - C(disk-image-create) from its start to its exit (RV(phases) splits it by phase).
    - C(outputs) - after DIB - C(qemu-img check), format, size and sha256 of each output, releasing mounts and
      loop devices, the log and record, moving the files into place.
    - C(sbom) - the SBOM made from DIB's inventory, compared with the previous one, put in place.
    - A failed build returns the steps it went through too (and RV(phases) when DIB ran).
  returned: always
  type: dict
  sample: {validate: 0.05, fingerprint: 0.41, lock_wait: 0.0, dib: 402.7, outputs: 9.8, sbom: 1.2}
base_cache:
  description: What the build did with the debootstrap base cache (see O(cache_dir)).
  returned: when DIB ran
  type: dict
  contains:
    state:
      description: C(reused), C(new) (this build made it), C(refreshed) (a stale one was replaced),
        C(operator) (the environment manages it) or C(off) (the root does not come from debootstrap).
      type: str
    reason:
      description: Why, in words.
      type: str
    tarball:
      description: The cached tarball's path (empty when none).
      type: str
  sample: {state: reused, reason: debootstrap-debian-bookworm-amd64.tar.gz matches this build's key,
           tarball: /root/.cache/image-create/debootstrap-debian-bookworm-amd64.tar.gz}
duration:
  description: Seconds this task took.
  returned: always
  type: float
  sample: 134.2
log_path:
  description: The DIB log of the last build (C(<dest>/<name>.log)).
  returned: always
  type: str
  sample: /var/lib/guest-images/debian-12.log
dib_version:
  description: diskimage-builder version (C(disk-image-create --version)).
  returned: always
  type: str
  sample: 3.43.0
resolved_elements:
  description: The elements the build uses, with all dependencies expanded.
  returned: always
  type: list
  elements: str
  sample: [debian-minimal, vm, debootstrap, dpkg, package-installs]
built:
  description: Whether DIB ran (in check mode always false; C(changed) then says whether it would run).
  returned: always
  type: bool
  sample: true
reason:
  description: Why the image was (or would be) built, or why not.
  returned: always
  type: str
  sample: "fingerprint changed: environment.DIB_RELEASE"
previous_build:
  description:
    - How the previous build of this image ended when no playbook was there to hear it (its controller was gone,
      or its module process was killed), read from C(<dest>/<name>.abandoned.json), which a real run then deletes.
  returned: when there was such a build
  type: dict
  contains:
    cause:
      description: C(controller gone) or C(the module process died).
      type: str
    phase:
      description: The DIB phase the build was in (or C(the wait for a lock)).
      type: str
    hook:
      description: The hook that was running, if any.
      type: str
    detail:
      description: What happened, in words.
      type: str
    at:
      description: When (UTC).
      type: str
    summary:
      description: One line for the build report.
      type: str
      sample: "previous build was abandoned: controller gone at install.d (50-cloud-init), 2026-01-01T10:00:00Z"
changed_inputs:
  description: Dotted names of the fingerprint parts that changed since the last build.
  returned: always
  type: list
  elements: str
  sample: [environment.DIB_RELEASE, inputs.DATASTORE_PKG_LOCATION]
"""


from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.build import BuildError, run  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.request import (  # noqa: E402
    DibImageRequest,
    argument_spec,
)


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    request = DibImageRequest.from_params(module.params)
    try:
        result = run(request, check_mode=module.check_mode, diff_mode=module._diff)
    except BuildError as exc:
        module.fail_json(msg=str(exc), **exc.extra)
    for warning in result.pop("warnings", []):
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
