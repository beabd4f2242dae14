# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``build_host_facts`` options: their argument spec and the typed request read from them.

PRIVATE to the collection: no compatibility promise outside it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# The commands build_host_facts can run for the prepare stage, as the connecting user, so that a
# prepared host needs no task of its own for each: name -> what it proves.
CHECKS = {
    "sudo": "sudo -n true: passwordless sudo, which diskimage-builder needs (not run as root)",
    "qemu": "qemu-system-x86_64 -version: the verify stage can boot images",
    "dib": "<dib_venv>/bin/disk-image-create --version: diskimage-builder runs as this user",
}


def argument_spec() -> dict[str, dict[str, Any]]:
    """The ``build_host_facts`` argument spec, the only place its defaults live."""
    return dict(
        paths=dict(type="list", elements="path", default=[]),
        root=dict(type="path", default="/"),
        from_apt=dict(type="bool", default=True),
        debian_mirror=dict(type="str"),
        debian_security_mirror=dict(type="str"),
        ubuntu_mirror=dict(type="str"),
        packages_by_family=dict(type="dict", default={}),
        extra_packages=dict(type="list", elements="str", default=[]),
        dib_venv=dict(type="path"),
        fallback_dir=dict(type="path"),
        checks=dict(type="list", elements="str", default=[], choices=list(CHECKS)),
    )


@dataclass(frozen=True)
class BuildHostFactsRequest:
    """One ``build_host_facts`` call, its options read once."""

    paths: list[str]
    root: str
    from_apt: bool
    debian_mirror: str | None
    debian_security_mirror: str | None
    ubuntu_mirror: str | None
    packages_by_family: dict[str, list[str]]
    extra_packages: list[str]
    dib_venv: str | None
    fallback_dir: str | None
    checks: tuple[str, ...] = ()

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> BuildHostFactsRequest:
        """The request from validated module parameters (``module.params``)."""
        return cls(
            paths=[str(path) for path in params["paths"]],
            root=str(params["root"]),
            from_apt=bool(params["from_apt"]),
            debian_mirror=params["debian_mirror"],
            debian_security_mirror=params["debian_security_mirror"],
            ubuntu_mirror=params["ubuntu_mirror"],
            packages_by_family={
                str(family): [str(name) for name in (names or [])]
                for family, names in params["packages_by_family"].items()
            },
            extra_packages=[str(name) for name in params["extra_packages"]],
            dib_venv=params["dib_venv"],
            fallback_dir=params["fallback_dir"],
            checks=tuple(str(name) for name in params.get("checks") or ()),
        )

    def wanted_packages(self, family: str) -> list[str]:
        """The OS packages this host's family should have: its list, then the extra ones."""
        return list(self.packages_by_family.get(family) or []) + list(self.extra_packages)
