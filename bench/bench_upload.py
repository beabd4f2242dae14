#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark the publish stage: dbaas.guest_images.glance_image against ``openstack image create``.

Same file, same Glance, fresh image name each time (so both really upload):

- ours: the ``glance_image`` module run as Ansible runs it on a host (its own
  Python process, arguments from a JSON file), hashing while it streams;
- theirs: ``openstack image create --file`` from python-openstackclient,
  installed by this script into its own venv (in the cache folder);
- floor: the physical floor, one raw HTTP ``PUT /v2/images/<id>/file`` of the
  same file to the same Glance with a token got beforehand (the record is
  created untimed; only the PUT is timed, streaming 1 MiB blocks, no hashing).
  ``ours - floor`` is the module's own cost: Python start, imports, token,
  list, create, status GET, and whatever the stream loses to hashing.

For every size it prints the wall-clock time and the peak resident memory
(``ru_maxrss`` of that process) of each, the median over ``--repeat`` runs,
and checks the targets: ours / theirs <= 1.0 in time and ours - floor < 1.0 s
at every size, and our peak memory under 150 MB whatever the size.

By default a Keystone and a Glance are started on loopback with the
integration tests' helpers (tests/integration/lib/openstack_services.py);
``--cloud NAME`` (with OS_CLIENT_CONFIG_FILE or a clouds.yaml) uses an
existing cloud instead. Test images are real qcow2 files of random data made
with ``qemu-img``. Not run in CI.

    .venv/bin/python bench/bench_upload.py [--sizes 256,1024,2048] [--repeat 3] [--cloud NAME]
                                           [--workdir DIR] [--json FILE]
"""

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))

from lib import openstack_services as services  # noqa: E402

OSC_REQUIREMENTS = ("python-openstackclient==10.5.0",)
TARGET_TIME_RATIO = 1.0
TARGET_ABOVE_FLOOR = 1.0
TARGET_PEAK_MB = 150


def collections_root() -> str:
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if entry and (pathlib.Path(entry) / "ansible_collections" / "dbaas" / "guest_images").is_dir():
            return entry
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench-collections-"))
    (root / "ansible_collections" / "dbaas").mkdir(parents=True)
    (root / "ansible_collections" / "dbaas" / "guest_images").symlink_to(REPO)
    return str(root)


def make_image(folder: pathlib.Path, mib: int) -> pathlib.Path:
    """A qcow2 holding ``mib`` MiB of random data (so nothing compresses or deduplicates)."""
    out = folder / f"bench-{mib}M.qcow2"
    if out.is_file():
        return out
    raw = folder / f"bench-{mib}M.raw"
    with open(raw, "wb") as handle:
        for _mib in range(mib):
            handle.write(os.urandom(1 << 20))
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(out)], check=True)
    raw.unlink()
    return out


def measure(argv, env) -> tuple:
    """Run ``argv``; return (seconds, peak RSS in MB of that process and its children, output)."""
    with tempfile.TemporaryFile() as out:
        start = time.monotonic()
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read().decode(errors="replace")
    if proc.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed ({proc.returncode}):\n{text[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024.0, text


def warm(path: pathlib.Path) -> None:
    """Read the file once so both tools start from the same (warm) page cache."""
    with open(path, "rb") as handle:
        while handle.read(8 << 20):
            pass


def ours(path, name, cloud, env, workdir) -> tuple:
    args = {"ANSIBLE_MODULE_ARGS": {
        "cloud": cloud, "name": name, "filename": str(path), "disk_format": "qcow2", "hash_cache": False,
        "_ansible_tmpdir": str(workdir), "_ansible_remote_tmp": str(workdir),
    }}
    args_file = workdir / f"{name}.json"
    args_file.write_text(json.dumps(args))
    argv = [sys.executable, "-m", "ansible_collections.dbaas.guest_images.plugins.modules.glance_image", str(args_file)]
    elapsed, peak, text = measure(argv, env)
    result = json.loads(text[text.index("{"):])
    if not result.get("uploaded"):
        raise RuntimeError(f"the module did not upload: {result}")
    return elapsed, peak, result["image"]["id"]


def theirs(osc_venv, path, name, cloud, env) -> tuple:
    argv = [str(osc_venv / "bin" / "openstack"), "--os-cloud", cloud, "image", "create", "--file", str(path),
            "--disk-format", "qcow2", "--container-format", "bare", "-f", "value", "-c", "id", name]
    elapsed, peak, text = measure(argv, env)
    return elapsed, peak, text.strip().splitlines()[-1]


def floor(conn, path, name) -> tuple:
    """One raw, authenticated PUT of the file's bytes into a record created beforehand; (seconds, image id)."""
    import http.client
    import urllib.parse

    endpoint = conn.image.get_endpoint().rstrip("/")
    if not endpoint.endswith("/v2"):
        endpoint += "/v2"
    token = conn.session.get_token()
    response = conn.image.post("/images", json={"name": name, "disk_format": "qcow2", "container_format": "bare"})
    response.raise_for_status()
    image_id = response.json()["id"]
    url = urllib.parse.urlsplit(f"{endpoint}/images/{image_id}/file")
    size = path.stat().st_size
    start = time.monotonic()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    connection.putrequest("PUT", url.path)
    for header, value in (("X-Auth-Token", token), ("Content-Type", "application/octet-stream"),
                          ("Content-Length", str(size))):
        connection.putheader(header, value)
    connection.endheaders()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(1 << 20)
            if not block:
                break
            connection.send(block)
    answer = connection.getresponse()
    answer.read()
    elapsed = time.monotonic() - start
    connection.close()
    if answer.status != 204:
        raise RuntimeError(f"raw PUT answered {answer.status}")
    return elapsed, image_id


def start_cloud(workdir: pathlib.Path):
    keystone = services.start_keystone(workdir / "keystone")
    glance = services.start_glance(workdir / "glance", keystone)
    clouds = workdir / "clouds.yaml"
    import yaml

    clouds.write_text(yaml.safe_dump(keystone.clouds()))
    return keystone, glance, clouds, "gi-admin"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--sizes", default="256,1024,2048", help="image sizes in MiB (comma separated)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cloud", help="use this existing cloud of clouds.yaml instead of starting one")
    parser.add_argument("--workdir", type=pathlib.Path)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (images, service logs)")
    parser.add_argument("--json", type=pathlib.Path, help="also write the results here")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",") if s]

    workdir = options.workdir or pathlib.Path(tempfile.mkdtemp(prefix="bench-upload-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"work folder: {workdir}", flush=True)
    osc_venv = services.ensure_venv("bench-openstackclient", OSC_REQUIREMENTS)
    keystone = glance = None
    env = dict(os.environ)
    try:
        if options.cloud:
            cloud = options.cloud
        else:
            print("starting Keystone and Glance on loopback ...", flush=True)
            keystone, glance, clouds, cloud = start_cloud(workdir)
            os.environ["OS_CLIENT_CONFIG_FILE"] = env["OS_CLIENT_CONFIG_FILE"] = str(clouds)
        env["PYTHONPATH"] = collections_root()
        import openstack

        conn = openstack.connect(cloud=cloud)
        rows = []
        for mib in sizes:
            path = make_image(workdir, mib)
            runs = {"floor": [], "ours": [], "theirs": []}
            for round_number in range(options.repeat):
                order = ("floor", "ours", "theirs") if round_number % 2 == 0 else ("theirs", "ours", "floor")
                for tool in order:
                    warm(path)
                    name = f"bench-{tool}-{mib}-{uuid.uuid4().hex[:6]}"
                    if tool == "ours":
                        elapsed, peak, image_id = ours(path, name, cloud, env, workdir)
                    elif tool == "theirs":
                        elapsed, peak, image_id = theirs(osc_venv, path, name, cloud, env)
                    else:
                        (elapsed, image_id), peak = floor(conn, path, name), 0.0
                    runs[tool].append((elapsed, peak))
                    conn.image.delete_image(image_id, ignore_missing=True)
                    print(f"  {mib:>5} MiB {tool:<6} {elapsed:7.2f} s  peak {peak:6.1f} MB", flush=True)
            row = {"size_mib": mib, "file_bytes": path.stat().st_size}
            for tool, values in runs.items():
                row[f"{tool}_seconds"] = statistics.median(v[0] for v in values)
                row[f"{tool}_peak_mb"] = max(v[1] for v in values)
            row["time_ratio"] = row["ours_seconds"] / row["theirs_seconds"]
            row["above_floor"] = row["ours_seconds"] - row["floor_seconds"]
            rows.append(row)
    finally:
        if glance is not None:
            glance.stop()
        if keystone is not None:
            keystone.stop()
        if not options.keep and not options.workdir:
            shutil.rmtree(workdir, ignore_errors=True)

    print()
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())} ({os.cpu_count()} CPUs)")
    print("| size | floor: raw PUT (s) | ours (s) | ours - floor (s) | openstack image create (s) | ours/theirs "
          "| ours peak MB | theirs peak MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in rows:
        print(f"| {row['size_mib']} MiB | {row['floor_seconds']:.2f} | {row['ours_seconds']:.2f} | "
              f"{row['above_floor']:.2f} | {row['theirs_seconds']:.2f} | "
              f"{row['time_ratio']:.2f} | {row['ours_peak_mb']:.1f} | {row['theirs_peak_mb']:.1f} |")
    verdicts = []
    for row in rows:
        verdicts.append((f"time ratio at {row['size_mib']} MiB <= {TARGET_TIME_RATIO}",
                         row["time_ratio"] <= TARGET_TIME_RATIO))
        verdicts.append((f"ours - floor at {row['size_mib']} MiB < {TARGET_ABOVE_FLOOR} s",
                         row["above_floor"] < TARGET_ABOVE_FLOOR))
    peaks = [r["ours_peak_mb"] for r in rows]
    verdicts.append((f"our peak memory < {TARGET_PEAK_MB} MB at every size", max(peaks) < TARGET_PEAK_MB))
    if len(rows) > 1:
        spread = max(peaks) - min(peaks)
        verdicts.append(("our peak memory independent of size (spread < 10 MB)", spread < 10))
    print()
    for label, ok in verdicts:
        print(f"{'PASS' if ok else 'FAIL'}  {label}")
    if options.json:
        options.json.parent.mkdir(parents=True, exist_ok=True)
        options.json.write_text(json.dumps({"rows": rows, "verdicts": dict(verdicts)}, indent=2) + "\n")
    return 0 if all(ok for _label, ok in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
