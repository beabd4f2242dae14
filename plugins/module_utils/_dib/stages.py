# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where one ``dib_image`` run spent its time: measured seconds per step (the result's ``stages``).

PRIVATE to the collection: no compatibility promise outside it.

The steps, in the order a build runs them:

* ``validate``: the options' checks and the elements' resolution;
* ``fingerprint``: DIB's version, the inputs' content, the record and the rebuild decision;
* ``lock_wait``: waiting for the image's lock and the shared DIB cache's lock;
* ``dib``: ``disk-image-create`` itself, from its start to its exit (the result's ``phases``
  split it by DIB phase);
* ``outputs``: after DIB: ``qemu-img check``, format, size and sha256 of each output, releasing
  the work folder's mounts and loop devices, the log, the record, moving the files into place;
* ``sbom``: the image's SBOM made from DIB's inventory, compared and put in place.

The action plugin puts ``ship`` (controller files copied to the build host)
before these when it shipped any. A reused image spends only ``validate`` and
``fingerprint``. Only steps that ran appear; each
is measured with a monotonic clock, never estimated.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

VALIDATE = "validate"
FINGERPRINT = "fingerprint"
LOCK_WAIT = "lock_wait"
DIB = "dib"
OUTPUTS = "outputs"
SBOM = "sbom"


class StageClock:
    """Seconds per step of one run; a step measured twice adds up."""

    def __init__(self) -> None:
        self._seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def measure(self, stage: str) -> Iterator[None]:
        """Time the block as ``stage`` (the time counts when the block raises too)."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.add(stage, time.monotonic() - started)

    def add(self, stage: str, seconds: float) -> None:
        self._seconds[stage] = self._seconds.get(stage, 0.0) + max(0.0, seconds)

    def result(self) -> dict[str, float]:
        """The steps measured so far, in the order they first ran, in seconds (3 decimals)."""
        return {stage: round(seconds, 3) for stage, seconds in self._seconds.items()}
