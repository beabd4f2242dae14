# Outside the chroot, after every install and finalise step: record what the
# image holds as a raw inventory (JSON) at DBAAS_SBOM_INVENTORY, a path on
# the build host that dib_image sets and turns into the image's CycloneDX
# SBOM once DIB has finished. Only reads the target root; standard library
# only (it runs with the build host's python3).
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

PROG = "dbaas-sbom"
DPKG_FIELDS = ("Package", "Version", "Architecture", "db:Status-Status", "source:Package", "source:Version")
# Folders whose Python environments are recorded (the guest agent's venv lives in /opt).
VENV_GLOB_ROOT = "opt"
CONTAINER_STORE = "var/lib/dbaas/container-images"
LICENSED_STAGE = "dbaas-licensed-packages"


def fail(message):
    sys.stderr.write(f"{PROG}: {message}\n")
    sys.exit(1)


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def os_release(root):
    values = {}
    for rel in ("etc/os-release", "usr/lib/os-release"):
        path = os.path.join(root, rel)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as handle:
                for line in handle:
                    key, sep, value = line.strip().partition("=")
                    if sep and key:
                        values[key] = value.strip().strip('"').strip("'")
            break
    return {k: values[k] for k in ("ID", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME") if k in values}


def dpkg_packages(root):
    admindir = os.path.join(root, "var/lib/dpkg")
    if not os.path.isfile(os.path.join(admindir, "status")):
        return None
    if shutil.which("dpkg-query") is None:
        fail("the image has a dpkg database but the build host has no dpkg-query (package dpkg)")
    fmt = "\t".join("${%s}" % field for field in DPKG_FIELDS) + "\n"
    out = subprocess.run(["dpkg-query", f"--admindir={admindir}", "-W", f"-f={fmt}"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if out.returncode != 0:
        fail(f"dpkg-query --admindir={admindir} failed: {out.stderr.decode('utf-8', 'replace').strip()}")
    packages = []
    for line in out.stdout.decode("utf-8", "replace").splitlines():
        parts = line.split("\t")
        if len(parts) != len(DPKG_FIELDS):
            continue
        name, version, arch, status, source, source_version = parts
        if status != "installed":
            continue
        packages.append({"name": name, "version": version, "arch": arch,
                         "source": source or name, "source_version": source_version or version})
    return packages


def metadata_fields(path):
    fields = {}
    with open(path, encoding="utf-8", errors="replace") as handle:
        for line in handle:
            line = line.rstrip("\n")
            if not line:
                break
            key, sep, value = line.partition(": ")
            if sep and key in ("Name", "Version") and key not in fields:
                fields[key] = value.strip()
    return fields


def python_environments(root):
    environments = []
    base = os.path.join(root, VENV_GLOB_ROOT)
    if not os.path.isdir(base):
        return environments
    for entry in sorted(os.listdir(base)):
        venv = os.path.join(base, entry)
        if not os.path.isfile(os.path.join(venv, "pyvenv.cfg")):
            continue
        distributions = []
        for lib in ("lib", "lib64"):
            lib_dir = os.path.join(venv, lib)
            if not os.path.isdir(lib_dir) or os.path.islink(lib_dir):
                continue
            for python in sorted(os.listdir(lib_dir)):
                site = os.path.join(lib_dir, python, "site-packages")
                if not os.path.isdir(site):
                    continue
                for folder in sorted(os.listdir(site)):
                    if not folder.endswith(".dist-info"):
                        continue
                    meta = os.path.join(site, folder, "METADATA")
                    fields = metadata_fields(meta) if os.path.isfile(meta) else {}
                    if "Name" not in fields or "Version" not in fields:
                        fail(f"/{VENV_GLOB_ROOT}/{entry}: {folder} has no Name/Version in its METADATA")
                    distributions.append({"name": fields["Name"], "version": fields["Version"],
                                          "dist_info": folder})
        environments.append({"path": f"/{VENV_GLOB_ROOT}/{entry}", "distributions": distributions})
    return environments


def config_digest(archive, config_name):
    member = archive.extractfile(config_name)
    if member is None:
        raise KeyError(config_name)
    digest = hashlib.sha256()
    for chunk in iter(lambda: member.read(1024 * 1024), b""):
        digest.update(chunk)
    return "sha256:" + digest.hexdigest()


def container_tarballs(root):
    store = os.path.join(root, CONTAINER_STORE)
    found = []
    if not os.path.isdir(store):
        return found
    for name in sorted(os.listdir(store)):
        path = os.path.join(store, name)
        if not os.path.isfile(path):
            continue
        images = []
        try:
            with tarfile.open(path) as archive:
                manifest = json.load(archive.extractfile("manifest.json"))
                for image in manifest:
                    images.append({"repo_tags": sorted(image.get("RepoTags") or []),
                                   "config_digest": config_digest(archive, image["Config"])})
        except (tarfile.TarError, KeyError, ValueError, TypeError, OSError) as exc:
            fail(f"/{CONTAINER_STORE}/{name} is not a readable 'docker save' tarball ({exc})")
        found.append({"file": name, "sha256": sha256_of(path), "size": os.path.getsize(path), "images": images})
    return found


def package_fields(path):
    if path.endswith(".deb"):
        argv = ["dpkg-deb", "--show", "--showformat=${Package}\t${Version}\t${Architecture}", path]
        kind = "deb"
    else:
        argv = ["rpm", "-qp", "--queryformat", "%{NAME}\t%{VERSION}-%{RELEASE}\t%{ARCH}", path]
        kind = "rpm"
    if shutil.which(argv[0]) is None:
        fail(f"{argv[0]} is not on the build host; it reads name and version of {os.path.basename(path)}")
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    parts = out.stdout.decode("utf-8", "replace").strip().split("\t")
    if out.returncode != 0 or len(parts) != 3:
        fail(f"{argv[0]} cannot read {os.path.basename(path)}: {out.stderr.decode('utf-8', 'replace').strip()}")
    return {"type": kind, "name": parts[0], "version": parts[1], "arch": parts[2]}


def licensed_packages():
    stage = os.path.join(os.environ.get("TMP_HOOKS_PATH", ""), LICENSED_STAGE)
    found = []
    if not os.environ.get("TMP_HOOKS_PATH") or not os.path.isdir(stage):
        return found
    for name in sorted(os.listdir(stage)):
        path = os.path.join(stage, name)
        if os.path.isfile(path) and re.search(r"\.(deb|rpm)$", name):
            found.append(dict(package_fields(path), file=name, sha256=sha256_of(path)))
    return found


def main():
    if os.geteuid() != 0 and shutil.which("sudo"):
        # The image's files (container tarballs are 0600 root) are root's, as in every cleanup.d hook.
        os.execvp("sudo", ["sudo", "-E", sys.executable, os.path.abspath(__file__)])
    target = os.environ.get("DBAAS_SBOM_INVENTORY")
    if not target:
        fail("DBAAS_SBOM_INVENTORY is not set; dbaas.guest_images.dib_image sets it to the inventory file")
    root = os.environ.get("TARGET_ROOT")
    if not root or not os.path.isdir(root):
        fail(f"TARGET_ROOT ({root!r}) is not a folder; this hook runs in DIB's cleanup phase")
    inventory = {
        "inventory_version": 1,
        "os": os_release(root),
        "dpkg": dpkg_packages(root),
        "python_environments": python_environments(root),
        "container_tarballs": container_tarballs(root),
        "licensed_packages": licensed_packages(),
    }
    tmp = target + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(inventory, handle, indent=1, sort_keys=True)
    os.replace(tmp, target)


if __name__ == "__main__":
    main()
