# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The keyed debootstrap base cache, seen in real builds that the session makes anyway.

The base image is built on the session's shared DIB image cache, the two Trove
images (one run) on a cache of their own (``fixtures/layers.py``): on each
cache, whichever build comes first runs debootstrap and caches its result with
a key, every later one unpacks the tarball instead.
"""

import pathlib

CACHED = "Caching debootstrap result in"
USED = "found in cache. Using."
TARBALL = "debootstrap-debian-bookworm-amd64.tar.gz"


def _log(output_dir: pathlib.Path, name: str) -> str:
    return (output_dir / f"{name}.log").read_text(errors="replace")


def _check_cache(cache: pathlib.Path, logs: dict, made_here: bool) -> None:
    """One debootstrap at most on ``cache`` (exactly one when ``made_here``), every other build unpacked it."""
    tarball = cache / TARBALL
    assert tarball.is_file(), sorted(p.name for p in cache.iterdir())
    key = pathlib.Path(f"{tarball}.key")
    assert key.is_file() and len(key.read_text().strip()) == 64
    made = [name for name, text in logs.items() if USED not in text]
    expected = "exactly one" if made_here else "at most one"
    assert len(made) == 1 if made_here else len(made) <= 1, \
        f"expected {expected} build on {cache} to run debootstrap, these did: {made}"
    if made:
        # The one that ran debootstrap cached its result (DIB prints the line either way; the file proves it).
        assert CACHED in logs[made[0]]
    for name, text in logs.items():
        if name not in made:
            assert f"{tarball.name} {USED}" in text, f"{name} did not unpack the cached base"


def test_one_debootstrap_per_cache_then_the_keyed_tarball(base_image, trove_images, build_cache_dir):
    # The Trove images' cache is theirs alone: the first of the two made the tarball, the second used it.
    _check_cache(trove_images.cache_dir, {
        trove_images.container.name: _log(trove_images.output_dir, trove_images.container.name),
        trove_images.package.name: _log(trove_images.output_dir, trove_images.package.name),
    }, made_here=True)
    # The shared cache: the base image made it, or unpacked one an earlier build of the run made.
    name = base_image.report_entry["name"]
    _check_cache(build_cache_dir, {name: _log(base_image.output_dir, name)}, made_here=False)
