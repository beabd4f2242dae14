# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the guest's serial console says: milestones and the agent's error lines.

PRIVATE to the collection: no compatibility promise outside it.

The console carries ANSI colour codes and carriage returns; both are removed
before matching. The agent's lines come from its unit (``SyslogIdentifier``
``trove-guestagent``, journal+console) and from its precheck.
"""

from __future__ import annotations

import re

ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[@-Z\\-_])")
# systemd's progress spinner ("[***   ] Job docker.service/start running (10min 53s / no limit)").
SPINNER = re.compile(r"^\s*\[[ *]+\] (A start job is running for|A stop job is running for|Job) ")
KERNEL_STARTED = re.compile(r"Linux version \d")
CLOUD_INIT_DONE = re.compile(r"Cloud-init v\. \S+ finished at")
# The agent's RPC server is being started: its manager's last start-up line (the module drivers are
# loaded in the manager's constructor, right before the RPC service starts), or oslo.messaging's line
# when the broker connection is logged. Trove 26 logs no line once the server consumes.
AGENT_CONNECTED = re.compile(
    r"trove-guestagent\[\d+\]: .*(Connected to AMQP server on|Loaded module driver: ping)")
AGENT_LINE = re.compile(r"trove-guestagent(\[\d+\])?:")
AGENT_ERROR = re.compile(
    r"ERROR|CRITICAL|Traceback|Exception|Error:|ACCESS_REFUSED|not started|is missing|Unknown user or group")
CLOUD_INIT_ERROR = re.compile(r"Unknown user or group|getpwnam\(\): name not found|cc_write_files.*(failed|Error)")


def plain(text: str) -> str:
    """Console text without colour codes and carriage returns."""
    return ANSI.sub("", text.replace("\r", ""))


def tail(text: str, lines: int = 40) -> str:
    """The last ``lines`` lines of the plain console; a run of systemd spinner lines counts as its last one."""
    kept: list[str] = []
    for line in plain(text).splitlines():
        if kept and SPINNER.search(line) and SPINNER.search(kept[-1]):
            kept[-1] = line
        else:
            kept.append(line)
    return "\n".join(kept[-lines:])


def agent_errors(text: str, lines: int = 15) -> list[str]:
    """The agent's last error lines (and cloud-init's write-files refusals) on the console."""
    found = [line.strip() for line in plain(text).splitlines()
             if (AGENT_LINE.search(line) and AGENT_ERROR.search(line)) or CLOUD_INIT_ERROR.search(line)]
    return found[-lines:]
