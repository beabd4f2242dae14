# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import qemu


def machine(accelerator="tcg"):
    return qemu.Machine(image="/out/img.qcow2", config_drive="/w/cd.iso", volume_gib=2, memory_mib=2048, cpus=2,
                        accelerator=accelerator,
                        forwards=(qemu.guestfwd("10.0.2.100", 5672, "127.0.0.1", 40001),))


def test_the_image_is_only_a_backing_file_and_the_network_is_restricted():
    argv = qemu.argv(machine(), "/w/root.qcow2", "/w/volume.raw", "/w/serial.log")
    drives = [argv[i + 1] for i, arg in enumerate(argv) if arg == "-drive"]
    assert drives[0] == "file=/w/root.qcow2,if=virtio,format=qcow2"
    assert drives[1] == "file=/w/volume.raw,if=virtio,format=raw"
    assert drives[2] == "file=/w/cd.iso,if=ide,media=cdrom,format=raw,readonly=on"
    assert not any("/out/img.qcow2" in arg for arg in argv)
    nic = argv[argv.index("-nic") + 1]
    assert nic.split(",")[:3] == ["user", "model=virtio-net-pci", "restrict=on"]
    assert "guestfwd=tcp:10.0.2.100:5672-cmd:socat STDIO TCP:127.0.0.1:40001" in nic
    assert "-no-reboot" in argv


def test_accelerator_arguments():
    assert qemu.accel_args("tcg") == ["-accel", "tcg", "-cpu", "max"]
    assert qemu.accel_args("kvm") == ["-accel", "kvm", "-cpu", "host"]
    argv = qemu.argv(machine("kvm"), "o", "v", "s")
    assert argv[argv.index("-accel") + 1] == "kvm"
