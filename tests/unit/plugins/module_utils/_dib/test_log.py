# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# ruff: noqa: E501 -- the fixtures are real DIB log lines, kept whole
"""Error extraction from DIB logs.

The fixtures are excerpts of real DIB 3.43 logs from failed bookworm builds
on a build host (lines kept in order, long stretches of package output cut
where marked).
"""

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import log as dib_log

# debian-minimal cloud-init cloud-init-datasources without DIB_CLOUD_INIT_DATASOURCES.
DATASOURCES_UNSET = """\
2026-11-25 02:45:05.720 | diskimage-builder version 3.43.0
2026-11-25 02:45:05.720 | Building elements: base debian-minimal cloud-init cloud-init-datasources
2026-11-25 02:45:05.946 | Building in /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z
2026-11-25 02:46:17.452 | 6 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.
2026-11-25 02:46:17.692 | debconf: delaying package configuration, since apt-utils is not installed
2026-11-25 02:46:17.753 | E: Can not write log (Is /dev/pts mounted?) - posix_openpt (19: No such device)
2026-11-25 02:48:41.581 | > update-initramfs: Generating /boot/initrd.img-6.1.0-56-amd64
2026-11-25 02:48:41.609 | > W: No zstd in /usr/bin:/sbin:/bin, using gzip
2026-11-25 02:49:52.436 | returncode: 0
2026-11-25 02:49:52.449 | dib-run-parts 01-package-installs completed
2026-11-25 02:49:52.449 | dib-run-parts Running /tmp/in_target.d/install.d/05-set-cloud-init-sources
2026-11-25 02:49:52.454 | DIB_CLOUD_INIT_DATASOURCES must be set to a comma-separated list \n\
2026-11-25 02:49:52.454 | of cloud-init data sources you wish to use, ie 'Ec2, NoCloud, ConfigDrive'
2026-11-25 02:49:52.491 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z/mnt/var/cache/apt/archives
2026-11-25 02:49:52.504 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z/mnt/tmp/in_target.d
2026-11-25 02:49:52.529 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z/mnt/sys
2026-11-25 02:49:52.535 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z/mnt/proc
2026-11-25 02:49:52.589 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z/mnt/dev/pts
2026-11-25 02:49:52.605 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.XGxYww5z/mnt/dev
2026-11-25 02:49:52.912 | INFO diskimage_builder.block_device.blockdevice [-] State already cleaned - no way to do anything here
"""

# debian-minimal with -p no-such-package-dbaas: every hook completes, the extra
# package install after install.d fails in apt.
UNKNOWN_PACKAGE = """\
2026-11-25 02:49:54.020 | diskimage-builder version 3.43.0
2026-11-25 02:49:54.028 | Building elements: base debian-minimal
2026-11-25 02:50:44.441 | E: Can not write log (Is /dev/pts mounted?) - posix_openpt (19: No such device)
2026-11-25 02:51:55.204 | dib-run-parts Running /tmp/in_target.d/pre-install.d/99-package-uninstalls
2026-11-25 02:51:55.231 | Not running install-packages remove with empty packages list
2026-11-25 02:51:55.310 | dib-run-parts 99-package-uninstalls completed
2026-11-25 02:54:09.508 | Running command: ['install-packages', '-e']
2026-11-25 02:54:09.574 | dib-run-parts 99-package-uninstalls completed
2026-11-25 02:54:09.623 | dib-run-parts 01-package-installs                         121.313
2026-11-25 02:54:09.752 | dib-run-parts --------------------- END PROFILING ---------------------
2026-11-25 02:54:10.006 | Reading package lists...
2026-11-25 02:54:10.788 | Building dependency tree...
2026-11-25 02:54:10.790 | Reading state information...
2026-11-25 02:54:10.819 | E: Unable to locate package no-such-package-dbaas
2026-11-25 02:54:10.923 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.0L1VrvLr/mnt/var/cache/apt/archives
2026-11-25 02:54:11.054 | Unmount /var/lib/guest-images/.debian-12.tmp-abcd/tmp/dib_build.0L1VrvLr/mnt/dev
2026-11-25 02:54:11.855 | INFO diskimage_builder.block_device.blockdevice [-] State already cleaned - no way to do anything here
"""

# An element name DIB does not know (complete log).
UNKNOWN_ELEMENT = """\
2026-11-25 02:54:46.400 | diskimage-builder version 3.43.0
2026-11-25 02:54:46.408 | Building elements: base debian-minimal no-such-element-x
2026-11-25 02:54:47.134 | Traceback (most recent call last):
2026-11-25 02:54:47.134 |   File "/opt/dib/lib/python3.11/site-packages/diskimage_builder/lib/element-info.py", line 7, in <module>
2026-11-25 02:54:47.134 |     sys.exit(main())
2026-11-25 02:54:47.135 |              ^^^^^^
2026-11-25 02:54:47.135 |   File "/opt/dib/lib/python3.11/site-packages/diskimage_builder/element_dependencies.py", line 342, in main
2026-11-25 02:54:47.135 |     elements = _get_elements(args.elements)
2026-11-25 02:54:47.136 |                ^^^^^^^^^^^^^^^^^^^^^^^^^^^^
2026-11-25 02:54:47.136 |   File "/opt/dib/lib/python3.11/site-packages/diskimage_builder/element_dependencies.py", line 148, in _expand_element_dependencies
2026-11-25 02:54:47.136 |     raise MissingElementException("Element '%s' not found" % element)
2026-11-25 02:54:47.136 | diskimage_builder.element_dependencies.MissingElementException: Element 'no-such-element-x' not found
"""

# With DIB_DEBUG_TRACE=1 hooks echo their commands; an "ERROR" inside an
# echoed command is not an error, the hook's own output is.
TRACED_HOOK = """\
2026-11-25 03:10:01.000 | dib-run-parts Running /var/lib/x/tmp/dib_build.AbC/hooks/extra-data.d/50-trove-wheels
2026-11-25 03:10:01.001 | + '[' -z /srv/wheelhouse ']'
2026-11-25 03:10:01.002 | + echo 'ERROR: DATASTORE_PKG_LOCATION is empty'
2026-11-25 03:10:01.003 | + cp -r /srv/wheelhouse/. /var/lib/x/tmp/dib_build.AbC/mnt/opt/wheels/
2026-11-25 03:10:01.004 | cp: cannot stat '/srv/wheelhouse/.': No such file or directory
2026-11-25 03:10:01.010 | + trap_cleanup
2026-11-25 03:10:01.011 | + exitval=1
"""


def test_datasources_unset():
    found = dib_log.extract_errors(DATASOURCES_UNSET)
    assert found["failed_hook"] == "/tmp/in_target.d/install.d/05-set-cloud-init-sources"
    assert found["phase"] == "install.d"
    assert found["lines"] == [
        "DIB_CLOUD_INIT_DATASOURCES must be set to a comma-separated list",
        "of cloud-init data sources you wish to use, ie 'Ec2, NoCloud, ConfigDrive'",
    ]
    assert dib_log.hook_label(found["failed_hook"]) == "install.d/05-set-cloud-init-sources"


def test_unknown_package():
    found = dib_log.extract_errors(UNKNOWN_PACKAGE)
    assert found["failed_hook"] is None
    assert found["lines"] == ["E: Unable to locate package no-such-package-dbaas"]


def test_unknown_element_traceback_last_line():
    found = dib_log.extract_errors(UNKNOWN_ELEMENT)
    assert found["lines"] == [
        "diskimage_builder.element_dependencies.MissingElementException: Element 'no-such-element-x' not found"
    ]


def test_traced_hook_keeps_real_output_and_skips_echoed_commands():
    found = dib_log.extract_errors(TRACED_HOOK)
    assert found["failed_hook"].endswith("extra-data.d/50-trove-wheels")
    assert found["lines"] == ["cp: cannot stat '/srv/wheelhouse/.': No such file or directory"]


def test_dib_own_error_lines_and_cap():
    noisy = "".join(f"2026-11-25 03:00:{i % 60:02d}.000 | ERROR: problem number {i}\n" for i in range(40))
    found = dib_log.extract_errors(noisy, max_lines=15)
    assert len(found["lines"]) == 15
    assert found["lines"][-1] == "ERROR: problem number 39"


def test_completed_hooks_are_not_blamed():
    text = (
        "2026-11-25 03:00:00.000 | dib-run-parts Running /tmp/in_target.d/install.d/10-a\n"
        "2026-11-25 03:00:01.000 | dib-run-parts 10-a completed\n"
        "2026-11-25 03:00:02.000 | dib-run-parts Running /tmp/in_target.d/install.d/20-b\n"
        "2026-11-25 03:00:03.000 | something went wrong in b\n"
    )
    found = dib_log.extract_errors(text)
    assert found["failed_hook"] == "/tmp/in_target.d/install.d/20-b"
    assert found["lines"] == ["something went wrong in b"]


def test_tail_lines_fallback():
    assert dib_log.tail_lines("a\n+ traced\nb\n", 5) == ["a", "b"]
