# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The decisions of verify() that come before any boot: skip, reuse, check mode, bad input, missing tools."""

import os
import signal

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._common import signals
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import qemu, record, run
from ansible_collections.dbaas.guest_images.plugins.module_utils._verify import request as req


def make(tmp_path, **over):
    image = tmp_path / "img.qcow2"
    image.write_bytes(b"QFI\xfb" + b"\0" * 100)
    values = {name: spec.get("default") for name, spec in req.argument_spec().items()}
    values.update(image=str(image), datastore_manager="mysql", datastore_version="8.0", fingerprint="fp")
    values.update(over)
    return req.VerifyRequest.from_params(values, str(tmp_path / "cache"))


def test_skip_does_nothing(tmp_path):
    result = run.verify(make(tmp_path, mode="skip"))
    assert result["result"] == "skipped" and result["changed"] is False
    assert not (tmp_path / "img.verify.json").exists()


def test_a_matching_record_is_reused_without_a_boot(tmp_path, monkeypatch):
    request = make(tmp_path)
    record.write(request.record_path, {"result": "passed", "fingerprint": "fp", "sha256": "",
                                       "trove_version": request.trove_version, "verified_at": "T"})
    monkeypatch.setattr(run, "_verify", lambda *a: pytest.fail("booted although the record matches"))
    result = run.verify(request)
    assert result["result"] == "reused" and result["changed"] is False


def test_check_mode_predicts_a_verification(tmp_path, monkeypatch):
    monkeypatch.setattr(run, "_verify", lambda *a: pytest.fail("booted in check mode"))
    result = run.verify(make(tmp_path, fingerprint="other"), check_mode=True)
    assert result["result"] == "would_verify" and result["changed"] is True
    assert "no verification record" in result["msg"]


def test_a_missing_image_is_refused_before_anything_runs(tmp_path):
    request = make(tmp_path)
    (tmp_path / "img.qcow2").unlink()
    with pytest.raises(run.VerifyFailed) as error:
        run.verify(request)
    assert error.value.step == "image"
    assert "does not exist" in str(error.value)


def test_missing_tools_fail_the_tools_step_and_are_recorded(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "missing_tools", lambda: ["socat"])
    result = run.verify(make(tmp_path))
    assert result["result"] == "failed" and result["failed"] is True and result["step"] == "tools"
    assert "lacks socat" in result["msg"]
    saved = record.read(str(tmp_path / "img.verify.json"))
    assert saved["result"] == "failed" and saved["step"] == "tools" and saved["fingerprint"] == "fp"
    warned = run.verify(make(tmp_path, mode="warn"))
    assert warned["failed"] is False and "mode warn" in warned["warning"]


def test_the_masker_hides_every_secret():
    masker = run.Masker()
    masker.add("s3cret")
    assert masker("rabbit://u:s3cret@h") == "rabbit://u:********@h"


def test_a_signal_mid_verify_still_stops_the_broker_and_removes_the_work_folder(tmp_path, monkeypatch):
    stopped = []

    class Node:
        port = 5672

        def account(self):
            return type("Account", (), {"user": "u", "password": "p", "vhost": "v"})()

        def stop(self):
            stopped.append("broker")

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setattr(qemu, "missing_tools", lambda: [])
    monkeypatch.setattr(run.trove_client, "ensure_venv", lambda *a: {"python": "python3"})
    monkeypatch.setattr(run.broker, "start_private", Node)
    # The signal arrives while the broker runs (as a SIGTERM to the module would).
    monkeypatch.setattr(run, "_check_broker", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    previous = signal.getsignal(signal.SIGTERM)
    with pytest.raises(signals.Interrupted, match="SIGTERM"):
        run.verify(make(tmp_path, work_dir=str(work)))
    assert stopped == ["broker"]
    assert list(work.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is previous


def test_a_missing_work_dir_is_made_and_an_unusable_one_refused_first(tmp_path, monkeypatch):
    monkeypatch.setattr(qemu, "missing_tools", lambda: ["socat"])  # stops right after the work_dir check
    made = tmp_path / "not" / "yet"
    result = run.verify(make(tmp_path, work_dir=str(made)))
    assert made.is_dir() and result["step"] == "tools"
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(qemu, "missing_tools", lambda: pytest.fail("went on past an unusable work_dir"))
    result = run.verify(make(tmp_path, work_dir=str(blocker / "sub")))
    assert result["failed"] is True and result["step"] == "input"
    assert f"work_dir '{blocker / 'sub'}' cannot hold" in result["msg"] and "leave work_dir empty" in result["msg"]
