# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``dib_images`` options: several ``dib_image`` builds checked at once, before any of them runs.

PRIVATE to the collection: no compatibility promise outside it.

Used by the module (on the build host) and by its action plugin (on the
controller, before anything is sent to the build host).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import request as dib_request

# Options of dib_image the batch sets itself for each build (the heartbeat of its job).
_OWN_OPTIONS = ("heartbeat_path", "heartbeat_interval", "heartbeat_misses")


class BatchError(ValueError):
    """Wrong ``builds`` or ``builds_at_once``; the message names each wrong build and the fix."""


def argument_spec() -> dict[str, dict[str, Any]]:
    return dict(
        builds=dict(type="list", elements="dict", required=True),
        builds_at_once=dict(type="int", default=1),
        fail_fast=dict(type="bool", default=False),
    )


def check_builds(builds: Sequence[Any], at_once: Any = 1) -> list[dict[str, Any]]:
    """Each build's ``dib_image`` parameters (defaults filled in), or :class:`BatchError` naming every wrong one.

    On the controller only the verdict counts: options of type ``path`` come back expanded for the
    machine that checks them, and the build host checks (and expands) them again.
    """
    try:
        slots = int(at_once)
    except (TypeError, ValueError):
        raise BatchError(f"builds_at_once: {at_once!r} is not a number; give 1 or more") from None
    problems: list[str] = []
    if slots < 1:
        problems.append(f"builds_at_once: {slots} is less than 1; give 1 (one build at a time) or more")
    options = dib_request.argument_spec()
    validator = ArgumentSpecValidator(options)
    checked: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, build in enumerate(builds or []):
        if not isinstance(build, dict):
            problems.append(f"builds[{index}]: {build!r} is not a dictionary of dib_image options")
            continue
        label = f"builds[{index}] ({build.get('name') or 'no name'})"
        own = sorted(key for key in build if key in _OWN_OPTIONS)
        if own:
            problems.append(f"{label}: {', '.join(own)} is set by dib_images for each build; leave it out")
            continue
        unknown = sorted(str(key) for key in build if key not in options)
        if unknown:
            allowed = ", ".join(sorted(key for key in options if key not in _OWN_OPTIONS))
            problems.append(f"{label}: unknown option(s) {', '.join(unknown)}; the dib_image options are {allowed}")
            continue
        result = validator.validate(build)
        if result.error_messages:
            problems.extend(f"{label}: {message}" for message in result.error_messages)
            continue
        params = result.validated_parameters
        key = (str(params["dest"]), str(params["name"]))
        if key in seen:
            problems.append(f"{label}: the same image ({params['name']} in {params['dest']}) as"
                            f" builds[{seen[key]}]; each image is built once")
            continue
        seen[key] = index
        checked.append(params)
    if not builds:
        problems.append("builds: empty; give at least one set of dib_image options")
    if problems:
        raise BatchError("dib_images: " + "; ".join(problems))
    return checked


def task_diff(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The diffs of the builds, one per changed image and headed by its name, for the whole task's ``diff``.

    Ansible shows the ``diff`` of a task, not the ones inside its ``results``.
    """
    diffs = []
    for result in results:
        diff = result.get("diff")
        if isinstance(diff, Mapping) and (diff.get("before") or diff.get("after")):
            name = result.get("name")
            before = f"{name} (last build)" if diff.get("before") else f"{name} (no earlier build)"
            diffs.append(dict({"before_header": before, "after_header": f"{name} (this run)"}, **diff))
    return diffs


# The keys of a composed image (the compose stage's option set) that are dib_image options of the image itself;
# the build host's settings (dest, cache, command, timeouts) come from the caller.
IMAGE_OPTIONS = ("name", "elements", "element_paths", "formats", "compress", "size", "arch", "environment", "packages",
                 "inputs")


def builds_from_specs(
    specs: Sequence[Any],
    host_options: Mapping[str, Any],
    environment_for: Callable[[Sequence[str]], Mapping[str, Any]],
    where: str = "build_image_specs",
) -> list[dict[str, Any]]:
    """The ``dib_images`` builds of composed images: each image's own options over the host's.

    ``environment_for(elements)``: the build host's DIB environment for an image of those elements,
    merged under the image's own ``environment``. Options left empty (no size, no formats) are left
    out, so the dib_image defaults apply.
    """
    builds: list[dict[str, Any]] = []
    problems: list[str] = []
    for index, spec in enumerate(specs or []):
        label = f"{where}[{index}]"
        if not isinstance(spec, Mapping):
            problems.append(f"{label}: {spec!r} is not a dib_image option set")
            continue
        elements = spec.get("elements")
        if not str(spec.get("name") or "").strip() or not isinstance(elements, list) or not elements:
            problems.append(
                f"{label}: needs at least `name` and a non-empty list `elements`"
                f" (e.g. {{name: debian-12-base, elements: [debian-minimal, vm]}}); got {dict(spec)!r}")
            continue
        build = {key: value for key, value in host_options.items() if value not in (None, "")}
        build.update({key: spec[key] for key in IMAGE_OPTIONS if key in spec and spec[key] not in (None, "", [])})
        build["environment"] = dict(environment_for([str(e) for e in elements]), **dict(spec.get("environment") or {}))
        builds.append(build)
    if problems:
        raise BatchError("; ".join(problems))
    return builds
