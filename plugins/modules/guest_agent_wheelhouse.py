#!/usr/bin/python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Module dbaas.guest_images.guest_agent_wheelhouse."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: guest_agent_wheelhouse
short_description: Prepare the Trove guest agent wheelhouse for one guest release on the build host
version_added: 0.1.0
description:
  - Makes, on the build host, the folder of wheels the C(dbaas-guest-agent) element installs the
    Trove guest agent from with C(pip install --no-index) (the image build has no network access
    to PyPI). One wheelhouse per agent version and guest Python, in
    C(<cache_dir>/wheelhouse/trove-<version>-cp<XY>).
  - A complete wheelhouse (one that has C(wheelhouse.json)) is reused and nothing runs. Otherwise the
    wheels are built with the guest's Python (C(pip wheel) in a builder venv) or, when the build host
    has no such interpreter, downloaded as binary wheels for the guest's Python and C library; the
    result must hold exactly one trove wheel and only wheels, gets its C(wheelhouse.json), and is
    renamed from C(<name>.partial) into place, so an interrupted build is never reused.
  - The guest's Python and C library come from the collection's release table (see the
    C(dbaas.guest_images.guest_release) filter).
extends_documentation_fragment:
  - dbaas.guest_images._attributes
attributes:
  check_mode:
    support: full
    details: Reports C(changed) and the path a build would use; builds nothing.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: A complete cached wheelhouse is reused (C(changed=false)); with O(agent_source) it is rebuilt every run.
options:
  os:
    description: Guest OS (for example C(debian)).
    type: str
    required: true
  release:
    description: Guest OS release (for example C("12")).
    type: str
    required: true
  agent_version:
    description:
      - Version of the PyPI package C(trove) to put in the wheelhouse.
      - Empty means the version the collection pins (the C(agent_version) the
        C(dbaas.guest_images.guest_release) filter returns).
    type: str
    default: ""
  agent_source:
    description:
      - A trove source tree on the build host, for development, instead of PyPI. Rebuilt on every run,
        under the name C(trove-dev-cp<XY>).
    type: path
    default: ""
  constraints:
    description: A pip constraints file on the build host (for example OpenStack's upper-constraints.txt).
    type: path
    default: ""
  pip_args:
    description: Extra pip arguments (index, proxy, certificates).
    type: list
    elements: str
    default: []
  python:
    description:
      - Interpreter that builds the wheels; its version must equal the guest's Python.
      - Empty picks C(python3.X) from C(PATH), then C(python3) when it is 3.X; without either, only
        binary wheels are fetched and the module fails when a dependency needs a build.
    type: str
    default: ""
  cache_dir:
    description:
      - Cache folder on the build host; empty means C(${XDG_CACHE_HOME:-~/.cache}/dbaas-guest-images)
        of the user the module runs as (resolved in check mode too).
    type: path
    default: ""
author:
  - dbaas.guest_images developers (@dbaas)
"""

EXAMPLES = r"""
- name: Prepare the Debian 12 guest agent wheelhouse
  dbaas.guest_images.guest_agent_wheelhouse:
    os: debian
    release: "12"
  register: wheelhouse

- name: Build it from a local trove checkout with a mirror
  dbaas.guest_images.guest_agent_wheelhouse:
    os: debian
    release: "12"
    agent_source: /src/trove
    pip_args: [--index-url, "https://pypi.example.org/simple"]
"""

RETURN = r"""
path:
  description: The wheelhouse folder (in check mode, the folder a build would fill).
  returned: always
  type: str
  sample: /root/.cache/dbaas-guest-images/wheelhouse/trove-<version>-cp311
name:
  description: Base name of RV(path).
  returned: always
  type: str
  sample: trove-<version>-cp311
cache_dir:
  description: The cache folder used.
  returned: always
  type: str
python:
  description: The guest's Python X.Y.
  returned: always
  type: str
  sample: "3.11"
python_tag:
  description: CPython wheel tag of the guest's Python.
  returned: always
  type: str
  sample: cp311
agent_version:
  description: Agent version in the wheelhouse (C(dev) for a source tree).
  returned: always
  type: str
built:
  description: Whether this run built the wheelhouse.
  returned: always
  type: bool
manifest:
  description: Contents of C(wheelhouse.json) (empty in check mode when a build is due).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.dbaas.guest_images.plugins.module_utils._compose.wheelhouse import (  # noqa: E402
    WheelhouseError,
    WheelhouseRequest,
    argument_spec,
    ensure,
    run_argv,
)


def main() -> None:
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True)
    try:
        request = WheelhouseRequest.from_params(module.params)
        result = ensure(request, run_argv(module.run_command), module.check_mode)
    except WheelhouseError as exc:
        module.fail_json(msg=str(exc), **exc.detail)
    except OSError as exc:
        module.fail_json(msg=f"Could not prepare the wheelhouse: {exc}")
    module.exit_json(**result)


if __name__ == "__main__":
    main()
