# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Find the build host's Debian/Ubuntu archive mirrors in its apt sources.

PRIVATE to the collection: no compatibility promise outside it.

diskimage-builder fetches packages from upstream hosts unless told otherwise
(``DIB_DISTRIBUTION_MIRROR``, ``DIB_DEBIAN_SECURITY_MIRROR``).  A build host
usually already knows a mirror it can reach: its own apt configuration.  This
module parses both apt formats (one-line ``*.list`` and deb822 ``*.sources``),
keeps only distribution archives (recognised by suite and component, so
third-party vendor repositories are ignored) and turns them into DIB
environment variables.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

# One apt source entry: types, uris, suites, components (lists), enabled, origin.
Entry = dict[str, Any]
# Per distribution: {"mirror": uri, "security_mirror": uri} (only the keys found).
Mirrors = dict[str, dict[str, str]]

DEBIAN_CODENAMES = frozenset(
    (
        "buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid",
        "oldoldstable", "oldstable", "stable", "testing", "unstable",
    )
)
UBUNTU_CODENAMES = frozenset(
    (
        "bionic", "focal", "jammy", "kinetic", "lunar", "mantic", "noble",
        "oracular", "plucky", "questing", "resolute",
    )
)
POCKETS = ("updates", "security", "backports", "proposed")
SUITE_RE = re.compile(r"^(?P<codename>[a-z]+)(?:-(?P<pocket>[a-z]+)|/(?P<legacy>updates))?$")
ACCEPTED_SCHEMES = ("http://", "https://", "ftp://", "file:/")


def _entry(
    types: Iterable[str],
    uris: Iterable[str],
    suites: Iterable[str],
    components: Iterable[str],
    enabled: bool = True,
    origin: str = "",
) -> Entry:
    return {
        "types": list(types),
        "uris": list(uris),
        "suites": list(suites),
        "components": list(components),
        "enabled": enabled,
        "origin": origin,
    }


def parse_one_line(text: str, origin: str = "") -> list[Entry]:
    """Parse the one-line format (``deb [options] uri suite component...``)."""
    entries = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        # Options in square brackets may contain spaces: drop them as a whole.
        line = re.sub(r"\[[^\]]*\]", " ", line)
        fields = line.split()
        if len(fields) < 3 or fields[0] not in ("deb", "deb-src"):
            continue
        entries.append(_entry([fields[0]], [fields[1]], [fields[2]], fields[3:], origin=origin))
    return entries


def parse_deb822(text: str, origin: str = "") -> list[Entry]:
    """Parse the deb822 format (paragraphs of ``Field: value`` lines)."""
    entries = []
    for paragraph in re.split(r"\n[ \t]*\n", text):
        fields: dict[str, str] = {}
        key: str | None = None
        for raw in paragraph.splitlines():
            if raw.startswith("#") or not raw.strip():
                continue
            if raw[0] in " \t" and key is not None:
                fields[key] += " " + raw.strip()
                continue
            if ":" not in raw:
                key = None
                continue
            key, value = raw.split(":", 1)
            key = key.strip().lower()
            fields[key] = value.strip()
        if not fields.get("types") or not fields.get("uris") or not fields.get("suites"):
            continue
        enabled = fields.get("enabled", "yes").strip().lower() not in ("no", "false", "0")
        entries.append(
            _entry(
                fields["types"].split(),
                fields["uris"].split(),
                fields["suites"].split(),
                fields.get("components", "").split(),
                enabled=enabled,
                origin=origin,
            )
        )
    return entries


def read_sources(root: str = "/") -> list[Entry]:
    """Read every apt source file below ``root`` (``/`` on a real host)."""
    etc_apt = os.path.join(root, "etc", "apt")
    entries = []
    paths = [os.path.join(etc_apt, "sources.list")]
    paths += sorted(glob.glob(os.path.join(etc_apt, "sources.list.d", "*.list")))
    paths += sorted(glob.glob(os.path.join(etc_apt, "sources.list.d", "*.sources")))
    for path in paths:
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read()
        if path.endswith(".sources"):
            entries.extend(parse_deb822(text, origin=path))
        else:
            entries.extend(parse_one_line(text, origin=path))
    return entries


def classify_suite(suite: str, host_codename: str = "", host_distribution: str = "") -> tuple[str, str, str] | None:
    """Return ``(distribution, codename, pocket)`` of a distribution suite, or None.

    ``pocket`` is ``""`` for the release itself, else updates/security/...
    Suites that do not look like a Debian/Ubuntu release (``nodistro``,
    ``cloud-sdk-bookworm``, ``stable main`` of vendors...) give None.
    """
    match = SUITE_RE.match(suite)
    if not match:
        return None
    codename = match.group("codename")
    pocket = match.group("pocket") or ("security" if match.group("legacy") else "")
    if pocket and pocket not in POCKETS:
        return None
    if codename in DEBIAN_CODENAMES:
        distribution = "debian"
    elif codename in UBUNTU_CODENAMES:
        distribution = "ubuntu"
    elif host_codename and codename == host_codename and host_distribution in ("debian", "ubuntu"):
        distribution = host_distribution
    else:
        return None
    return distribution, codename, pocket


def find_mirrors(entries: Iterable[Entry], host_codename: str = "", host_distribution: str = "") -> Mirrors:
    """Pick one archive (and security archive) URI per distribution.

    Returns ``{"debian": {"mirror": uri, "security_mirror": uri}, "ubuntu": {"mirror": uri}}``
    with only the keys that were found.  The first matching entry wins, in
    apt's own file order.
    """
    found: dict[str, dict[str, str]] = {}
    for entry in entries:
        if not entry["enabled"] or "deb" not in entry["types"] or "main" not in entry["components"]:
            continue
        for suite in entry["suites"]:
            classified = classify_suite(suite, host_codename, host_distribution)
            if classified is None:
                continue
            distribution, _codename, pocket = classified
            for uri in entry["uris"]:
                if not uri.startswith(ACCEPTED_SCHEMES):
                    continue
                uri = uri.rstrip("/")
                slot = found.setdefault(distribution, {})
                if pocket == "security" and distribution == "debian":
                    slot.setdefault("security_mirror", uri)
                elif pocket == "":
                    slot.setdefault("mirror", uri)
                else:
                    slot.setdefault("_pocket_mirror", uri)
    mirrors: Mirrors = {}
    for distribution, slot in found.items():
        result: dict[str, str] = {}
        mirror = slot.get("mirror") or slot.get("_pocket_mirror")
        if mirror:
            result["mirror"] = mirror
        if "security_mirror" in slot:
            result["security_mirror"] = slot["security_mirror"]
        if result:
            mirrors[distribution] = result
    return mirrors


def dib_environment_by_distribution(mirrors: Mirrors) -> dict[str, dict[str, str]]:
    """DIB environment variables for images of each distribution."""
    by_distribution: dict[str, dict[str, str]] = {}
    debian = mirrors.get("debian", {})
    if debian:
        env: dict[str, str] = {}
        if "mirror" in debian:
            env["DIB_DISTRIBUTION_MIRROR"] = debian["mirror"]
        if "security_mirror" in debian:
            env["DIB_DEBIAN_SECURITY_MIRROR"] = debian["security_mirror"]
        by_distribution["debian"] = env
    ubuntu = mirrors.get("ubuntu", {})
    if "mirror" in ubuntu:
        by_distribution["ubuntu"] = {"DIB_DISTRIBUTION_MIRROR": ubuntu["mirror"]}
    return by_distribution


def dib_environment(mirrors: Mirrors, host_distribution: str = "") -> dict[str, str]:
    """The environment to merge under every image's own.

    ``DIB_DISTRIBUTION_MIRROR`` is generic in DIB (every distribution element
    reads it), so it is only set for the build host's own distribution.  The
    Debian-only names (``DIB_DEBIAN_DISTRIBUTION_MIRROR``, which debian-minimal
    prefers over the generic one, and ``DIB_DEBIAN_SECURITY_MIRROR``) are
    harmless for other distributions and always set when known.
    """
    by_distribution = dib_environment_by_distribution(mirrors)
    env = dict(by_distribution.get(host_distribution, {}))
    debian = mirrors.get("debian", {})
    if "mirror" in debian:
        env["DIB_DEBIAN_DISTRIBUTION_MIRROR"] = debian["mirror"]
    if "security_mirror" in debian:
        env["DIB_DEBIAN_SECURITY_MIRROR"] = debian["security_mirror"]
    return env


def image_distribution(elements: Iterable[str] | None) -> str:
    """Guess an image's distribution from its DIB elements ("" when unknown)."""
    for element in elements or []:
        for distribution in ("debian", "ubuntu"):
            if element == distribution or element.startswith(distribution + "-"):
                return distribution
    return ""


def environment_for_elements(
    host_environment: Mapping[str, str] | None,
    by_distribution: Mapping[str, Mapping[str, str]] | None,
    host_distribution: str,
    elements: Iterable[str] | None,
) -> dict[str, str]:
    """The build host's environment adjusted to the distribution of one image.

    A Debian build host's generic ``DIB_DISTRIBUTION_MIRROR`` must not leak
    into an Ubuntu image (and the other way round): for an image of another
    distribution it is replaced by that distribution's mirror, or dropped.
    """
    distribution = image_distribution(elements)
    env = dict(host_environment or {})
    if distribution and distribution != host_distribution:
        env.pop("DIB_DISTRIBUTION_MIRROR", None)
        env.update((by_distribution or {}).get(distribution, {}))
    return env


def override_mirrors(
    mirrors: Mirrors | None,
    debian_mirror: str | None = None,
    debian_security_mirror: str | None = None,
    ubuntu_mirror: str | None = None,
) -> Mirrors:
    """Mirrors given explicitly win over the ones found in the apt sources."""
    result = {distribution: dict(values) for distribution, values in (mirrors or {}).items()}
    for distribution, key, value in (
        ("debian", "mirror", debian_mirror),
        ("debian", "security_mirror", debian_security_mirror),
        ("ubuntu", "mirror", ubuntu_mirror),
    ):
        if value:
            result.setdefault(distribution, {})[key] = value.rstrip("/")
    return result
