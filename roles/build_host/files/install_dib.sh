#!/bin/sh
# dbaas.guest_images: install the pinned diskimage-builder into its own virtualenv.
# Run by the dbaas.guest_images.build_host role:
#
#   install_dib.sh VENV PYTHON VERSION [PIP_ARGUMENTS...]
#
# One install at a time per virtualenv: two runs preparing the same build host
# at once (two playbooks, two test lanes) would otherwise both create the
# virtualenv and run pip into it, and one of them find it half made. The lock
# is a file inside the virtualenv's folder, held (flock) only while this runs.
# Prints "installed: ..." when it installed, "unchanged: ..." when another run
# had installed that version while this one waited.
set -eu

venv=$1
python=$2
version=$3
shift 3

mkdir -p "$venv"
exec 9>"$venv/.dbaas-install.lock"
if ! flock -w 1800 9; then
    echo "another install into $venv has held $venv/.dbaas-install.lock for 30 minutes; is a pip run stuck there?" >&2
    exit 3
fi
if [ -x "$venv/bin/disk-image-create" ] && [ "$("$venv/bin/disk-image-create" --version 2>/dev/null)" = "$version" ]; then
    echo "unchanged: diskimage-builder $version is in $venv (installed by another run while this one waited)"
    exit 0
fi
# An earlier install cut off halfway leaves a virtualenv without pip: venv completes it.
if [ ! -x "$venv/bin/pip" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/pip" install --disable-pip-version-check "$@" "diskimage-builder==$version"
echo "installed: diskimage-builder $version in $venv"
