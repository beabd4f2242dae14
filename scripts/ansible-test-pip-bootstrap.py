"""Offline stand-in for the get-pip.py script that ansible-test downloads.

ansible-test puts pip into each virtual environment it creates by running a
cached get-pip script, which it otherwise fetches from a host that build
machines behind strict egress rules cannot reach. This script does the same
from the standard library's bundled pip, then installs the exact pip version
ansible-test asked for from the ordinary package index.

ansible-test runs it as __main__ with get-pip's arguments.
"""

import subprocess
import sys

# get-pip.py options that pip install itself does not know.
_GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}

# In a child process: ensurepip.bootstrap() in-process points PIP_CONFIG_FILE
# at /dev/null, which would hide the host's pip configuration (index, CA
# bundle) from the install below.
subprocess.check_call([sys.executable, "-m", "ensurepip", "--upgrade"])
args = [arg for arg in sys.argv[1:] if arg not in _GET_PIP_ONLY]
sys.exit(subprocess.call([sys.executable, "-m", "pip", "install", *args]))
