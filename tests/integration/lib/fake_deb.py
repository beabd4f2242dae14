# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build a real, installable .deb with ``dpkg-deb`` (stands in for a licensed package).

The default package ``acme-dbtools`` installs a script and a data file and
depends on a real Debian package (``jq``, which itself pulls ``libjq1`` and
``libonig5``), so installing it proves that the image build resolved
dependencies from the archive.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

ACME_FILE = "/usr/share/acme-dbtools/LICENSE-ACCEPTED"
ACME_SCRIPT = "/usr/bin/acme-dbtools"


def build_deb(
    dest_dir: str,
    package: str = "acme-dbtools",
    version: str = "1.2.3",
    depends: str = "jq",
    files: dict[str, str] | None = None,
) -> str:
    """Write ``<dest_dir>/<package>_<version>_all.deb`` and return its path.

    ``files`` maps absolute paths in the package to their text content
    (default: a script and a data file of acme-dbtools).
    """
    if shutil.which("dpkg-deb") is None:
        raise RuntimeError("dpkg-deb is needed to build test packages (apt-get install dpkg-dev)")
    if files is None:
        files = {
            ACME_SCRIPT: '#!/bin/sh\necho \'{"tool": "acme-dbtools"}\' | jq -r .tool\n',
            ACME_FILE: f"{package} {version}: licensed test package\n",
        }
    os.makedirs(dest_dir, exist_ok=True)
    out = os.path.join(dest_dir, f"{package}_{version}_all.deb")
    with tempfile.TemporaryDirectory(prefix="fake-deb-") as root:
        for path, content in files.items():
            target = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "w", encoding="utf-8") as handle:
                handle.write(content)
            os.chmod(target, 0o755 if "/bin/" in path else 0o644)
        os.makedirs(os.path.join(root, "DEBIAN"))
        control = [
            f"Package: {package}",
            f"Version: {version}",
            "Architecture: all",
            "Maintainer: dbaas.guest_images tests <tests@example.invalid>",
            "Section: misc",
            "Priority: optional",
        ]
        if depends:
            control.append(f"Depends: {depends}")
        control.append(f"Description: {package} (test package)\n stands in for a licensed datastore package")
        with open(os.path.join(root, "DEBIAN", "control"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(control) + "\n")
        os.chmod(root, 0o755)
        for dirpath, dirnames, _files in os.walk(root):
            for name in dirnames:
                os.chmod(os.path.join(dirpath, name), 0o755)
        subprocess.run(
            ["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", root, out],
            check=True,
            capture_output=True,
            text=True,
        )
    return out


def deb_field(path: str, field: str) -> str:
    """A control field of a .deb (``dpkg-deb --field``)."""
    return subprocess.run(
        ["dpkg-deb", "--field", path, field], check=True, capture_output=True, text=True
    ).stdout.strip()
