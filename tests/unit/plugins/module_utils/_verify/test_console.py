# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import console

CONSOLE = (
    "\x1b[0;32m  OK  \x1b[0m] Started cloud-init.\r\n"
    "[   61.2] cloud-init[700]: Cloud-init v. 22.4.2 finished at Thu, 03 Dec 2026 09:00:00 +0000. "
    "Datasource DataSourceConfigDrive [net,ver=2][source=/dev/sr0].  Up 61.00 seconds\r\n"
    "[   70.1] trove-guestagent[812]: 2026-12-03 INFO oslo.messaging._drivers.impl_rabbit [-] "
    "Connected to AMQP server on 10.0.2.100:5672 via [amqp] client with port 40000.\r\n"
    "[   71.0] trove-guestagent[812]: 2026-12-03 ERROR trove.guestagent DockerException: no engine\r\n"
    "[   72.0] trove-guestagent[812]: 2026-12-03 INFO all fine\r\n"
    "[   73.0] cloud-init[700]: failed: Unknown user or group ubuntu\r\n"
)


def test_milestones_are_found_in_the_plain_console():
    text = console.plain(CONSOLE)
    assert "\x1b" not in text and "\r" not in text
    assert console.CLOUD_INIT_DONE.search(text)
    assert console.AGENT_CONNECTED.search(text)
    assert not console.KERNEL_STARTED.search(text)


def test_agent_errors_are_the_agent_error_lines_and_cloud_init_refusals():
    errors = console.agent_errors(CONSOLE)
    assert len(errors) == 2
    assert "DockerException" in errors[0]
    assert "Unknown user or group" in errors[1]
    assert console.agent_errors(CONSOLE, lines=1) == errors[-1:]


def test_tail_keeps_the_last_lines():
    assert console.tail(CONSOLE, 1).endswith("Unknown user or group ubuntu")


def test_spinner_runs_and_cursor_codes_do_not_fill_the_tail():
    spinning = "".join(f"\x1bM\x1b[K[{'*' * (i % 3 + 1):<6}] Job docker.service/start running ({i}s / no limit)\r\n"
                       for i in range(50))
    text = "[  OK  ] Started a.\r\n" + spinning + "[  OK  ] Started docker.service.\r\n"
    assert console.tail(text, 3).splitlines() == [
        "[  OK  ] Started a.", "[**    ] Job docker.service/start running (49s / no limit)",
        "[  OK  ] Started docker.service."]


def test_the_agent_start_line_of_trove_26_marks_rpc_up():
    line = ("[ 1090.59] trove-guestagent[717]: 2026-12-03 09:57:41.705 717 INFO "
            "trove.guestagent.module.driver_manager [-] Loaded module driver: ping\r\n")
    assert console.AGENT_CONNECTED.search(console.plain(line))
