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
  - Reports which of the given OS packages are missing, the diskimage-builder version
    installed in a virtualenv, the state of the device-mapper fallback scripts, and which
    C(kpartx) C(sudo) would run, so that a prepared host needs no further checks.
  - Never changes anything.
options:
  packages_by_family:
    description:
      - OS packages wanted, per Ansible OS family (C(Debian), C(RedHat)); the list of this
        host's family is checked with C(dpkg-query) or C(rpm -q).
    type: dict
    default: {}
  extra_packages:
    description:
      - More OS packages wanted, whatever the OS family.
    type: list
    elements: str
    default: []
  dib_venv:
    description:
      - Virtualenv whose diskimage-builder version is reported in RV(dib_version).
    type: path
  fallback_dir:
    description:
      - Folder whose C(kpartx) and C(dmsetup) are inspected (RV(fallback)), and whose
        C(kpartx) C(sudo) is expected to find (RV(sudo_kpartx)).
    type: path
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
  checks:
    description:
      - Commands to run as the connecting user, each reported in RV(checks) - V(sudo) (C(sudo -n true),
        not run when the user is root), V(qemu) (C(qemu-system-x86_64 -version)), V(dib)
        (C(<dib_venv>/bin/disk-image-create --version), not run when RV(dib_version) is empty).
      - So a prepared host needs one module call for the whole prepare stage.
    type: list
    elements: str
    choices: [sudo, qemu, dib]
    default: []
  root:
    description:
      - Root of the file system tree whose C(etc/apt) and C(etc/os-release) are read.
      - Only useful for tests and for inspecting a chroot.
    type: path
    default: /
author:
  - dbaas.guest_images developers (@dbaas)
extends_documentation_fragment:
  - dbaas.guest_images._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
    details: It only inspects the build host; there is never anything to show.
  idempotent:
    support: full
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
os_family:
  description: Ansible's OS family name of the host (C(Debian), C(RedHat)), empty when unknown.
  returned: always
  type: str
  sample: Debian
user_id:
  description: Numeric user id the module runs as.
  returned: always
  type: int
  sample: 0
missing_packages:
  description: Packages of O(packages_by_family) for this OS family that are not installed.
  returned: always
  type: list
  elements: str
  sample: [kpartx]
dib_version:
  description: diskimage-builder version installed in O(dib_venv), empty when none.
  returned: always
  type: str
  sample: 3.43.0
fallback:
  description: Per tool (C(kpartx), C(dmsetup)) in O(fallback_dir) - C(path), C(exists), C(ours)
    (carries the fallback marker) and C(sha1).
  returned: when O(fallback_dir) is given
  type: dict
  sample: {"kpartx": {"path": "/usr/local/sbin/kpartx", "exists": true, "ours": true, "sha1": "0a1b..."}}
sudo_kpartx:
  description: The C(kpartx) that C(sudo) resolves (empty when sudo cannot run without a password).
  returned: when O(fallback_dir) is given
  type: str
  sample: /usr/local/sbin/kpartx
checks:
  description:
    - Per check of O(checks) that ran, C(rc), C(stdout) and C(stderr) (C(rc) 127 and the reason in
      C(stderr) when the command is not there).
  returned: always
  type: dict
  sample: {"dib": {"rc": 0, "stdout": "3.43.0", "stderr": ""}}
free_bytes:
  description: Free bytes of the file system of each path in O(paths).
  returned: always
  type: dict
  sample: {"/var/tmp": 85899345920}
"""

import os  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import apt_sources  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import facts as build_host  # noqa: E402
from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost.request import (  # noqa: E402
    BuildHostFactsRequest,
    argument_spec,
)


def _os_release(root):
    for candidate in ("etc/os-release", "usr/lib/os-release"):
        path = os.path.join(root, candidate)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                return build_host.parse_os_release(handle.read())
    return {}


def _missing_packages(module, family, wanted):
    if not wanted:
        return []
    if family == "Debian":
        dpkg_query = module.get_bin_path("dpkg-query", required=True)
        _rc, out, _err = module.run_command([dpkg_query, "-W", "-f", "${db:Status-Abbrev} ${Package}\\n"] + wanted)
        installed = build_host.installed_from_dpkg_query(out)
    elif family == "RedHat":
        rpm = module.get_bin_path("rpm", required=True)
        _rc, out, _err = module.run_command([rpm, "-q", "--qf", "%{NAME}\\n"] + wanted)
        installed = build_host.installed_from_rpm_query(out)
    else:
        return list(wanted)
    return build_host.missing_packages(wanted, installed)


def _sudo_kpartx(module):
    sudo = module.get_bin_path("sudo")
    if sudo is None:
        return ""
    rc, out, _err = module.run_command([sudo, "-n", "sh", "-c", "command -v kpartx"])
    return out.strip() if rc == 0 else ""


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


def _run_checks(module, request, dib_version):
    commands = {
        "sudo": ["sudo", "-n", "true"] if os.geteuid() != 0 else None,
        "qemu": ["qemu-system-x86_64", "-version"],
        "dib": [os.path.join(request.dib_venv, "bin", "disk-image-create"), "--version"]
        if request.dib_venv and dib_version else None,
    }
    results = {}
    for name in request.checks:
        argv = commands[name]
        if argv is None:
            continue
        executable = argv[0] if os.path.isabs(argv[0]) else module.get_bin_path(argv[0])
        if executable is None or not os.path.exists(executable):
            results[name] = {"rc": 127, "stdout": "", "stderr": f"{argv[0]}: command not found"}
            continue
        rc, out, err = module.run_command([executable] + argv[1:])
        results[name] = {"rc": rc, "stdout": out.strip(), "stderr": err.strip()}
    return results


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
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    request = BuildHostFactsRequest.from_params(module.params)
    release = _os_release(request.root)
    distribution = release.get("ID", "").lower()
    codename = release.get("VERSION_CODENAME", "")

    mirrors = {}
    if request.from_apt:
        entries = apt_sources.read_sources(request.root)
        mirrors = apt_sources.find_mirrors(entries, host_codename=codename, host_distribution=distribution)
    mirrors = apt_sources.override_mirrors(
        mirrors,
        debian_mirror=request.debian_mirror,
        debian_security_mirror=request.debian_security_mirror,
        ubuntu_mirror=request.ubuntu_mirror,
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

    family = build_host.os_family(release)
    wanted = request.wanted_packages(family)
    extra = {}
    if request.fallback_dir:
        extra["fallback"] = build_host.inspect_fallback(request.fallback_dir)
        extra["sudo_kpartx"] = _sudo_kpartx(module)

    dib_version = build_host.dib_version_in_venv(request.dib_venv) if request.dib_venv else ""
    module.exit_json(
        changed=False,
        os_family=family,
        user_id=os.geteuid(),
        missing_packages=_missing_packages(module, family, wanted),
        dib_version=dib_version,
        checks=_run_checks(module, request, dib_version),
        **extra,
        distribution=distribution,
        codename=codename,
        mirrors=mirrors,
        dib_environment=apt_sources.dib_environment(mirrors, distribution),
        dib_environment_by_distribution=apt_sources.dib_environment_by_distribution(mirrors),
        device_mapper=device_mapper,
        device_mapper_detail=device_mapper_detail,
        loop_device=loop_device,
        loop_device_error=loop_error,
        free_bytes=dict((path, _free_bytes(path)) for path in request.paths),
    )


if __name__ == "__main__":
    main()
