#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the build stage against raw diskimage-builder.

One run measures, on this machine, for the playbook's default image:

1. cold build: ``playbooks/build_guest.yml`` into a fresh output folder
   (no outputs, no fingerprint);
2. no-op rerun: the same playbook again (nothing changed, DIB must not run);
3. raw DIB: ``disk-image-create`` with the same elements and environment
   (including the build host's mirror variables) into another fresh folder.

and prints the ratios against the targets: the collection's cold build
within 5 % of raw DIB, the no-op rerun under 3 % of the cold build. The DIB
image cache is shared, and an untimed warm-up build fills it first unless
--no-warmup is given, so both timed builds see the same cache.

Needs root (like DIB itself) and the test venv (``scripts/run setup test``).
Not run in CI: a run takes three to four full builds.

    python3 bench/bench_build.py [--workdir DIR] [--keep] [--no-warmup] [--cache-dir DIR] [--json FILE]
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

TARGET_COLD_OVER_RAW = 1.05
TARGET_NOOP_OVER_COLD = 0.03


def _env() -> dict:
    venv_bin = build_fixtures._venv_bin()
    env = dict(os.environ)
    env["PATH"] = f"{venv_bin}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_COLLECTIONS_PATH"] = build_fixtures._collections_path(venv_bin)
    env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def _timed_playbook(env, extra_vars):
    started = time.monotonic()
    run = build_fixtures.run_playbook_with(env, "build_guest.yml", extra_vars)
    elapsed = time.monotonic() - started
    if run.rc != 0:
        sys.exit(f"playbook failed (rc {run.rc}):\n{run.output[-5000:]}")
    return elapsed, run


def _host_environment(env) -> dict:
    """The mirror variables the build_host role would add (from build_host_facts)."""
    out = subprocess.run(
        ["ansible", "localhost", "-m", "dbaas.guest_images.build_host_facts", "-o"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    payload = out.stdout.split("=>", 1)[1]
    return json.loads(payload)["dib_environment"]


def _raw_dib(env, image, host_env, cache_dir, dest: pathlib.Path, dib_command: str) -> float:
    dest.mkdir(parents=True, exist_ok=True)
    run_env = dict(env)
    run_env.update(host_env)
    run_env.update(image.get("environment", {}))
    run_env["DIB_IMAGE_CACHE"] = str(cache_dir)
    run_env["TMPDIR"] = str(dest)
    argv = [dib_command, "-o", str(dest / image["name"]), "-t", ",".join(image.get("formats") or ["qcow2"])]
    argv += ["--logfile", str(dest / "dib.log")]
    argv += list(image["elements"])
    started = time.monotonic()
    proc = subprocess.run(argv, env=run_env, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"raw disk-image-create failed (rc {proc.returncode}):\n{(proc.stdout + proc.stderr)[-5000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--workdir", help="folder for outputs (default: a new temporary folder)")
    parser.add_argument("--keep", action="store_true", help="keep the outputs")
    parser.add_argument("--no-warmup", action="store_true", help="skip the untimed cache warm-up build")
    parser.add_argument("--dib-command", default="/opt/dbaas-guest-images/dib/bin/disk-image-create")
    parser.add_argument("--cache-dir", help="DIB image cache (default: the bench's own, see README.md)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()

    env = _env()
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="bench-build-"))
    workdir.mkdir(parents=True, exist_ok=True)
    cache_dir = pathlib.Path(args.cache_dir or build_fixtures.cache_root() / "bench-dib-image-cache")
    cache_dir.mkdir(parents=True, exist_ok=True)
    # The plain Debian 12 image the build tests use: what is measured is the
    # build stage itself, not the Trove layers (see docs/LAYERS.md).
    image = dict(build_fixtures.BASE_IMAGE_ENTRY)
    host_env = _host_environment(env)

    try:
        if not args.no_warmup:
            print("warm-up: raw DIB build to fill the image cache (not timed) ...", flush=True)
            _raw_dib(env, image, host_env, cache_dir, workdir / "warmup", args.dib_command)
            shutil.rmtree(workdir / "warmup")

        cold_vars = build_fixtures.base_image_vars(workdir / "collection", cache_dir)
        print("cold build with playbooks/build_guest.yml ...", flush=True)
        cold, cold_run = _timed_playbook(env, cold_vars)
        print(f"  {cold:.1f} s", flush=True)
        if cold_run.image(image["name"])["status"] != "built":
            sys.exit("the cold build did not build")
        print("no-op rerun ...", flush=True)
        noop, noop_run = _timed_playbook(env, cold_vars)
        print(f"  {noop:.1f} s", flush=True)
        if noop_run.image(image["name"])["status"] != "reused":
            sys.exit("the no-op rerun built again")
        print("raw disk-image-create ...", flush=True)
        raw = _raw_dib(env, image, host_env, cache_dir, workdir / "raw", args.dib_command)
        print(f"  {raw:.1f} s", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)

    cold_over_raw = cold / raw
    noop_over_cold = noop / cold
    results = {
        "cold_build_s": round(cold, 1),
        "noop_rerun_s": round(noop, 1),
        "raw_dib_s": round(raw, 1),
        "cold_over_raw": round(cold_over_raw, 3),
        "noop_over_cold": round(noop_over_cold, 4),
        "target_cold_over_raw": TARGET_COLD_OVER_RAW,
        "target_noop_over_cold": TARGET_NOOP_OVER_COLD,
    }
    print()
    print(f"cold build (playbook)   {cold:8.1f} s")
    print(f"no-op rerun (playbook)  {noop:8.1f} s")
    print(f"raw disk-image-create   {raw:8.1f} s")
    verdict = "ok" if cold_over_raw <= TARGET_COLD_OVER_RAW else "MISSED"
    print(f"cold / raw   = {cold_over_raw:6.3f}  (target <= {TARGET_COLD_OVER_RAW:.2f}: {verdict})")
    verdict = "ok" if noop_over_cold <= TARGET_NOOP_OVER_COLD else "MISSED"
    print(f"no-op / cold = {noop_over_cold:6.3f}  (target <= {TARGET_NOOP_OVER_COLD:.2f}: {verdict})")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
