"""Integration test session: expensive things are built or started once.

Each fixture module below owns one kind of shared resource; tests ask for the
fixture they need and pytest builds or starts it the first time it is asked
for in the run, then hands the same one to every later test. The shared images are built in
the background from the run's start, and the tests that need none run first
(``fixtures/background.py``); the tests on SSH build hosts run beside the
others in a second process (``fixtures/lanes.py``).
"""

pytest_plugins = [
    "fixtures.lanes",
    "fixtures.background",
    "fixtures.build",
    "fixtures.cloud",
    "fixtures.layers",
    "fixtures.boot",
    "fixtures.trove",
    "fixtures.broker",
]
