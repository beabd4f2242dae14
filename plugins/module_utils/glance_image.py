# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Publishing an image file to Glance by content: the logic behind glance_image and glance_image_info.

Glance's v2 REST API is used through the authenticated openstacksdk session, so
that the upload streams from a ``HashingReader`` (read once, memory flat) and
every step (create, upload, verify, clean up) is under this module's control.
"""

import os
import time

from ansible_collections.dbaas.guest_images.plugins.module_utils._trove.admin import TroveAdmin
from ansible_collections.dbaas.guest_images.plugins.module_utils.glance_data import (
    HashCache,
    HashingReader,
    file_identity,
    hash_file,
    parse_checksum,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils.glance_metadata import (
    apply_patch,
    default_properties,
    desired_attributes,
    diff_view,
    family_tag,
    metadata_patch,
    normalize_image,
    property_value,
    referenced_by_tags,
    select_for_rotation,
)
from ansible_collections.dbaas.guest_images.plugins.module_utils.openstack import (
    describe_error,
    has_service,
    is_transient,
    retry,
)

PATCH_CONTENT_TYPE = "application/openstack-images-v2.1-json-patch"


class GlanceError(Exception):
    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


class HttpStatusError(Exception):
    """A non-2xx answer; ``status_code`` lets ``is_transient`` decide on retries."""

    def __init__(self, method, url, status_code, detail):
        super().__init__(f"{method} {url} -> HTTP {status_code}: {detail}")
        self.method = method
        self.url = url
        self.status_code = status_code
        self.detail = detail


def _response_detail(response):
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "title", "error", "badRequest", "itemNotFound", "conflictingRequest"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("title")
            if value:
                return str(value)
    text = " ".join((response.text or "").split())
    # Glance's webob errors are small HTML pages: keep the human part.
    for marker in ("<body>", "<h1>"):
        if marker in text:
            text = text.split(marker, 1)[1]
    for tag in ("</body>", "</html>", "<h1>", "</h1>", "<br />", "<br/>"):
        text = text.replace(tag, " ")
    return " ".join(text.split())[:500] or response.reason or ""


class GlanceClient:
    """Small Glance v2 client over an openstacksdk Connection (no secrets kept or logged)."""

    def __init__(self, conn, attempts=4, sleep=time.sleep, warn=None, timeout=None):
        self.conn = conn
        # Seconds one socket operation may stall (not the whole upload): a hung server must not hang the task.
        self.timeout = timeout or 300
        self.attempts = attempts
        self.sleep = sleep
        self.warn = warn or (lambda msg: None)

    def _call(self, method, path, idempotent=True, ok=(200, 201, 204), **kwargs):
        def once():
            response = self.conn.image.request(path, method, raise_exc=False, connect_retries=0,
                                               timeout=self.timeout, **kwargs)
            if response.status_code not in ok:
                raise HttpStatusError(method, path, response.status_code, _response_detail(response))
            return response

        if not idempotent:
            return once()
        return retry(once, attempts=self.attempts, sleep=self.sleep,
                     on_retry=lambda exc, n, d: self.warn(
                         f"Glance {method} {path} failed ({exc.__class__.__name__}); retry {n} in {d:.1f}s"))

    def list_images(self, name=None, tags=None, visibility="all", limit=200):
        params = {"limit": limit}
        if name is not None:
            params["name"] = name
        if visibility:
            params["visibility"] = visibility
        if tags:
            params["tag"] = list(tags)
        images = []
        while True:
            body = self._call("GET", "/images", params=params).json()
            batch = body.get("images") or []
            images.extend(batch)
            if not body.get("next") or not batch:
                return images
            params["marker"] = batch[-1]["id"]

    def get_image(self, image_id):
        try:
            return self._call("GET", "/images/" + image_id).json()
        except HttpStatusError as exc:
            if exc.status_code == 404:
                return None
            raise

    def create_image(self, body):
        # Not retried blindly: a lost answer could leave a second record; the caller retries whole.
        return self._call("POST", "/images", idempotent=False, json=body).json()

    def upload(self, image_id, reader, size):
        headers = {"Content-Type": "application/octet-stream", "Content-Length": str(size)}
        self._call("PUT", f"/images/{image_id}/file", idempotent=False, data=reader, headers=headers)

    def patch(self, image_id, ops):
        return self._call("PATCH", "/images/" + image_id, json=ops,
                          headers={"Content-Type": PATCH_CONTENT_TYPE}).json()

    def delete(self, image_id):
        try:
            self._call("DELETE", "/images/" + image_id)
        except HttpStatusError as exc:
            if exc.status_code != 404:
                raise

    def wait_status(self, image_id, wanted=("active",), timeout=180, poll=1.0):
        deadline = time.monotonic() + timeout
        while True:
            image = self.get_image(image_id)
            if image is None:
                raise GlanceError(f"Image {image_id} disappeared while waiting for it to become active.")
            if image.get("status") in wanted:
                return image
            if image.get("status") in ("killed", "deleted", "pending_delete"):
                raise GlanceError("Image {} ended in status '{}'.".format(image_id, image.get("status")))
            if time.monotonic() >= deadline:
                raise GlanceError("Image {} still '{}' after {}s (option 'timeout').".format(
                    image_id, image.get("status"), timeout))
            self.sleep(poll)


def explain(exc, params=None, action="talking to Glance"):
    """Plain words for any error raised while talking to Glance."""
    if isinstance(exc, GlanceError):
        return exc.msg
    if isinstance(exc, HttpStatusError):
        hints = {
            401: "the token was refused; check the credentials",
            403: "the user's role does not allow this (public images and 'protected' need the admin role)",
            404: "not found",
            409: "conflict with the image's current state",
            413: "the image is larger than Glance accepts (image_size_cap or quota)",
        }
        hint = hints.get(exc.status_code)
        return "Glance answered HTTP {} while {}: {}{}".format(
            exc.status_code, action, exc.detail, f" ({hint})" if hint else "")
    return f"Error while {action}: {describe_error(exc, params)}"


def trove_references(conn, params=None):
    """Images Trove datastore versions use: ``(image ids, image tag sets)``; ``None`` without Trove.

    Trove's management API lists every version (it needs Trove's admin role); a
    version naming its image by tags uses the newest active image with those tags.
    """
    params = params or {}
    if not has_service(conn, "database", params):
        return None
    admin = TroveAdmin(conn.session, interface=params.get("interface"), region_name=params.get("region_name"),
                       retry=retry)
    versions = admin.list_versions()
    ids = {v["image"] for v in versions if v.get("image")}
    tag_sets = [v["image_tags"] for v in versions if v.get("image_tags")]
    return ids, tag_sets


class Publisher:
    """``state=present`` and ``state=absent`` of glance_image; ``run_*`` return the result dict."""

    def __init__(self, client, params, check_mode=False, hash_cache=None, warn=None, references=None):
        self.client = client
        self.params = params
        self.check_mode = check_mode
        self.hash_cache = hash_cache
        self.warn = warn or (lambda msg: None)
        self.references = references  # callable -> (ids, tag_sets) or None
        self.hash_info = {}

    # ---- desired metadata ------------------------------------------------------------------
    def wanted_properties(self):
        p = self.params
        props = default_properties(
            os_distro=p.get("os_distro"), os_version=p.get("os_version"), arch=p.get("architecture"),
            datastore=p.get("trove_datastore"), datastore_version=p.get("trove_datastore_version"),
            fingerprint=p.get("build_fingerprint"), hardware=p.get("hardware_defaults", True))
        props.update(p.get("properties") or {})
        return {k: property_value(v) for k, v in props.items()}

    def wanted_tags(self):
        tags = list(self.params.get("tags") or [])
        tag = family_tag(self.params.get("family"))
        if tag and tag not in tags:
            tags.append(tag)
        return tags

    def wanted_attributes(self, for_create=False):
        p = self.params
        attrs = desired_attributes(name=p["name"], visibility=p.get("visibility"), protected=p.get("protected"),
                                   min_disk=p.get("min_disk"), min_ram=p.get("min_ram"))
        if for_create:
            # Protection is set after the data is in: a failed upload must stay deletable.
            attrs.pop("protected", None)
        return attrs

    # ---- local data ------------------------------------------------------------------------
    def local_hash(self, path, algorithm):
        """The file's hash without uploading: checksum option, then cache, then one hashing pass."""
        given = parse_checksum(self.params.get("checksum"), self.params.get("hash_algorithm") or "sha512")
        if given and given[0] == algorithm:
            self.hash_info = {"algorithm": algorithm, "value": given[1], "source": "checksum"}
            return given[1]
        if self.hash_cache is not None:
            cached = self.hash_cache.get(path, algorithm)
            if cached:
                self.hash_info = {"algorithm": algorithm, "value": cached, "source": "cache"}
                return cached
        identity = file_identity(path)
        value = hash_file(path, algorithm)
        if self.hash_cache is not None:
            self.hash_cache.put(path, algorithm, value, identity=identity)
        self.hash_info = {"algorithm": algorithm, "value": value, "source": "computed"}
        return value

    # ---- finding ---------------------------------------------------------------------------
    def candidates(self):
        p = self.params
        seen = {}
        for image in self.client.list_images(name=p["name"]):
            seen[image["id"]] = image
        tag = family_tag(p.get("family"))
        if tag:
            for image in self.client.list_images(tags=[tag]):
                seen[image["id"]] = image
        return list(seen.values())

    def find_same_data(self, images, path, size):
        p = self.params
        same = [i for i in images if i.get("status") == "active" and i.get("size") == size
                and i.get("disk_format") == p["disk_format"] and i.get("container_format") == p["container_format"]
                and i.get("os_hash_value")]
        if not same:
            return None
        same.sort(key=lambda i: i.get("created_at") or "", reverse=True)
        hashes = {}
        for image in same:
            algorithm = image.get("os_hash_algo") or "sha512"
            if algorithm not in hashes:
                hashes[algorithm] = self.local_hash(path, algorithm)
            if hashes[algorithm] == image["os_hash_value"]:
                return image
        return None

    # ---- state=present ---------------------------------------------------------------------
    def run_present(self):
        p = self.params
        path = p["filename"]
        size = os.stat(path).st_size
        images = self.candidates()
        existing = self.find_same_data(images, path, size)
        props = self.wanted_properties()
        tags = self.wanted_tags()
        result = {"changed": False, "uploaded": False, "deleted": [], "spared": []}
        if existing is not None:
            ops = metadata_patch(existing, self.wanted_attributes(), props, tags)
            before = diff_view(existing)
            if ops and not self.check_mode:
                after_raw = self.client.patch(existing["id"], ops)
            else:
                after_raw = apply_patch(existing, ops)
            result.update(changed=bool(ops), image=normalize_image(after_raw), updated=[o["path"][1:] for o in ops],
                          diff={"before": before, "after": diff_view(after_raw)})
            current = after_raw
        else:
            previous = max((i for i in images if i.get("name") == p["name"]),
                           key=lambda i: i.get("created_at") or "", default=None)
            body = dict(self.wanted_attributes(for_create=True), disk_format=p["disk_format"],
                        container_format=p["container_format"], tags=tags)
            body.update(props)
            if self.check_mode:
                current = dict(body, id=None, status="active", size=size, protected=bool(p.get("protected")))
                if self.hash_info:
                    current.update(os_hash_algo=self.hash_info["algorithm"], os_hash_value=self.hash_info["value"])
            else:
                current = self.upload_new(path, size, body)
            result.update(changed=True, uploaded=not self.check_mode, image=normalize_image(current), updated=[],
                          diff={"before": diff_view(previous), "after": diff_view(current)})
        if self.hash_info:
            result["hash"] = dict(self.hash_info)
        if p.get("keep") is not None:
            deleted, spared = self.rotate(current.get("id"), extra=[current] if self.check_mode else [])
            result["deleted"] = deleted
            result["spared"] = spared
            if deleted:
                result["changed"] = True
        return result

    def upload_new(self, path, size, body):
        """Create a record, stream the file, verify Glance's hash; on any failure delete the record.

        Transient failures (dropped connection, 502/503/504) start over with a new record, a bounded
        number of times.
        """
        algorithm = self.params.get("hash_algorithm") or "sha512"
        given = parse_checksum(self.params.get("checksum"), algorithm)
        attempts = self.params.get("retries", 3) + 1

        def attempt():
            image = self.client.create_image(body)
            image_id = image["id"]
            try:
                identity = file_identity(path)
                with open(path, "rb") as handle:
                    reader = HashingReader(handle, size, algorithm)
                    self.client.upload(image_id, reader, size)
                if not reader.complete:
                    raise GlanceError(f"Only {reader.bytes_read} of {size} bytes of {path} were sent; "
                                      "the file changed or the connection ended early.")
                digest = reader.hexdigest()
                if self.params.get("wait", True):
                    uploaded = self.client.wait_status(image_id, timeout=self.params.get("timeout") or 180)
                else:
                    uploaded = self.client.get_image(image_id) or image
                self.verify(uploaded, size, algorithm, digest, given, path)
                if self.params.get("protected"):
                    uploaded = self.client.patch(image_id, [{"op": "replace", "path": "/protected", "value": True}])
                if self.hash_cache is not None:
                    self.hash_cache.put(path, algorithm, digest, identity=identity)
                self.hash_info = {"algorithm": algorithm, "value": digest, "source": "upload"}
                return uploaded
            except BaseException as exc:
                self.cleanup(image_id, exc)
                raise

        def on_retry(exc, number, delay):
            self.warn(f"Upload of {path} failed ({describe_error(exc, self.params)}); the image record was "
                      f"deleted, retry {number} of {attempts - 1} in {delay:.1f}s")

        return retry(attempt, attempts=attempts, sleep=self.client.sleep, on_retry=on_retry)

    def verify(self, image, size, algorithm, digest, given, path):
        if given and given[0] == algorithm and given[1] != digest:
            raise GlanceError(f"The content of {path} does not match option 'checksum' "
                              f"({given[0]}:{given[1][:16]}...); nothing was published. "
                              "Rebuild the image or correct 'checksum'.")
        if image.get("size") not in (None, size):
            raise GlanceError(f"Glance stored {image.get('size')} bytes for {path} but the file has {size}.")
        if image.get("os_hash_algo") == algorithm and image.get("os_hash_value") not in (None, digest):
            raise GlanceError(f"Glance's {algorithm} of the uploaded data differs from the file's: the data was "
                              "altered on the way. Nothing was published.")

    def cleanup(self, image_id, cause):
        """Delete a record whose upload failed. While Glance is unreachable (restarting, a network cut),
        keep trying for up to ``timeout`` seconds (10 when the task itself is being stopped)."""
        patience = 10 if isinstance(cause, (SystemExit, KeyboardInterrupt)) else (self.params.get("timeout") or 180)
        deadline = time.monotonic() + patience
        delay = 1.0
        while True:
            try:
                self.client.delete(image_id)
                return
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + delay > deadline:
                    raise GlanceError(
                        f"The upload failed ({describe_error(cause, self.params)}) and the image record {image_id} "
                        f"it created could not be deleted ({describe_error(exc, self.params)}). "
                        f"Delete it with: openstack image delete {image_id}", orphan_id=image_id) from None
                self.client.sleep(delay)
                delay = min(delay * 2, 10.0)

    # ---- rotation --------------------------------------------------------------------------
    def rotate(self, current_id, extra=()):
        p = self.params
        tag = family_tag(p.get("family"))
        group = self.client.list_images(tags=[tag]) if tag else self.client.list_images(name=p["name"])
        group = [i for i in group if i.get("id")]
        if current_id is None:
            # Check mode: the image that would be uploaded is the newest of the group.
            current_id = "(new image)"
            group += [dict(i, id=current_id) for i in extra]
        referenced = set(p.get("referenced_image_ids") or [])
        if p.get("check_trove", True) and self.references is not None:
            try:
                found = self.references()
            except Exception as exc:
                self.warn("Could not ask Trove which images its datastore versions use "
                          f"({describe_error(exc, p)}); no image was deleted by rotation.")
                return [], [{"id": i.get("id"), "name": i.get("name"), "reason": "Trove not reachable"}
                            for i in group if i.get("id") and i.get("id") != current_id]
            if found is not None:
                ids, tag_sets = found
                referenced |= set(ids) | referenced_by_tags(group, tag_sets)
        owner = None
        try:
            owner = self.client.conn.current_project_id
        except Exception:
            owner = None
        delete, spared = select_for_rotation(group, p["keep"], current_id=current_id, referenced_ids=referenced,
                                             owner=owner)
        deleted = []
        for image in delete:
            if not self.check_mode:
                self.client.delete(image["id"])
            deleted.append({"id": image["id"], "name": image.get("name"), "created_at": image.get("created_at")})
        return deleted, [{"id": i["id"], "name": i.get("name"), "reason": reason} for i, reason in spared]

    # ---- state=absent ----------------------------------------------------------------------
    def run_absent(self):
        p = self.params
        if p.get("id"):
            image = self.client.get_image(p["id"])
            images = [image] if image else []
        else:
            images = self.client.list_images(name=p["name"])
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


def find_images(client, name=None, tags=None, properties=None, visibility="all", status=None, image_id=None):
    """Images for glance_image_info: server-side filters, then properties compared as strings."""
    if image_id:
        image = client.get_image(image_id)
        raw = [image] if image else []
    else:
        raw = client.list_images(name=name, tags=tags, visibility=visibility)
    wanted = {k: property_value(v) for k, v in (properties or {}).items()}
    result = []
    for image in raw:
        if status and image.get("status") != status:
            continue
        if any(image.get(k) != v for k, v in wanted.items()):
            continue
        result.append(normalize_image(image))
    result.sort(key=lambda i: (i.get("created_at") or "", i.get("id") or ""), reverse=True)
    return result


__all__ = ["GlanceClient", "GlanceError", "HashCache", "Publisher", "explain", "find_images", "trove_references"]
