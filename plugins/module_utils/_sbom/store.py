# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An image's SBOM files beside it: made from the build's inventory, staged, moved into place.

PRIVATE to the collection: no compatibility promise outside it.

``<dest>/<name>.cdx.json`` is the SBOM of the image now at ``<dest>``;
``<dest>/<name>.cdx.previous.json`` is the one of the build before it, kept
so that the report can say what changed. :func:`stage` writes the new
document into the build's work folder (nothing at ``dest`` changes while the
build can still fail); :func:`install` moves it into place with the image.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import file_digest
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import changes as sbom_changes
from ansible_collections.dbaas.guest_images.plugins.module_utils._sbom import document, inventory

SUFFIX = ".cdx.json"
PREVIOUS_SUFFIX = ".cdx.previous.json"
# What a reused image's row says instead of a comparison.
UNCHANGED = "unchanged"


def sbom_path(dest: str, name: str) -> str:
    return os.path.join(dest, name + SUFFIX)


def previous_path(dest: str, name: str) -> str:
    return os.path.join(dest, name + PREVIOUS_SUFFIX)


def dumps(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def load_document(path: str) -> dict[str, Any] | None:
    """The SBOM at ``path``, or None when there is none or it is not a CycloneDX document."""
    try:
        with open(path, encoding="utf-8") as handle:
            doc = json.load(handle)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("bomFormat") == "CycloneDX" else None


@dataclasses.dataclass(frozen=True)
class StagedSbom:
    staged: str
    path: str
    previous_path: str
    sha256: str
    summary: dict[str, int]
    # None: no earlier SBOM of this image to compare with.
    changes: dict[str, list[dict[str, str]]] | None
    seconds: float

    def record(self) -> dict[str, Any]:
        """What the fingerprint record keeps (and a reused image reports)."""
        return {"path": self.path, "sha256": self.sha256, "summary": dict(self.summary)}

    def result(self) -> dict[str, Any]:
        """What dib_image returns for a built image."""
        out = self.record()
        out.update(changes=self.changes, seconds=self.seconds)
        if self.changes is not None:
            out["previous_path"] = self.previous_path
        return out


def stage(
    *,
    inventory_path: str,
    work_dir: str,
    dest: str,
    name: str,
    outputs: Sequence[Mapping[str, Any]],
    dib_version: str,
    arch: str,
    element_content: Mapping[str, str],
) -> StagedSbom:
    """Build the SBOM from the inventory into ``work_dir`` and compare it with the current one at ``dest``."""
    started = time.monotonic()
    found = inventory.load(inventory_path)
    doc = document.build_document(name=name, inventory=found, outputs=outputs, dib_version=dib_version, arch=arch,
                                  elements=element_content)
    staged = os.path.join(work_dir, name + SUFFIX)
    with open(staged, "w", encoding="utf-8") as handle:
        handle.write(dumps(doc))
    os.chmod(staged, 0o644)
    current = load_document(sbom_path(dest, name))
    return StagedSbom(
        staged=staged,
        path=sbom_path(dest, name),
        previous_path=previous_path(dest, name),
        sha256=file_digest(staged, "sha256"),
        summary=document.summary(doc),
        changes=None if current is None else sbom_changes.compare(current, doc),
        seconds=round(time.monotonic() - started, 3),
    )


def install(staged: StagedSbom) -> None:
    """The current SBOM becomes the previous one; the staged one becomes current."""
    if os.path.exists(staged.path):
        os.replace(staged.path, staged.previous_path)
    os.replace(staged.staged, staged.path)


def reused(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A reused image's SBOM entry from its fingerprint record, when the file is still the one recorded."""
    entry = (record or {}).get("sbom")
    if not isinstance(entry, dict) or not entry.get("path"):
        return None
    try:
        if file_digest(str(entry["path"]), "sha256") != entry.get("sha256"):
            return None
    except OSError:
        return None
    return dict(entry, changes=UNCHANGED)
