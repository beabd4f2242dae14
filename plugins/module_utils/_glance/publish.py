# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing one image file to Glance by content: find, upload, verify, clean up, rotate; and deleting.

PRIVATE to the collection: no compatibility promise outside it.

The Publisher takes a ``GlanceImageRequest``. It knows nothing of Trove: the
images rotation must spare come from the caller, as ids and tag sets, through
a callable asked only when rotation runs.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ansible_collections.dbaas.guest_images.plugins.module_utils._common.hashing import file_digest
from ansible_collections.dbaas.guest_images.plugins.module_utils._common.processes import process_alive
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.data import (
    HashCache,
    HashingReader,
    file_identity,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.errors import GlanceError
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.metadata import (
    GLANCE_CREATE_DEFAULTS,
    GLANCE_HASH_ALGORITHM,
    UPLOAD_MARKER,
    Image,
    apply_patch,
    default_properties,
    desired_attributes,
    diff_view,
    family_tag,
    metadata_patch,
    newest_active,
    normalize_image,
    property_value,
    referenced_by_tags,
    select_for_rotation,
    spare_reason,
    stale_uploads,
    unique_name,
    upload_marker,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils._glance.request import GlanceImageRequest
from ansible_collections.dbaas.guest_images.plugins.module_utils._openstack.errors import (
    describe_error,
    is_transient,
    retry,
)

if TYPE_CHECKING:
    # Image ids, and the tag sets whose newest active image is in use (Trove's ``ImagesInUse`` fits).
    ImagesToSpare = tuple[Iterable[str], Iterable[Iterable[str]]]
    SpareLookup = Callable[[], "ImagesToSpare | None"]


def brief(image: Image) -> dict[str, Any]:
    return {"id": image.get("id"), "name": image.get("name"), "status": image.get("status"),
            "created_at": image.get("created_at")}


# Seconds one delete of a failed upload's record may wait for Glance's answer before it is tried again.
CLEANUP_TRY_SECONDS = 30.0


class Publisher:
    """``state=present`` and ``state=absent`` of glance_image; ``run_*`` return the result dict."""

    def __init__(self, client: Any, request: GlanceImageRequest, check_mode: bool = False,
                 hash_cache: HashCache | None = None, warn: Callable[[str], Any] | None = None,
                 in_use: SpareLookup | None = None) -> None:
        self.client = client
        self.request = request
        self.check_mode = check_mode
        self.hash_cache = hash_cache
        self.warn: Callable[[str], Any] = warn or (lambda msg: None)
        self.in_use = in_use
        self.hash_info: dict[str, str] = {}
        self.host = socket.gethostname()
        self.alive: Callable[[int], bool] = process_alive

    @property
    def path(self) -> str:
        if not self.request.filename:
            raise GlanceError("Option 'filename' is required to publish an image.")
        return self.request.filename

    @property
    def name(self) -> str:
        if not self.request.name:
            raise GlanceError("Option 'name' is required to publish an image.")
        return self.request.name

    # ---- desired metadata ------------------------------------------------------------------
    def wanted_properties(self) -> dict[str, str]:
        r = self.request
        props: dict[str, Any] = default_properties(
            os_distro=r.os_distro, os_version=r.os_version, arch=r.architecture, datastore=r.trove_datastore,
            datastore_version=r.trove_datastore_version, fingerprint=r.build_fingerprint,
            hardware=r.hardware_defaults)
        props.update(r.properties)
        return {k: property_value(v) for k, v in props.items()}

    def wanted_tags(self) -> list[str]:
        tags = list(self.request.tags)
        tag = family_tag(self.request.family)
        if tag and tag not in tags:
            tags.append(tag)
        return tags

    @property
    def unique(self) -> bool:
        """Whether images get ``<name>-<creation time>`` names (option unique_name; only within a family)."""
        return bool(self.request.unique_name and self.request.family)

    def image_name(self, image: Image | None = None) -> str:
        """The name ``image`` should have (``None``: the image about to be created)."""
        return unique_name(self.name, image) if self.unique else self.name

    def wanted_attributes(self, for_create: bool = False, image: Image | None = None) -> dict[str, Any]:
        r = self.request
        attrs = desired_attributes(name=self.image_name(image), visibility=r.visibility, protected=r.protected,
                                   min_disk=r.min_disk, min_ram=r.min_ram)
        if for_create:
            # Protection is set after the data is in: a failed upload must stay deletable.
            attrs.pop("protected", None)
        return attrs

    # ---- local data ------------------------------------------------------------------------
    def local_hash(self, path: str, algorithm: str) -> str:
        """The file's hash without uploading: checksum option, then cache, then one hashing pass."""
        given = self.request.checksum
        if given and given[0] == algorithm:
            self.hash_info = {"algorithm": algorithm, "value": given[1], "source": "checksum"}
            return given[1]
        if self.hash_cache is not None:
            cached = self.hash_cache.get(path, algorithm)
            if cached:
                self.hash_info = {"algorithm": algorithm, "value": cached, "source": "cache"}
                return cached
        identity = file_identity(path)
        value = file_digest(path, algorithm)
        if self.hash_cache is not None:
            self.hash_cache.put(path, algorithm, value, identity=identity)
        self.hash_info = {"algorithm": algorithm, "value": value, "source": "computed"}
        return value

    def check_checksum(self, path: str) -> None:
        """Refuse, before anything is created, a file whose content does not match option ``checksum``.

        Whatever its algorithm: one that differs from ``hash_algorithm`` (the publish role passes the
        build report's sha256) is never seen by the upload's own hashing. The hash comes from a pass
        already made for this algorithm, the cache, or one hashing pass over the file (then cached).
        """
        given = self.request.checksum
        if not given:
            return
        algorithm, expected = given
        actual = None
        if self.hash_info.get("algorithm") == algorithm and self.hash_info.get("source") in ("cache", "computed"):
            actual = self.hash_info["value"]
        elif self.hash_cache is not None:
            actual = self.hash_cache.get(path, algorithm)
        if actual is None:
            identity = file_identity(path)
            actual = file_digest(path, algorithm)
            if self.hash_cache is not None:
                self.hash_cache.put(path, algorithm, actual, identity=identity)
        if actual != expected:
            raise GlanceError(
                f"The content of {path} does not match option 'checksum' ({algorithm}:{expected[:16]}...; the "
                f"file's {algorithm} is {actual[:16]}...); nothing was uploaded and no image was created. "
                "Rebuild the image or correct 'checksum' (the publish role takes it from the build report).",
                checksum_expected=f"{algorithm}:{expected}", checksum_actual=f"{algorithm}:{actual}")

    # ---- finding ---------------------------------------------------------------------------
    def candidates(self) -> list[Image]:
        seen: dict[str, Image] = {}
        for image in self.client.list_images(name=self.name):
            seen[image["id"]] = image
        tag = family_tag(self.request.family)
        if tag:
            for image in self.client.list_images(tags=[tag]):
                seen[image["id"]] = image
        return list(seen.values())

    def find_same_data(self, images: Iterable[Image], path: str, size: int) -> Image | None:
        r = self.request
        same = [i for i in images if i.get("status") == "active" and i.get("size") == size
                and i.get("disk_format") == r.disk_format and i.get("container_format") == r.container_format
                and i.get("os_hash_value")]
        if not same:
            return None
        same.sort(key=lambda i: i.get("created_at") or "", reverse=True)
        hashes: dict[str, str] = {}
        for image in same:
            algorithm = image.get("os_hash_algo") or GLANCE_HASH_ALGORITHM
            if algorithm not in hashes:
                hashes[algorithm] = self.local_hash(path, algorithm)
            if hashes[algorithm] == image["os_hash_value"]:
                return image
        return None

    # ---- state=present ---------------------------------------------------------------------
    def group(self, images: Iterable[Image]) -> list[Image]:
        """The images that form this task's family (its tag), or without a family its name."""
        tag = family_tag(self.request.family)
        if tag:
            return [i for i in images if tag in (i.get("tags") or [])]
        return [i for i in images if i.get("name") == self.name]

    def clean_stale(self, images: list[Image]) -> tuple[list[Image], list[dict[str, Any]], list[dict[str, Any]]]:
        """Delete the unfinished records this collection left in the family (an outage, a killed task).

        Returns the images that remain, the records deleted, and the unfinished records spared
        because their upload may still be running.
        """
        stale, busy = stale_uploads(self.group(images), self.host, self.alive)
        for image in stale:
            if not self.check_mode:
                self.client.delete(image["id"])
        gone = {i["id"] for i in stale}
        return ([i for i in images if i.get("id") not in gone], [brief(i) for i in stale],
                [dict(brief(i), reason=reason) for i, reason in busy])

    def run_present(self) -> dict[str, Any]:
        path = self.path
        size = os.stat(path).st_size
        images, cleaned, busy = self.clean_stale(self.candidates())
        existing = self.find_same_data(images, path, size)
        group = self.group(images)
        newest = newest_active(group + ([existing] if existing is not None else []))
        # Trove's image_tags selection launches the newest active image: bytes an older image holds
        # become current only as a new image (Glance's created_at cannot change).
        rollback = existing is not None and newest is not None and newest["id"] != existing["id"]
        props = self.wanted_properties()
        tags = self.wanted_tags()
        result: dict[str, Any] = {"changed": bool(cleaned), "uploaded": False, "would_upload": False, "deleted": [],
                                  "spared": list(busy), "cleaned": cleaned, "rolled_back": None}
        if existing is not None and not rollback:
            ops = metadata_patch(existing, self.wanted_attributes(image=existing), props, tags)
            before = diff_view(existing)
            if ops and not self.check_mode:
                after_raw = self.client.patch(existing["id"], ops)
            else:
                after_raw = apply_patch(existing, ops)
            result.update(changed=bool(ops) or result["changed"], image=normalize_image(after_raw),
                          updated=[o["path"][1:] for o in ops], diff={"before": before, "after": diff_view(after_raw)})
            current = after_raw
        else:
            previous = newest if self.request.family else max(
                (i for i in images if i.get("name") == self.name), key=lambda i: i.get("created_at") or "",
                default=None)
            body = dict(self.wanted_attributes(for_create=True), disk_format=self.request.disk_format,
                        container_format=self.request.container_format, tags=tags)
            body.update(props)
            body[UPLOAD_MARKER] = upload_marker(self.host, os.getpid())
            self.check_checksum(path)
            if self.check_mode:
                # What Glance would hold: its own defaults for what is not given.
                current = dict(GLANCE_CREATE_DEFAULTS, **body)
                current.update(id=None, status="active", size=size, protected=bool(self.request.protected))
                if self.hash_info:
                    current.update(os_hash_algo=self.hash_info["algorithm"], os_hash_value=self.hash_info["value"])
            else:
                current = self.upload_new(path, size, body)
            result.update(changed=True, uploaded=not self.check_mode, would_upload=self.check_mode,
                          image=normalize_image(current), updated=[],
                          diff={"before": diff_view(previous), "after": diff_view(current)})
            if rollback and existing is not None and newest is not None:
                result["rolled_back"] = {"previous": brief(newest), "same_data_as": brief(existing)}
                self.retire_copy(existing, group, result)
        if self.hash_info:
            result["hash"] = dict(self.hash_info)
        if self.request.keep is not None:
            deleted, spared = self.rotate(current.get("id"), extra=[current] if self.check_mode else [],
                                          gone=[d["id"] for d in result["deleted"] + cleaned])
            result["deleted"] += deleted
            result["spared"] += spared
        if result["deleted"]:
            result["changed"] = True
        self.warn_shared_name(current, group)
        return result

    def retire_copy(self, copy: Image, group: list[Image], result: dict[str, Any]) -> None:
        """After a rollback, delete the older image whose bytes the new one now holds, unless it must stay."""
        found = self.referenced(group)
        if found is None:
            result["spared"].append(dict(brief(copy), reason="Trove not reachable"))
            return
        referenced, owner = found
        reason = spare_reason(copy, referenced, owner)
        if reason:
            result["spared"].append(dict(brief(copy), reason=reason))
            return
        if not self.check_mode:
            self.client.delete(copy["id"])
        result["deleted"].append({"id": copy["id"], "name": copy.get("name"), "created_at": copy.get("created_at")})

    def warn_shared_name(self, current: Image, group: list[Image]) -> None:
        if self.unique or not self.request.family:
            return
        others = [i for i in group if i.get("name") == current.get("name") and i.get("id") != current.get("id")]
        if others:
            self.warn(f"{len(others) + 1} images of family '{self.request.family}' are named '{current.get('name')}'"
                      f", so 'openstack image show {current.get('name')}' cannot tell them apart; set unique_name: "
                      "true to name each image <name>-<creation time>.")

    def upload_new(self, path: str, size: int, body: dict[str, Any]) -> Image:
        """Create a record, stream the file, verify Glance's hash; on any failure delete the record.

        Transient failures (dropped connection, 502/503/504) start over with a new record, a bounded
        number of times.
        """
        r = self.request
        algorithm = r.hash_algorithm
        attempts = r.retries + 1

        def attempt() -> Image:
            image = self.client.create_image(body)
            image_id = image["id"]
            try:
                identity = file_identity(path)
                with open(path, "rb") as handle:
                    reader = HashingReader(handle, size, algorithm, threaded=True)
                    try:
                        self.client.upload(image_id, reader.stream(), size)
                    finally:
                        reader.close()
                if not reader.complete:
                    raise GlanceError(f"Only {reader.bytes_read} of {size} bytes of {path} were sent; "
                                      "the file changed or the connection ended early.")
                digest = reader.hexdigest()
                if r.wait:
                    uploaded = self.client.wait_status(image_id, timeout=r.timeout)
                else:
                    uploaded = self.client.get_image(image_id) or image
                self.verify(uploaded, size, algorithm, digest, path)
                if r.protected:
                    uploaded = self.client.patch(image_id, [{"op": "replace", "path": "/protected", "value": True}])
                if self.hash_cache is not None:
                    self.hash_cache.put(path, algorithm, digest, identity=identity)
                self.hash_info = {"algorithm": algorithm, "value": digest, "source": "upload"}
                result: Image = uploaded
                return result
            except BaseException as exc:
                self.cleanup(image_id, exc)
                raise

        def on_retry(exc: BaseException, number: int, delay: float) -> None:
            self.warn(f"Upload of {path} failed ({describe_error(exc, r.cloud)}); the image record was "
                      f"deleted, retry {number} of {attempts - 1} in {delay:.1f}s")

        return retry(attempt, attempts=attempts, sleep=self.client.sleep, on_retry=on_retry)

    def verify(self, image: Image, size: int, algorithm: str, digest: str, path: str) -> None:
        given = self.request.checksum
        if given and given[0] == algorithm and given[1] != digest:
            raise GlanceError(f"The content of {path} does not match option 'checksum' "
                              f"({given[0]}:{given[1][:16]}...); nothing was published. "
                              "Rebuild the image or correct 'checksum'.")
        if image.get("size") not in (None, size):
            raise GlanceError(f"Glance stored {image.get('size')} bytes for {path} but the file has {size}.")
        if image.get("os_hash_algo") == algorithm and image.get("os_hash_value") not in (None, digest):
            raise GlanceError(f"Glance's {algorithm} of the uploaded data differs from the file's: the data was "
                              "altered on the way. Nothing was published.")

    def cleanup(self, image_id: str, cause: BaseException) -> None:
        """Delete a record whose upload failed. While Glance is unreachable (restarting, a network cut),
        keep trying for up to ``timeout`` seconds (10 when the task itself is being stopped)."""
        patience = 10 if isinstance(cause, (SystemExit, KeyboardInterrupt)) else self.request.timeout
        deadline = time.monotonic() + patience
        delay = 1.0
        cloud = self.request.cloud
        while True:
            try:
                # One try at a time, each bounded by CLEANUP_TRY_SECONDS and the patience left: a server
                # that accepted the connection and never answers (seen while Glance restarts under load)
                # must not use up the whole patience on one request; the next try gets a new connection.
                left = max(deadline - time.monotonic(), 1.0)
                self.client.delete(image_id, once=True, timeout=min(left, CLEANUP_TRY_SECONDS))
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise GlanceError(
                        f"The upload failed ({describe_error(cause, cloud)}) and the image record {image_id} "
                        f"it created could not be deleted ({describe_error(exc, cloud)}). The next run of this "
                        f"task deletes it (it carries the property {UPLOAD_MARKER}), or delete it with: "
                        f"openstack image delete {image_id}", orphan_id=image_id) from None
                self.client.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ---- rotation --------------------------------------------------------------------------
    def referenced(self, group: list[Image]) -> tuple[set[str], str | None] | None:
        """Image ids that must stay (given, or used by Trove by id or by tags) and the current project;
        ``None`` when Trove could not be asked (then nothing may be deleted)."""
        r = self.request
        referenced = set(r.referenced_image_ids)
        if self.in_use is not None:
            try:
                found = self.in_use()
            except Exception as exc:
                self.warn("Could not ask Trove which images its datastore versions use "
                          f"({describe_error(exc, r.cloud)}); no image was deleted.")
                return None
            if found is not None:
                ids, tag_sets = found
                referenced |= set(ids) | referenced_by_tags(group, tag_sets)
        try:
            owner = self.client.conn.current_project_id
        except Exception:
            owner = None
        return referenced, owner

    def rotate(self, current_id: str | None, extra: Iterable[Image] = (), gone: Iterable[str] = ()
               ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        r = self.request
        tag = family_tag(r.family)
        group = self.client.list_images(tags=[tag]) if tag else self.client.list_images(name=self.name)
        skip = set(gone)
        group = [i for i in group if i.get("id") and i.get("id") not in skip]
        if current_id is None:
            # Check mode: the image that would be uploaded is the newest of the group.
            current_id = "(new image)"
            group += [dict(i, id=current_id) for i in extra]
        found = self.referenced(group)
        if found is None:
            return [], [{"id": i.get("id"), "name": i.get("name"), "reason": "Trove not reachable"}
                        for i in group if i.get("id") and i.get("id") != current_id]
        referenced, owner = found
        delete, spared = select_for_rotation(group, r.keep, current_id=current_id, referenced_ids=referenced,
                                             owner=owner)
        deleted = []
        for image in delete:
            if not self.check_mode:
                self.client.delete(image["id"])
            deleted.append({"id": image["id"], "name": image.get("name"), "created_at": image.get("created_at")})
        return deleted, [{"id": i["id"], "name": i.get("name"), "reason": reason} for i, reason in spared]

    # ---- state=absent ----------------------------------------------------------------------
    def run_absent(self) -> dict[str, Any]:
        if self.request.image_id:
            image = self.client.get_image(self.request.image_id)
            images = [image] if image else []
        else:
            images = self.client.list_images(name=self.request.name)
        protected = [i for i in images if i.get("protected")]
        if protected:
            raise GlanceError("Image(s) {} are protected and were not deleted; set protected=false on them first "
                              "if they really must go.".format(", ".join(i["id"] for i in protected)))
        deleted = []
        for image in images:
            if not self.check_mode:
                self.client.delete(image["id"])
            deleted.append({"id": image["id"], "name": image.get("name"), "created_at": image.get("created_at")})
        return {"changed": bool(deleted), "deleted": deleted, "spared": [],
                "diff": {"before": {"images": [i["id"] for i in images]}, "after": {"images": []}}}
