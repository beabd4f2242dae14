# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keyed debootstrap base cache, seen in real builds that the session makes anyway.

The base image and the two Trove images are all Debian 12 builds on one DIB
image cache: whichever is built first runs debootstrap and caches its result
with a key, every later one unpacks the tarball instead.
"""

import pathlib

CACHED = "Caching debootstrap result in"
USED = "found in cache. Using."


def _log(output_dir: pathlib.Path, name: str) -> str:
    return (output_dir / f"{name}.log").read_text(errors="replace")


def test_one_debootstrap_per_cache_then_the_keyed_tarball(base_image, trove_images, build_cache_dir):
    tarball = build_cache_dir / "debootstrap-debian-bookworm-amd64.tar.gz"
    assert tarball.is_file(), sorted(p.name for p in build_cache_dir.iterdir())
    key = pathlib.Path(f"{tarball}.key")
    assert key.is_file() and len(key.read_text().strip()) == 64

    logs = {
        base_image.report_entry["name"]: _log(base_image.output_dir, base_image.report_entry["name"]),
        trove_images.container.name: _log(trove_images.output_dir, trove_images.container.name),
        trove_images.package.name: _log(trove_images.output_dir, trove_images.package.name),
    }
    made = [name for name, text in logs.items() if USED not in text]
    assert len(made) == 1, f"expected exactly one build to run debootstrap, these did: {made}"
    # The one that ran debootstrap cached its result (DIB prints the line either way; the file proves it).
    assert CACHED in logs[made[0]]
    for name, text in logs.items():
        if name not in made:
            assert f"{tarball.name} {USED}" in text, f"{name} did not unpack the cached base"
