#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: build_host_facts
short_description: Report what a diskimage-builder build host offers
version_added: 0.1.0
description:
  - Reads the build host's apt sources (one-line C(*.list) and deb822 C(*.sources))
    and derives the diskimage-builder mirror variables from the distribution archives
    found there; third-party repositories are recognised by their suite and ignored.
  - Reports whether device-mapper works (C(/dev/mapper/control) exists and
    C(dmsetup version) succeeds), whether a free loop device can be found, and the
    free space of the given paths.
  - Never changes anything.
options:
  paths:
    description:
      - Paths whose file system free space is reported in RV(free_bytes).
      - The nearest existing parent is measured when a path does not exist yet.
    type: list
    elements: path
    default: []
  from_apt:
    description:
      - Derive mirrors from the build host's apt sources.
      - With V(false), only the mirrors given in O(debian_mirror), O(debian_security_mirror)
        and O(ubuntu_mirror) are used.
    type: bool
    default: true
  debian_mirror:
    description:
      - Debian archive URI; overrides the one found in the apt sources.
    type: str
  debian_security_mirror:
    description:
      - Debian security archive URI (the folder holding C(dists/<release>-security));
        overrides the one found in the apt sources.
    type: str
  ubuntu_mirror:
    description:
      - Ubuntu archive URI; overrides the one found in the apt sources.
    type: str
  root:
    description:
      - Root of the file system tree whose C(etc/apt) and C(etc/os-release) are read.
      - Only useful for tests and for inspecting a chroot.
    type: path
    default: /
author:
  - dbaas.guest_images developers
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Learn what this build host offers
  dbaas.guest_images.build_host_facts:
    paths:
      - /var/tmp
      - /srv/images
  register: build_host_info

- name: Show the mirrors diskimage-builder will use
  ansible.builtin.debug:
    var: build_host_info.dib_environment
"""

RETURN = r"""
distribution:
  description: The build host's distribution ID from os-release (lower case).
  returned: always
  type: str
  sample: debian
codename:
  description: The build host's release code name from os-release.
  returned: always
  type: str
  sample: bookworm
mirrors:
  description: Archive URIs found per distribution (C(mirror), and for Debian C(security_mirror)).
  returned: always
  type: dict
  sample: {"debian": {"mirror": "http://deb.example.org/debian", "security_mirror": "http://deb.example.org/debian-security"}}
dib_environment:
  description: DIB environment variables to merge under every image's environment.
  returned: always
  type: dict
  sample: {"DIB_DISTRIBUTION_MIRROR": "http://deb.example.org/debian"}
dib_environment_by_distribution:
  description: DIB mirror variables for images of each distribution found in the apt sources.
  returned: always
  type: dict
  sample: {"debian": {"DIB_DISTRIBUTION_MIRROR": "http://deb.example.org/debian"}}
device_mapper:
  description: Whether device-mapper works on this host.
  returned: always
  type: bool
  sample: false
device_mapper_detail:
  description: Why device-mapper is considered working or not.
  returned: always
  type: str
  sample: /dev/mapper/control does not exist
loop_device:
  description: The first free loop device (C(losetup -f)), empty when none could be found.
  returned: always
  type: str
  sample: /dev/loop0
loop_device_error:
  description: The error of C(losetup -f) when it failed.
  returned: always
  type: str
  sample: ""
free_bytes:
  description: Free bytes of the file system of each path in O(paths).
  returned: always
  type: dict
  sample: {"/var/tmp": 85899345920}
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils import apt_sources  # noqa: E402


def _os_release(root):
    values = {}
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        path = os.path.join(root, candidate)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    if "=" in line:
                        key, value = line.rstrip("\n").split("=", 1)
                        values[key] = value.strip().strip("\"'")
            break
    return values


def _device_mapper(module):
    if not os.path.exists("/dev/mapper/control"):
        return False, "/dev/mapper/control does not exist"
    dmsetup = None
    # Ask the real tool, never a fallback wrapper in /usr/local/sbin.
    for directory in ("/usr/sbin", "/sbin", "/usr/bin", "/bin"):
        if os.access(os.path.join(directory, "dmsetup"), os.X_OK):
            dmsetup = os.path.join(directory, "dmsetup")
            break
    if dmsetup is None:
        return False, "dmsetup is not installed"
    rc, out, err = module.run_command([dmsetup, "version"])
    if rc != 0:
        return False, f"dmsetup version failed: {(err or out).strip()}"
    return True, out.strip().replace("\n", "; ")


def _free_bytes(path):
    probe = path
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    stat = os.statvfs(probe)
    return stat.f_bavail * stat.f_frsize


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", default=[]),
            root=dict(type="path", default="/"),
            from_apt=dict(type="bool", default=True),
            debian_mirror=dict(type="str"),
            debian_security_mirror=dict(type="str"),
            ubuntu_mirror=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    root = module.params["root"]
    release = _os_release(root)
    distribution = release.get("ID", "").lower()
    codename = release.get("VERSION_CODENAME", "")

    mirrors = {}
    if module.params["from_apt"]:
        entries = apt_sources.read_sources(root)
        mirrors = apt_sources.find_mirrors(entries, host_codename=codename, host_distribution=distribution)
    mirrors = apt_sources.override_mirrors(
        mirrors,
        debian_mirror=module.params["debian_mirror"],
        debian_security_mirror=module.params["debian_security_mirror"],
        ubuntu_mirror=module.params["ubuntu_mirror"],
    )

    device_mapper, device_mapper_detail = _device_mapper(module)

    loop_device, loop_error = "", ""
    losetup = module.get_bin_path("losetup")
    if losetup is None:
        loop_error = "losetup is not installed (package util-linux / mount)"
    else:
        rc, out, err = module.run_command([losetup, "-f"])
        if rc == 0 and out.strip():
            loop_device = out.strip()
        else:
            loop_error = (err or out).strip() or f"losetup -f failed with rc {rc}"

    module.exit_json(
        changed=False,
        distribution=distribution,
        codename=codename,
        mirrors=mirrors,
        dib_environment=apt_sources.dib_environment(mirrors, distribution),
        dib_environment_by_distribution=apt_sources.dib_environment_by_distribution(mirrors),
        device_mapper=device_mapper,
        device_mapper_detail=device_mapper_detail,
        loop_device=loop_device,
        loop_device_error=loop_error,
        free_bytes=dict((path, _free_bytes(path)) for path in module.params["paths"]),
    )


if __name__ == "__main__":
    main()
