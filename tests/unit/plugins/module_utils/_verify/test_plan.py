# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import plan

TROVE = {"name": "trove-a", "trove": {"datastore": "mysql", "datastore_version": "8.0"}}
PLAIN = {"name": "plain", "elements": ["vm"]}


def row(name, status="built"):
    return {"name": name, "status": status, "fingerprint": f"fp-{name}",
            "outputs": [{"path": f"/out/{name}.qcow2", "format": "qcow2", "sha256": f"sha-{name}"}]}


def test_trove_images_that_built_are_verified_with_their_datastore():
    entries = plan.plan([row("trove-a"), row("plain")], [TROVE, PLAIN], "required")
    assert entries[0]["verify"] is True
    assert entries[0]["options"] == {"image": "/out/trove-a.qcow2", "fingerprint": "fp-trove-a",
                                     "sha256": "sha-trove-a", "datastore_manager": "mysql",
                                     "datastore_version": "8.0", "mode": "required"}
    assert entries[1]["verify"] is False
    assert "not a Trove guest image" in entries[1]["reason"]


def test_failed_builds_and_skip_are_not_verified():
    entries = plan.plan([row("trove-a", "failed")], [TROVE], "required")
    assert entries[0]["verify"] is False and entries[0]["reason"] == "not built"
    entries = plan.plan([row("trove-a")], [TROVE], "required", {"trove-a": "skip"})
    assert entries[0]["verify"] is False and entries[0]["mode"] == "skip"


def test_bad_modes_and_unknown_image_names_are_refused_naming_the_variable():
    with pytest.raises(plan.VerifyPlanError, match="the verify mode is 'maybe'"):
        plan.plan([row("trove-a")], [TROVE], "maybe")
    with pytest.raises(plan.VerifyPlanError, match=r"build_guest_verify_images\['trove-a'\] is 'no'"):
        plan.plan([row("trove-a")], [TROVE], "required", {"trove-a": "no"}, "build_guest_verify_images")
    with pytest.raises(plan.VerifyPlanError, match=r"verify_images\['other'\] is 'off'"):
        plan.plan([row("trove-a")], [TROVE], "required", {"other": "off"})
    # An image of another selection may be named.
    assert plan.plan([row("trove-a")], [TROVE], "required", {"other": "skip"})[0]["verify"] is True


def test_a_failed_required_verification_fails_the_row_and_warn_does_not():
    rows = [row("trove-a")]
    failed = {"item": {"name": "trove-a"}, "result": "failed", "step": "agent-rpc", "msg": "never answered",
              "record": {"accelerator": "tcg", "times": {"kernel": 11.0}}}
    out = plan.rows(rows, plan.plan(rows, [TROVE], "required"), [failed])
    assert out[0]["status"] == "failed"
    assert out[0]["error"] == "verify failed at step agent-rpc: never answered"
    assert out[0]["verify"]["times"] == {"kernel": 11.0}
    out = plan.rows(rows, plan.plan(rows, [TROVE], "warn"), [failed])
    assert out[0]["status"] == "built"
    assert out[0]["verify"]["result"] == "failed"
    assert rows[0]["status"] == "built"  # the input is not changed


def test_rows_not_verified_say_why():
    rows = [row("plain")]
    out = plan.rows(rows, plan.plan(rows, [PLAIN], "required"), [])
    assert out[0]["verify"]["result"] == "skipped"
    assert "not a Trove guest image" in out[0]["verify"]["message"]


def test_duration_is_this_runs_verification_only():
    rows = [row("trove-a")]
    entries = plan.plan(rows, [TROVE], "warn")
    passed = {"item": {"name": "trove-a"}, "result": "passed", "record": {"duration": 131.4, "times": {}}}
    failed = {"item": {"name": "trove-a"}, "result": "failed", "step": "boot", "msg": "x",
              "record": {"duration": 20.5}}
    # A reused record holds the seconds of the run that booted the image, not of this one.
    reused = {"item": {"name": "trove-a"}, "result": "reused", "record": {"duration": 131.4}}
    assert plan.rows(rows, entries, [passed])[0]["verify"]["duration"] == 131.4
    assert plan.rows(rows, entries, [failed])[0]["verify"]["duration"] == 20.5
    assert plan.rows(rows, entries, [reused])[0]["verify"]["duration"] is None
    assert plan.rows(rows, entries, [])[0]["verify"]["duration"] is None
