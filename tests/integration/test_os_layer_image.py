# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the OS layer leaves in a built Trove image, read from its file system.

Complements the boot test: the things a boot does not show (what must NOT be
in the image, and how the agent is installed).
"""

import os
import stat

from lib.imageinspect import mounted_root


def test_os_layer_files_and_no_build_leftovers(trove_images):
    with mounted_root(trove_images.container.qcow2) as root:
        # The agent: venv from the wheelhouse, entry point, unit enabled (and its alias).
        assert (root / "opt/trove-guestagent/bin/trove-guestagent").is_file()
        dist = list((root / "opt/trove-guestagent/lib").glob("python3.11/site-packages/trove-26.0.0.dist-info"))
        assert dist, "trove 26.0.0 is not installed in the agent venv for Python 3.11"
        unit = (root / "etc/systemd/system/guest-agent.service").read_text()
        assert "After=network-online.target cloud-config.service" in unit
        assert "ExecStart=/opt/trove-guestagent/bin/trove-guestagent --config-dir=/etc/trove/conf.d" in unit
        assert os.readlink(root / "etc/systemd/system/multi-user.target.wants/guest-agent.service")
        assert (root / "etc/systemd/system/trove-guest-agent.service").is_symlink()
        # User, folders, sudo rule.
        passwd = (root / "etc/passwd").read_text()
        assert any(line.startswith("trove:") for line in passwd.splitlines())
        group = (root / "etc/group").read_text()
        docker = [line for line in group.splitlines() if line.startswith("docker:")]
        assert docker and "trove" in docker[0].split(":")[3].split(","), "trove is not in the docker group"
        conf_d = (root / "etc/trove/conf.d").stat()
        assert stat.S_IMODE(conf_d.st_mode) == 0o750
        assert (root / "var/log/trove").is_dir() and (root / "var/lib/trove").is_dir()
        assert "trove ALL=(ALL) NOPASSWD: ALL" in (root / "etc/sudoers.d/60-trove-guestagent").read_text()
        # Serial console and cloud-init data sources.
        assert (root / "etc/systemd/system/getty.target.wants/serial-getty@ttyS0.service").is_symlink()
        grub = (root / "boot/grub/grub.cfg").read_text()
        assert "console=ttyS0,115200" in grub
        datasources = "".join(p.read_text() for p in (root / "etc/cloud/cloud.cfg.d").glob("*.cfg"))
        assert "ConfigDrive" in datasources and "OpenStack" in datasources
        # Nothing of the build that identifies or authenticates: no SSH host
        # keys, an empty machine id, no wheelhouse, no pip cache, no build CA.
        assert not list((root / "etc/ssh").glob("ssh_host_*")), "SSH host keys baked into the image"
        assert (root / "etc/machine-id").read_text().strip() == ""
        assert not (root / "tmp/in_target.d").exists()
        for folder in ("tmp", "var/tmp", "opt", "root"):
            assert not list((root / folder).glob("**/trove-*.whl")), f"wheelhouse left in /{folder}"
        assert not (root / "root/.cache/pip").exists()
        assert not list((root / "usr/local/share/ca-certificates").glob("dbaas-build-ca-*"))
        assert not list((root / "etc/network/interfaces.d").glob("eth*"))
        # Time zone default.
        assert (root / "etc/timezone").read_text().strip() == "Etc/UTC"
