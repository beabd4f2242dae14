#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Boot to the guest agent's first answer, for two or more container-mode images side by side.

Each image is verified the way the verify stage verifies it
(``dbaas.guest_images.guest_verify``: a private RabbitMQ, a qemu boot of a
copy-on-write overlay with the user-data Trove 26 sends, Trove's own client
asking the agent), ``--runs`` times, the images taking turns (A B A B ...), so
that a change of the machine's load falls on all of them alike. Printed per
run and as medians: seconds after qemu started until the kernel, cloud-init
done, the agent's RPC server up, its first answer (``rpc_ping``) and the
filesystem stats answer, from the module's result (``record.times``).

The images are built beforehand, e.g. a "before" one from a worktree of an
older commit and an "after" one from this checkout, with the same playbook
variables (see bench/README.md):

    python3 bench/bench_boot.py BEFORE.qcow2 AFTER.qcow2 [--runs 2] [--accelerator auto|kvm|tcg]
        [--workdir DIR] [--json FILE]

Needs root (qemu, a RabbitMQ of its own) and the test venv (``scripts/run setup test``).
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from fixtures import build as build_fixtures  # noqa: E402
from lib.digest import sha256  # noqa: E402

STEPS = ("kernel", "cloud_init_done", "agent_rpc_up", "first_answer", "filesystem_stats")


def verify(env: dict, image: pathlib.Path, workdir: pathlib.Path, accelerator: str, index: int) -> dict:
    """One forced verification of ``image``; the module's result."""
    out = workdir / f"result-{index}.json"
    task = {
        "dbaas.guest_images.guest_verify": {
            "image": str(image), "fingerprint": f"bench-{index}", "sha256": sha256(image),
            "datastore_manager": "mysql", "datastore_version": "8.0",
            "accelerator": accelerator, "timeout": 1700, "force": True, "work_dir": str(workdir / f"work-{index}"),
        },
        "register": "verified", "failed_when": False,
    }
    keep = {"ansible.builtin.copy": {"content": "{{ verified | to_json }}", "dest": str(out), "mode": "0600"}}
    play = [{"name": "bench boot", "hosts": "localhost", "gather_facts": False, "tasks": [task, keep]}]
    playbook = workdir / f"play-{index}.yml"
    playbook.write_text(json.dumps(play))
    proc = subprocess.run(["ansible-playbook", str(playbook)], env=env, cwd=str(workdir), capture_output=True,
                          text=True, check=False)
    if not out.is_file():
        raise SystemExit(f"ansible-playbook did not run the verification:\n{(proc.stdout + proc.stderr)[-3000:]}")
    return json.loads(out.read_text())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("images", nargs="+", type=pathlib.Path, help="qcow2 container-mode Trove images")
    parser.add_argument("--runs", type=int, default=2, help="verifications per image (default 2)")
    parser.add_argument("--accelerator", default="auto", choices=["auto", "kvm", "tcg"])
    parser.add_argument("--workdir", type=pathlib.Path, help="work folder (default: a new temporary one)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the results here")
    args = parser.parse_args()
    missing = [str(image) for image in args.images if not image.is_file()]
    if missing:
        parser.error(f"no such image: {', '.join(missing)}")
    workdir = args.workdir or pathlib.Path(tempfile.mkdtemp(prefix="bench-boot-"))
    workdir.mkdir(parents=True, exist_ok=True)
    env = build_fixtures.playbook_env()
    results: dict[str, list] = {str(image): [] for image in args.images}
    index = 0
    for run in range(1, args.runs + 1):
        for image in args.images:
            index += 1
            load = os.getloadavg()[0]
            result = verify(env, image.resolve(), workdir, args.accelerator, index)
            times = (result.get("record") or {}).get("times") or {}
            row = {"run": run, "result": result.get("result"), "step": result.get("step"), "load": round(load, 1),
                   "accelerator": (result.get("record") or {}).get("accelerator"), "times": times}
            results[str(image)].append(row)
            shown = "  ".join(f"{step} {times[step]:.1f}" if times.get(step) is not None else f"{step} -"
                              for step in STEPS)
            verdict = row["result"]
            if verdict != "passed":
                verdict = f"{verdict} at {row['step']}: {result.get('msg')}"
            print(f"run {run} {image.name} [{verdict}, load {row['load']}]: {shown}", flush=True)
    print("\nmedians (s after qemu started)")
    print("| image | " + " | ".join(STEPS) + " |")
    print("|---|" + "---:|" * len(STEPS))
    for image, rows in results.items():
        cells = []
        for step in STEPS:
            values = [row["times"][step] for row in rows if row["times"].get(step) is not None]
            cells.append(f"{statistics.median(values):.1f}" if values else "-")
        print(f"| {pathlib.Path(image).name} ({pathlib.Path(image).parent.name}) | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0 if all(row["result"] == "passed" for rows in results.values() for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
