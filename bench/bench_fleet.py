#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the build plan over real SSH build hosts on this machine.

1. N small images (``debian-minimal``, qcow2 uncompressed, no partitions) on
   one build host one at a time, the same N (fresh output) on one host two at
   a time (``build_guest_builds_per_host: 2``, each slot with its own DIB
   cache), and the same N over two build hosts: wall clock of each and the
   ratios to the first (all share this machine's cores, so a ratio says how
   much of a build is waiting rather than computing);
2. the no-op rerun of a 10-image matrix against the no-op rerun of 1 image
   (goal: under 2x), on one host whose outputs are already there.

The hosts are sshd instances on loopback (``tests/integration/lib/sshd.py``).
Needs root and the test venv (``scripts/run setup test``). Not run in CI.

    .venv/bin/python bench/bench_fleet.py [--images N] [--json FILE]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import yaml

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from lib.sshd import BASE_DIR, SshFleet  # noqa: E402

GOAL_NOOP_10_OVER_1 = 2.0


def entry(name: str) -> dict:
    return {"name": name, "elements": ["debian-minimal"], "formats": ["qcow2"], "compress": False,
            "environment": {"DIB_RELEASE": "bookworm", "FLEET_IMAGE": name}}


def env() -> dict:
    venv = REPO / ".venv"
    run_env = dict(os.environ)
    run_env["PATH"] = f"{venv / 'bin'}{os.pathsep}{run_env.get('PATH', '')}"
    run_env["ANSIBLE_COLLECTIONS_PATH"] = str(venv / "collections")
    run_env["ANSIBLE_CONFIG"] = str(REPO / "ansible.cfg")
    return run_env


def run(fleet: SshFleet, folder: pathlib.Path, hosts: list, images: list, output: str,
        slots: dict | None = None) -> float:
    extra = {name: {"ansible_python_interpreter": "/usr/bin/python3", "build_host_python": "/usr/bin/python3",
                    "build_host_dib_venv": f"{BASE_DIR}/dib-{name}",
                    "build_guest_builds_per_host": (slots or {}).get(name, 1)} for name in hosts}
    inventory = folder / "inventory.yml"
    inventory.write_text(yaml.safe_dump(fleet.inventory("build_hosts", hosts, extra=extra)))
    extra_vars = folder / "vars.json"
    extra_vars.write_text(json.dumps({"build_guest_images": images, "build_guest_output_dir": output,
                                      "build_guest_report_dir": str(folder / f"report-{output}")}))
    started = time.monotonic()
    proc = subprocess.run(["ansible-playbook", "-i", str(inventory), str(REPO / "playbooks" / "build_guest.yml"),
                           "-e", f"@{extra_vars}"], env=env(), cwd=str(folder), capture_output=True, text=True,
                          check=False)
    took = time.monotonic() - started
    if proc.returncode != 0:
        sys.exit(f"the run failed (rc {proc.returncode}):\n{(proc.stdout + proc.stderr)[-4000:]}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=4, help="N of part 1 (default 4)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    fleet = SshFleet.start([("b1", True), ("b2", True)])
    folder = pathlib.Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    try:
        images = [entry(f"bench-{index}") for index in range(args.images)]
        # Untimed: DIB installed on each host, and each DIB cache filled (b1's two slots, b2's one).
        run(fleet, folder, ["b1", "b2"], [entry(f"bench-warm-{index}") for index in range(3)], "warm",
            slots={"b1": 2})
        one = run(fleet, folder, ["b1"], images, "one")
        slotted = run(fleet, folder, ["b1"], images, "slots", slots={"b1": 2})
        two = run(fleet, folder, ["b1", "b2"], images, "two")
        ten = [entry(f"bench-noop-{index}") for index in range(10)]
        run(fleet, folder, ["b1"], ten, "noop", slots={"b1": 2})
        noop_one = run(fleet, folder, ["b1"], ten[:1], "noop")
        noop_ten = run(fleet, folder, ["b1"], ten, "noop")
        numbers = {
            "images": args.images,
            "one_host_seconds": round(one, 1),
            "one_host_two_at_once_seconds": round(slotted, 1),
            "two_at_once_over_one": round(slotted / one, 3),
            "two_hosts_seconds": round(two, 1),
            "two_over_one": round(two / one, 3),
            "noop_1_image_seconds": round(noop_one, 1),
            "noop_10_images_seconds": round(noop_ten, 1),
            "noop_10_over_1": round(noop_ten / noop_one, 3),
            "noop_goal": GOAL_NOOP_10_OVER_1,
        }
        print(json.dumps(numbers, indent=2))
        verdict = "meets" if numbers["noop_10_over_1"] < GOAL_NOOP_10_OVER_1 else "MISSES"
        print(f"no-op 10 images / 1 image = {numbers['noop_10_over_1']} ({verdict} the goal < {GOAL_NOOP_10_OVER_1})")
        if args.json:
            pathlib.Path(args.json).write_text(json.dumps(numbers, indent=2) + "\n")
    finally:
        fleet.close()


if __name__ == "__main__":
    main()
