"""Make the collection importable as ansible_collections.dbaas.guest_images.

scripts/run links the checkout into <venv>/collections; when pytest is run
directly, this does the same in a temporary folder.
"""

import atexit
import os
import shutil
import sys
import tempfile

_HERE = os.path.dirname(os.path.abspath(__file__))
_REPO = os.path.dirname(_HERE)


def _collections_root() -> str:
    for entry in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep):
        if entry and os.path.isdir(os.path.join(entry, "ansible_collections", "dbaas", "guest_images")):
            return entry
    root = tempfile.mkdtemp(prefix="guest-images-collections-")
    # rmtree removes the link, never what it points to.
    atexit.register(shutil.rmtree, root, True)
    os.makedirs(os.path.join(root, "ansible_collections", "dbaas"))
    os.symlink(_REPO, os.path.join(root, "ansible_collections", "dbaas", "guest_images"))
    return root


_ROOT = _collections_root()
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)
sys.path.insert(0, os.path.join(_HERE, "integration"))
