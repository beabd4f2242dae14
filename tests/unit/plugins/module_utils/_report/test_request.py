# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The build_report request and its argument spec."""

import yaml

from ansible_collections.dbaas.guest_images.plugins.module_utils._report.request import (
    BuildReportRequest,
    argument_spec,
)
from ansible_collections.dbaas.guest_images.plugins.modules import build_report


def test_paths_of_the_two_files():
    request = BuildReportRequest.from_params({"rows": [{"name": "a"}], "dest": "/srv/report", "lock_timeout": 300})
    assert request.json_path == "/srv/report/build-report.json"
    assert request.markdown_path == "/srv/report/build-report.md"
    assert request.rows == [{"name": "a"}]


def test_argument_spec_matches_documentation():
    doc = yaml.safe_load(build_report.DOCUMENTATION)["options"]
    assert set(doc) == set(argument_spec())
