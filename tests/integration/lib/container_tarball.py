# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a tiny but real container image tarball (``docker save`` format) in Python.

No registry is reachable from the test machines, so the datastore image the
container-mode test image preloads is made here: one layer holding a static
file, the image config (whose ``rootfs.diff_ids`` is the layer's sha256),
``manifest.json`` (what ``docker load`` reads) and the legacy
``repositories`` file. ``docker load -i`` accepts it and tags it
``REPO_TAG``.

``read_archive(path)`` parses such a tarball back and checks its internal
hashes, so a test can tell that the file inside an image is the one built.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

REPO = "dbaas-test/datastore"
TAG = "1.0"
REPO_TAG = f"{REPO}:{TAG}"
MARKER_PATH = "etc/dbaas-test-image"
CREATED = "2024-01-01T00:00:00Z"
_MTIME = 1704067200  # CREATED, for reproducible tarballs


def _add(tar: tarfile.TarFile, name: str, data: bytes, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = mode
    info.mtime = _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = _MTIME
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    tar.addfile(info)


def _layer(marker: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add_dir(tar, "etc/")
        _add(tar, MARKER_PATH, marker)
    return buf.getvalue()


def _json(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build_image_tarball(dest_dir: str, repo: str = REPO, tag: str = TAG, marker: str | None = None) -> dict:
    """Write ``<dest_dir>/<repo basename>-<tag>.tar``; return its description.

    Returns ``{path, repo_tag, image_id, diff_id, marker, size}``; ``image_id``
    is what ``docker images --no-trunc`` shows after ``docker load``.
    """
    marker_text = marker if marker is not None else f"{repo}:{tag} test datastore image\n"
    layer = _layer(marker_text.encode())
    diff_id = hashlib.sha256(layer).hexdigest()
    layer_dir = diff_id
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": CREATED,
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Labels": {"org.opencontainers.image.title": f"{repo} (dbaas.guest_images test image)"},
        },
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{diff_id}"]},
        "history": [{"created": CREATED, "created_by": "dbaas.guest_images tests: one static file"}],
    }
    config_bytes = _json(config)
    config_id = hashlib.sha256(config_bytes).hexdigest()
    repo_tag = f"{repo}:{tag}"
    manifest = [{"Config": f"{config_id}.json", "RepoTags": [repo_tag], "Layers": [f"{layer_dir}/layer.tar"]}]
    legacy_layer = {"id": diff_id, "created": CREATED, "os": "linux", "architecture": "amd64"}
    repositories = {repo: {tag: diff_id}}

    os.makedirs(dest_dir, exist_ok=True)
    path = os.path.join(dest_dir, f"{repo.rsplit('/', 1)[-1]}-{tag}.tar")
    tmp = path + ".part"
    with tarfile.open(tmp, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        _add_dir(tar, f"{layer_dir}/")
        _add(tar, f"{layer_dir}/VERSION", b"1.0")
        _add(tar, f"{layer_dir}/json", _json(legacy_layer))
        _add(tar, f"{layer_dir}/layer.tar", layer)
        _add(tar, f"{config_id}.json", config_bytes)
        _add(tar, "manifest.json", _json(manifest))
        _add(tar, "repositories", _json(repositories))
    os.replace(tmp, path)
    return {
        "path": path,
        "repo_tag": repo_tag,
        "image_id": f"sha256:{config_id}",
        "diff_id": f"sha256:{diff_id}",
        "marker": marker_text,
        "size": os.path.getsize(path),
    }


def read_archive(path: str) -> dict:
    """Parse a ``docker save`` tarball and verify config and layer hashes.

    Returns ``{repo_tags, image_id, diff_ids, files}`` (``files``: path ->
    bytes of every regular file in the layers). Raises ValueError when the
    archive is inconsistent (what ``docker load`` would refuse).
    """
    with tarfile.open(path) as tar:
        manifest = json.loads(tar.extractfile("manifest.json").read())
        if not isinstance(manifest, list) or len(manifest) != 1:
            raise ValueError(f"{path}: manifest.json must describe one image")
        entry = manifest[0]
        config_bytes = tar.extractfile(entry["Config"]).read()
        config_id = hashlib.sha256(config_bytes).hexdigest()
        if entry["Config"] != f"{config_id}.json":
            raise ValueError(f"{path}: config {entry['Config']} does not match its sha256 {config_id}")
        config = json.loads(config_bytes)
        diff_ids = config["rootfs"]["diff_ids"]
        if len(diff_ids) != len(entry["Layers"]):
            raise ValueError(f"{path}: {len(entry['Layers'])} layers but {len(diff_ids)} diff_ids")
        files = {}
        for layer_name, diff_id in zip(entry["Layers"], diff_ids, strict=True):
            layer_bytes = tar.extractfile(layer_name).read()
            actual = "sha256:" + hashlib.sha256(layer_bytes).hexdigest()
            if actual != diff_id:
                raise ValueError(f"{path}: layer {layer_name} has {actual}, config says {diff_id}")
            with tarfile.open(fileobj=io.BytesIO(layer_bytes)) as layer_tar:
                for member in layer_tar.getmembers():
                    if member.isfile():
                        files[member.name] = layer_tar.extractfile(member).read()
    return {
        "repo_tags": entry.get("RepoTags") or [],
        "image_id": f"sha256:{config_id}",
        "diff_ids": diff_ids,
        "files": files,
    }
