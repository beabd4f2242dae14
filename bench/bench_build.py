#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the build stage against raw diskimage-builder, and warm rebuilds.

One run measures, on this machine, side by side:

plain (the plain Debian 12 image of the build tests, ``debian-12-base``):
  1. cold build: ``playbooks/build_guest.yml`` into a fresh output folder
     (no outputs, no fingerprint; the package downloads already cached by an
     untimed warm-up, the debootstrap base not yet);
  2. no-op rerun: the same playbook again (nothing changed, DIB must not run);
  3. raw DIB: ``disk-image-create`` with the same elements and environment
     (including the build host's mirror variables), same download cache;
  4. warm rebuild: the playbook again with ``build_guest_force`` (the
     debootstrap base now comes from the keyed cache).

trove (the playbook's default image, ``trove-debian-12-mysql-8.0-container``):
  1. first build on empty caches (no downloads, no debootstrap base, no
     guest agent wheelhouse);
  2. warm rebuild after a late-layer change only (a datastore container image
     tarball added to the entry);
  3. cold build into a fresh output folder on the now warm caches, and raw DIB
     with exactly the spec the playbook composed (``bench/compose_specs.yml``)
     on the same caches: the collection's own cost.

For each playbook build and raw DIB run the seconds per DIB phase are printed
side by side (read from each build's DIB log with the collection's own
parser), plus the time outside DIB. Ratios against the targets:

- cold build / raw DIB <= 1.05 (the collection adds at most 5 %), both images;
- no-op rerun / cold build <= 0.03;
- warm rebuild after a late-layer change / first build <= 0.6 (Trove image).

Needs root (like DIB itself) and the test venv (``scripts/run setup test``).
Not run in CI: a run takes several full builds.

    python3 bench/bench_build.py [--images plain,trove] [--workdir DIR] [--keep] [--json FILE]
"""

import argparse
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from fixtures import build as build_fixtures  # noqa: E402
from lib.container_tarball import build_image_tarball  # noqa: E402

TARGET_COLD_OVER_RAW = 1.05
TARGET_NOOP_OVER_COLD = 0.03
TARGET_WARM_OVER_FIRST = 0.6
TROVE_IMAGE = "trove-debian-12-mysql-8.0-container"
TROVE_ENTRY = {"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}


def _collection_import(env):
    sys.path.insert(0, env["ANSIBLE_COLLECTIONS_PATH"].split(os.pathsep)[0])
    from ansible_collections.dbaas.guest_images.plugins.module_utils._buildhost import apt_sources
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.phases import phase_durations

    return apt_sources, phase_durations


def _timed_playbook(env, extra_vars, playbook="build_guest.yml"):
    started = time.monotonic()
    run = build_fixtures.run_playbook_with(env, playbook, extra_vars)
    elapsed = time.monotonic() - started
    if run.rc != 0:
        sys.exit(f"{playbook} failed (rc {run.rc}):\n{run.output[-5000:]}")
    return elapsed, run


def _expect(run, name, status):
    row = run.image(name)
    if row is None or row.get("status") != status:
        sys.exit(f"{name}: expected status {status}, the report says {row}")


def _compose(env, extra_vars, folder: pathlib.Path) -> dict:
    """The specs and the build host's DIB environment, as the playbook composes them."""
    specs_file = folder / "specs.json"
    _timed_playbook(env, dict(extra_vars, bench_specs_file=str(specs_file)), str(REPO / "bench" / "compose_specs.yml"))
    return json.loads(specs_file.read_text())


def _raw_dib(env, spec, dib_env, cache_dir, dest: pathlib.Path, dib_command: str) -> tuple[float, pathlib.Path]:
    """disk-image-create as dib_image would call it, without the collection around it."""
    dest.mkdir(parents=True, exist_ok=True)
    run_env = {key: env[key] for key in ("HOME", "PATH", "LANG", "http_proxy", "https_proxy", "no_proxy") if key in env}
    run_env.update(dib_env)
    run_env.update(spec.get("environment") or {})
    run_env.update(spec.get("inputs") or {})
    if spec.get("element_paths"):
        run_env["ELEMENTS_PATH"] = ":".join(spec["element_paths"])
    run_env["DIB_IMAGE_CACHE"] = str(cache_dir)
    run_env["TMP_DIR"] = run_env["TMPDIR"] = str(dest)
    # The composed spec carries the dbaas-sbom element; it writes its inventory here, as under dib_image.
    run_env["DBAAS_SBOM_INVENTORY"] = str(dest / "sbom-inventory.json")
    run_env["PATH"] = f"{os.path.dirname(dib_command)}:{run_env.get('PATH', '')}:/usr/local/sbin:/usr/sbin:/sbin"
    log = dest / "dib.log"
    # The argv dib_image would give DIB for this spec.
    from ansible_collections.dbaas.guest_images.plugins.module_utils._dib.argv import build_argv

    argv = build_argv(dib_command, out_base=str(dest / spec["name"]), formats=spec.get("formats") or ["qcow2"],
                      elements=list(spec["elements"]), logfile=str(log), size=spec.get("size"),
                      arch=spec.get("arch") or "amd64", packages=spec.get("packages") or [],
                      compress=spec.get("compress", True))
    started = time.monotonic()
    proc = subprocess.run(argv, env=run_env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"raw disk-image-create failed (rc {proc.returncode}):\n{(proc.stdout + proc.stderr)[-5000:]}")
    return elapsed, log


def _phases(phase_durations, log: pathlib.Path) -> dict:
    return phase_durations(log.read_text(errors="replace"))


def _print_breakdown(title, columns: dict[str, tuple[float, dict]]):
    """Seconds per DIB phase of each run, and the time outside DIB."""
    names = []
    for _total, phases in columns.values():
        names += [phase for phase in phases if phase not in names]
    print(f"\n{title}: seconds per phase")
    print(f"{'phase':<16}" + "".join(f"{label:>16}" for label in columns))
    for phase in names:
        print(f"{phase:<16}" + "".join(f"{phases.get(phase, 0.0):16.1f}" for _t, phases in columns.values()))
    print(f"{'DIB in all':<16}" + "".join(f"{sum(p.values()):16.1f}" for _t, p in columns.values()))
    print(f"{'outside DIB':<16}" + "".join(f"{t - sum(p.values()):16.1f}" for t, p in columns.values()))
    print(f"{'wall clock':<16}" + "".join(f"{t:16.1f}" for t, _p in columns.values()))


def _verdict(label, value, target):
    print(f"{label:<40} = {value:6.3f}  (target <= {target:.2f}: {'ok' if value <= target else 'MISSED'})")


def bench_plain(env, workdir, phase_durations, results):
    image = dict(build_fixtures.BASE_IMAGE_ENTRY)
    cache_dir = workdir / "plain-cache"
    cache_dir.mkdir()
    base_vars = build_fixtures.base_image_vars(workdir / "plain-warmup", cache_dir)
    composed = _compose(env, base_vars, workdir)
    spec = composed["specs"][0]
    dib_env = _dib_environment(composed, spec)
    print("plain: warm-up raw DIB build to fill the download cache (not timed) ...", flush=True)
    _raw_dib(env, spec, dib_env, cache_dir, workdir / "plain-warmup-raw", composed["dib_command"])
    shutil.rmtree(workdir / "plain-warmup-raw")

    cold_vars = build_fixtures.base_image_vars(workdir / "plain-collection", cache_dir)
    print("plain: cold build with playbooks/build_guest.yml ...", flush=True)
    cold, run = _timed_playbook(env, cold_vars)
    _expect(run, image["name"], "built")
    cold_phases = _phases(phase_durations, workdir / "plain-collection" / f"{image['name']}.log")
    print("plain: no-op rerun ...", flush=True)
    noop, run = _timed_playbook(env, cold_vars)
    _expect(run, image["name"], "reused")
    print("plain: raw disk-image-create ...", flush=True)
    raw, raw_log = _raw_dib(env, spec, dib_env, cache_dir, workdir / "plain-raw", composed["dib_command"])
    raw_phases = _phases(phase_durations, raw_log)
    print("plain: warm rebuild (forced; debootstrap base from the keyed cache) ...", flush=True)
    warm, run = _timed_playbook(env, dict(cold_vars, build_guest_force=True))
    _expect(run, image["name"], "built")
    warm_phases = _phases(phase_durations, workdir / "plain-collection" / f"{image['name']}.log")

    _print_breakdown("plain image", {"cold playbook": (cold, cold_phases), "raw DIB": (raw, raw_phases),
                                     "warm playbook": (warm, warm_phases)})
    results["plain"] = {
        "cold_build_s": round(cold, 1), "noop_rerun_s": round(noop, 1), "raw_dib_s": round(raw, 1),
        "warm_rebuild_s": round(warm, 1), "cold_over_raw": round(cold / raw, 3),
        "noop_over_cold": round(noop / cold, 4), "warm_over_cold": round(warm / cold, 3),
        "phases": {"cold": cold_phases, "raw": raw_phases, "warm": warm_phases},
    }


def _dib_environment(composed, spec):
    apt_sources = _collection_import(build_fixtures.playbook_env())[0]
    return apt_sources.environment_for_elements(
        composed["dib_environment"], composed["dib_environment_by_distribution"], composed["host_distribution"],
        spec["elements"],
    )


def bench_trove(env, workdir, phase_durations, results):
    cache_dir = workdir / "trove-cache"
    cache_dir.mkdir()
    # Empty caches of every kind: downloads and debootstrap base (DIB image
    # cache) and the guest agent wheelhouse (XDG cache of the os_layer role).
    env = dict(env, XDG_CACHE_HOME=str(workdir / "trove-xdg-cache"))
    first_vars = {
        "build_guest_output_dir": str(workdir / "trove-first"),
        "build_guest_cache_dir": str(cache_dir),
        "build_guest_images": [dict(TROVE_ENTRY)],
    }
    print("trove: first build on empty caches ...", flush=True)
    first, run = _timed_playbook(env, first_vars)
    _expect(run, TROVE_IMAGE, "built")
    first_phases = _phases(phase_durations, workdir / "trove-first" / f"{TROVE_IMAGE}.log")

    tarball = build_image_tarball(str(workdir / "container-images"))
    warm_vars = dict(first_vars, build_guest_images=[dict(TROVE_ENTRY, container_images=[tarball["path"]])])
    print("trove: warm rebuild after a late-layer change (a container image tarball added) ...", flush=True)
    warm, run = _timed_playbook(env, warm_vars)
    _expect(run, TROVE_IMAGE, "built")
    warm_phases = _phases(phase_durations, workdir / "trove-first" / f"{TROVE_IMAGE}.log")

    cold_vars = dict(first_vars, build_guest_output_dir=str(workdir / "trove-cold"))
    print("trove: cold build into a fresh output folder, warm caches ...", flush=True)
    cold, run = _timed_playbook(env, cold_vars)
    _expect(run, TROVE_IMAGE, "built")
    cold_phases = _phases(phase_durations, workdir / "trove-cold" / f"{TROVE_IMAGE}.log")
    composed = _compose(env, dict(cold_vars, build_guest_output_dir=str(workdir / "trove-compose")), workdir)
    spec = composed["specs"][0]
    # The raw build gets the same debootstrap base the playbook's cold build used.
    dib_env = dict(_dib_environment(composed, spec), DIB_DEBIAN_USE_DEBOOTSTRAP_CACHE="1", DIB_DEBOOTSTRAP_CACHE="0")
    print("trove: raw disk-image-create with the composed spec, same caches ...", flush=True)
    raw, raw_log = _raw_dib(env, spec, dib_env, cache_dir, workdir / "trove-raw", composed["dib_command"])
    raw_phases = _phases(phase_durations, raw_log)

    _print_breakdown("Trove image", {"first playbook": (first, first_phases), "warm playbook": (warm, warm_phases),
                                     "cold playbook": (cold, cold_phases), "raw DIB": (raw, raw_phases)})
    results["trove"] = {
        "first_build_s": round(first, 1), "warm_rebuild_s": round(warm, 1), "cold_build_s": round(cold, 1),
        "raw_dib_s": round(raw, 1), "warm_over_first": round(warm / first, 3), "cold_over_raw": round(cold / raw, 3),
        "phases": {"first": first_phases, "warm": warm_phases, "cold": cold_phases, "raw": raw_phases},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--images", default="plain,trove", help="which benchmarks: plain, trove or both")
    parser.add_argument("--workdir", help="folder for outputs and caches (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the outputs")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    wanted = [item.strip() for item in args.images.split(",") if item.strip()]
    unknown = sorted(set(wanted) - {"plain", "trove"})
    if unknown or not wanted:
        parser.error(f"--images {args.images!r}: use plain, trove or plain,trove")

    env = build_fixtures.playbook_env()
    phase_durations = _collection_import(env)[1]
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="bench-build-"))
    workdir.mkdir(parents=True, exist_ok=True)
    results: dict = {"load_average_at_start": os.getloadavg()[0], "cores": os.cpu_count()}
    try:
        if "plain" in wanted:
            bench_plain(env, workdir, phase_durations, results)
        if "trove" in wanted:
            bench_trove(env, workdir, phase_durations, results)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    if "plain" in results:
        plain = results["plain"]
        print(f"plain: cold {plain['cold_build_s']} s, no-op {plain['noop_rerun_s']} s, raw {plain['raw_dib_s']} s,"
              f" warm {plain['warm_rebuild_s']} s")
        _verdict("plain: cold / raw", plain["cold_over_raw"], TARGET_COLD_OVER_RAW)
        _verdict("plain: no-op / cold", plain["noop_over_cold"], TARGET_NOOP_OVER_COLD)
    if "trove" in results:
        trove = results["trove"]
        print(f"trove: first {trove['first_build_s']} s, warm {trove['warm_rebuild_s']} s,"
              f" cold {trove['cold_build_s']} s, raw {trove['raw_dib_s']} s")
        _verdict("trove: cold / raw", trove["cold_over_raw"], TARGET_COLD_OVER_RAW)
        _verdict("trove: warm (late layer changed) / first", trove["warm_over_first"], TARGET_WARM_OVER_FIRST)
    results["load_average_at_end"] = os.getloadavg()[0]
    print(f"load average: {results['load_average_at_start']:.2f} at start, {results['load_average_at_end']:.2f}"
          f" at end ({results['cores']} cores)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
