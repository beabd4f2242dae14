# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build report rows, document and Markdown."""

import json

from ansible_collections.dbaas.guest_images.plugins.module_utils._report import report as build_report

BUILT = {
    "changed": True,
    "built": True,
    "fingerprint": "ab" * 32,
    "images": [{"path": "/out/img.qcow2", "format": "qcow2", "size": 344 * 1024 * 1024, "sha256": "cd" * 32}],
    "duration": 134.2,
    "reason": "no fingerprint file",
    "log_path": "/out/img.log",
    "dib_version": "3.43.0",
}


def test_row_of_a_build():
    row = build_report.report_row(BUILT, "img", "builder1")
    assert row["status"] == "built"
    assert row["build_host"] == "builder1"
    assert row["outputs"] == [
        {"path": "/out/img.qcow2", "format": "qcow2", "size": 344 * 1024 * 1024, "sha256": "cd" * 32}
    ]
    assert row["fingerprint"] == "ab" * 32
    assert "error" not in row


def test_row_of_a_reuse_and_of_a_failure():
    reused = dict(BUILT, built=False, changed=False, reason="fingerprint unchanged")
    assert build_report.report_row(reused, "img", "h")["status"] == "reused"
    failed = build_report.report_row({"failed": True, "msg": "DIB failed: E: no space"}, "img", "h")
    assert failed["status"] == "failed"
    assert failed["error"] == "DIB failed: E: no space"
    assert failed["outputs"] == []


def test_document_summary_and_order():
    rows = [
        build_report.report_row(BUILT, "zeta", "h1"),
        build_report.report_row(dict(BUILT, built=False), "alpha", "h1"),
        build_report.report_row({"failed": True}, "mid", "h2"),
    ]
    document = build_report.report(rows, generated_at="2026-01-01T00:00:00+00:00")
    assert document["summary"] == {"built": 1, "reused": 1, "failed": 1}
    assert [row["name"] for row in document["images"]] == ["alpha", "mid", "zeta"]
    assert document["generated_at"] == "2026-01-01T00:00:00+00:00"


def test_markdown_has_one_row_per_output_and_lists_failures():
    two_outputs = dict(
        BUILT, images=BUILT["images"] + [{"path": "/out/img.raw", "format": "raw", "size": 2048, "sha256": "ef" * 32}]
    )
    rows = [
        build_report.report_row(two_outputs, "img", "h1"),
        build_report.report_row({"failed": True, "msg": "bad | pipe", "log_path": "/out/x.log"}, "x", "h1"),
    ]
    text = build_report.render_markdown(build_report.report(rows, generated_at="T"))
    lines = text.splitlines()
    table = [line for line in lines if line.startswith("| img ")]
    assert len(table) == 2
    assert "| qcow2 | 344.0 MiB |" in table[0]
    assert "| raw | 2.0 KiB |" in table[1]
    assert "2 min 14 s" in table[0]
    assert "1 built, 0 reused, 1 failed" in text
    assert "- **x** on h1: bad \\| pipe (log: /out/x.log)" in text


def test_same_report_ignores_time_stamp_and_no_op_duration_only():
    reused = dict(BUILT, built=False)
    first = build_report.report([build_report.report_row(reused, "img", "h")], generated_at="T1")
    again = build_report.report([build_report.report_row(dict(reused, duration=0.4), "img", "h")], generated_at="T2")
    assert build_report.same_report(first, again)
    built = build_report.report([build_report.report_row(BUILT, "img", "h")], generated_at="T3")
    assert not build_report.same_report(first, built)
    rebuilt = build_report.report([build_report.report_row(dict(BUILT, duration=99.0), "img", "h")], generated_at="T4")
    assert not build_report.same_report(built, rebuilt)


def test_check_mode_would_build_is_counted_as_such():
    would = {"changed": True, "built": False, "images": [], "fingerprint": None,
             "reason": "would build: input DBAAS_GUEST_AGENT_WHEELHOUSE (/c/wh) does not exist yet"}
    unchanged = dict(BUILT, built=False, changed=False, reason="unchanged: fingerprint ab matches")
    rows = [build_report.report_row(would, "new", "h", check_mode=True),
            build_report.report_row(unchanged, "old", "h", check_mode=True)]
    assert [row["status"] for row in rows] == ["would_build", "reused"]
    # Outside check mode the same result is not a would-build.
    assert build_report.report_row(would, "new", "h")["status"] == "reused"
    document = build_report.report(rows, generated_at="T")
    assert document["summary"] == {"built": 0, "reused": 1, "failed": 0, "would_build": 1}
    text = build_report.render_markdown(document)
    assert "0 built, 1 reused, 0 failed, 1 would build (check mode)." in text


def test_reason_of_a_failure_is_dibs_error_line():
    failed = build_report.report_row(
        {"failed": True, "msg": "DIB build of 'img' failed in install.d/50-x (exit 1):\nE: Unable to locate package x",
         "error_lines": ["E: Unable to locate package x", "other"], "failed_hook": "/e/el/install.d/50-x"},
        "img", "h",
    )
    assert failed["reason"] == "DIB failed in install.d/50-x: E: Unable to locate package x"
    plain = build_report.report_row({"failed": True, "msg": "lock busy\nmore"}, "img", "h")
    assert plain["reason"] == "lock busy"


def test_previous_abandoned_build_is_shown_with_the_reason():
    result = dict(BUILT, reason="fingerprint changed: environment.DIB_RELEASE",
                  previous_build={"summary": "previous build was abandoned: controller gone at install.d"})
    row = build_report.report_row(result, "img", "h")
    assert row["previous"] == "previous build was abandoned: controller gone at install.d"
    text = build_report.render_markdown(build_report.report([row], generated_at="T"))
    assert ("| img | h | built | previous build was abandoned: controller gone at install.d;"
            " fingerprint changed: environment.DIB_RELEASE |") in text


def test_stage_failure_rows_name_every_entry_once():
    recorded = [build_report.report_row(BUILT, "done", "h")]
    rows = build_report.stage_failure_rows(
        [{"name": "done"}, {"name": "a"}, "b"], {"failed": True, "msg": "wheelhouse: not installable\ndetail"},
        "h", "compose", recorded,
    )
    assert [(r["name"], r["status"]) for r in rows] == [("done", "built"), ("a", "failed"), ("b", "failed")]
    assert rows[1]["reason"] == "compose failed: wheelhouse: not installable"
    assert rows[1]["error"] == "wheelhouse: not installable\ndetail"
    # A Trove entry without `name` gets the row of the name the plan and the build give it.
    (trove,) = build_report.stage_failure_rows(
        [{"os": "debian", "release": "12", "datastore": "mysql", "datastore_version": "8.0", "mode": "container"}],
        {"failed": True, "msg": "x"}, "h", "compose",
    )
    assert trove["name"] == "trove-debian-12-mysql-8.0-container"


def test_merge_keeps_other_images_and_replaces_the_same_image():
    old = [{"name": "a", "status": "built"}, {"name": "b", "status": "built"}]
    new = [{"name": "a", "status": "failed"}]
    merged = build_report.merge_rows(old, new)
    assert sorted((r["name"], r["status"]) for r in merged) == [("a", "failed"), ("b", "built")]


def test_plan_rows_count_and_show_with_their_reason_and_the_plan_section():
    rows = [
        build_report.report_row(BUILT, "a", "builder1"),
        {"name": "b", "build_host": "builder3", "status": "unreachable", "outputs": [],
         "error": "builder3 could not build: ssh refused; no healthy build host fits"},
        {"name": "c", "build_host": "builder2", "status": "not_built", "outputs": [], "error": "left no result"},
    ]
    plan = [{"name": "a", "host": "builder1", "reason": "affinity: builder1 holds its last build"}]
    document = build_report.report(rows, generated_at="t", extra={"plan": plan})
    assert document["summary"] == {"built": 1, "reused": 0, "failed": 0, "unreachable": 1, "not_built": 1}
    markdown = build_report.render_markdown(document)
    assert "1 built, 0 reused, 0 failed, 1 unreachable, 1 not built." in markdown
    assert "- **b** on builder3: builder3 could not build: ssh refused; no healthy build host fits" in markdown
    assert "| a | builder1 | affinity: builder1 holds its last build |" in markdown
    assert not build_report.same_report(document, build_report.report(rows, generated_at="t"))


def test_markdown_shows_the_verification_of_each_row():
    passed = dict(build_report.report_row(BUILT, "good", "h"),
                  verify={"result": "passed", "accelerator": "tcg", "times": {"first_answer": 76.4}})
    failed = dict(build_report.report_row(BUILT, "bad", "h"), verify={"result": "failed", "step": "agent-rpc"})
    plain = build_report.report_row(BUILT, "plain", "h")
    text = build_report.render_markdown(build_report.report([passed, failed, plain], generated_at="T"))
    assert "| duration | verify |" in text
    lines = {line.split(" | ")[0]: line for line in text.splitlines() if line.startswith("| ")}
    assert lines["| good"].endswith("| passed (tcg, first answer 76 s) |")
    assert lines["| bad"].endswith("| failed at agent-rpc |")
    assert lines["| plain"].endswith("| - |")


SBOM = {"path": "/out/img.cdx.json", "sha256": "5" * 64, "summary": {"deb": 3, "python": 1}}


def test_row_carries_the_sbom_and_markdown_says_what_changed():
    changes = {"added": [{"kind": "deb", "name": "tree", "arch": "amd64", "version": "2.1.0-1"}], "removed": [],
               "upgraded": [{"kind": "deb", "name": "openssl", "arch": "amd64", "from": "3.0.15-1~deb12u1",
                             "to": "3.0.16-1~deb12u1"}], "downgraded": []}
    built = build_report.report_row({"built": True, "sbom": dict(SBOM, changes=changes, seconds=0.4)}, "img", "h1")
    assert built["sbom"] == dict(SBOM, changes=changes)
    reused = build_report.report_row({"built": False, "sbom": dict(SBOM, changes="unchanged")}, "old", "h1")
    first = build_report.report_row({"built": True, "sbom": dict(SBOM, changes=None)}, "new", "h1")
    same = build_report.report_row({"built": True, "sbom": dict(SBOM, changes={k: [] for k in changes})}, "same", "h1")
    none = build_report.report_row({"built": True}, "nosbom", "h1")
    assert "sbom" not in none
    markdown = build_report.render_markdown(build_report.report([built, reused, first, same, none], generated_at="t"))
    section = markdown.split("## Contents (what changed since the previous build)\n", 1)[1]
    assert section.splitlines()[1:] == [
        "- **img** on h1: SBOM /out/img.cdx.json (3 deb, 1 python)",
        "  - + tree 2.1.0-1",
        "  - openssl 3.0.15-1~deb12u1 → 3.0.16-1~deb12u1 (upgraded)",
        "- **new** on h1: SBOM /out/img.cdx.json (3 deb, 1 python)",
        "  - first SBOM of this image: nothing to compare with",
        "- **old** on h1: SBOM /out/img.cdx.json (3 deb, 1 python)",
        "  - unchanged (image reused)",
        "- **same** on h1: SBOM /out/img.cdx.json (3 deb, 1 python)",
        "  - no package changed since the previous build",
    ]


STAGES = {"validate": 0.05, "fingerprint": 0.4, "lock_wait": 0.0, "dib": 120.5, "outputs": 6.25, "sbom": 1.0}
PHASES = {"setup": 3.7, "root.d": 40.2, "install.d": 61.0, "conversion": 12.1}


def test_row_carries_the_steps_of_dib_image_and_its_phases():
    row = build_report.report_row(dict(BUILT, stages=STAGES, phases=PHASES), "img", "h")
    assert row["stages"] == STAGES
    assert list(row["stages"]) == list(STAGES)
    assert row["phases"] == PHASES
    reused = build_report.report_row(dict(BUILT, built=False, stages={"validate": 0.1, "fingerprint": 0.3}), "img", "h")
    assert reused["stages"] == {"validate": 0.1, "fingerprint": 0.3}
    assert "phases" not in reused
    # What is not a number of seconds is left out rather than shown as a time.
    odd = build_report.report_row(dict(BUILT, stages={"dib": "soon", "outputs": None, "sbom": True, "x": 2,
                                                      "y": float("nan"), "z": -1.0, "w": float("inf")}), "i", "h")
    assert odd["stages"] == {"x": 2.0}
    failed = build_report.report_row({"failed": True, "msg": "E", "stages": {"validate": 0.1, "dib": 30.0},
                                      "phases": {"setup": 2.0, "install.d": 27.0}}, "img", "h")
    assert failed["stages"] == {"validate": 0.1, "dib": 30.0}
    assert failed["phases"] == {"setup": 2.0, "install.d": 27.0}
    assert build_report.report_row({}, "img", "h")["stages"] == {}


def published(path, duration, image_id):
    return {"name": path.rsplit("/", 1)[-1], "path": path, "image_id": image_id, "duration": duration}


def test_stage_times_add_prepare_verify_publish_and_register_in_order():
    two = dict(BUILT, stages=STAGES, images=BUILT["images"] + [{"path": "/out/img.raw", "format": "raw"}])
    built = build_report.report_row(two, "img", "h")
    built["verify"] = {"result": "passed", "duration": 130.0, "times": {"first_answer": 100.0}}
    other = build_report.report_row(dict(BUILT, built=False, stages={"validate": 0.1, "fingerprint": 0.2},
                                         images=[{"path": "/out/other.qcow2", "format": "qcow2"}]), "other", "h")
    other["verify"] = {"result": "reused", "duration": None}
    rows = build_report.add_stage_times(
        [built, other], 2.5,
        [published("/out/img.qcow2", 10.0, "i1"), published("/out/img.raw", 5.5, "i2"),
         published("/out/other.qcow2", 0.75, "i3")],
        [{"image_id": "i1", "duration": 1.25}, {"image_id": "unknown", "duration": 9.0}],
    )
    assert list(rows[0]["stages"]) == ["prepare", *STAGES, "verify", "publish", "register"]
    assert rows[0]["stages"]["prepare"] == 2.5
    assert rows[0]["stages"]["verify"] == 130.0
    # One upload per format, added up; register through the uploads' image ids.
    assert rows[0]["stages"]["publish"] == 15.5
    assert rows[0]["stages"]["register"] == 1.25
    # A reused image shows what this run spent on it: its checks, its host's prepare, its publish check.
    assert rows[1]["stages"] == {"prepare": 2.5, "validate": 0.1, "fingerprint": 0.2, "publish": 0.75}
    assert built["stages"] == STAGES, "the input rows are not changed"


def test_stage_times_leave_out_the_stages_an_image_did_not_go_through():
    row = build_report.report_row(dict(BUILT, stages=STAGES), "img", "h")
    (out,) = build_report.add_stage_times([row])
    assert out["stages"] == STAGES
    (out,) = build_report.add_stage_times([dict(row, verify={"result": "skipped", "duration": None})], None,
                                          [published("/out/elsewhere.qcow2", 3.0, "i9")], [])
    assert out["stages"] == STAGES
    # A failed row of a stage before the build has no outputs and gets only the host's prepare.
    (failed,) = build_report.stage_failure_rows(["img"], {"msg": "compose: bad"}, "h", "compose")
    assert build_report.add_stage_times([failed], "3.25")[0]["stages"] == {"prepare": 3.25}
    assert build_report.add_stage_times([], 1.0) == []


def test_markdown_has_a_time_per_stage_table_with_the_dib_phases():
    built = build_report.report_row(dict(BUILT, stages=STAGES, phases=PHASES), "img", "h1")
    reused = build_report.report_row(dict(BUILT, built=False, stages={"validate": 0.1, "fingerprint": 0.3}), "old",
                                     "h2")
    rows = build_report.add_stage_times([built], 2.0, [published("/out/img.qcow2", 75.0, "i1")]) + [reused]
    rows.append(build_report.report_row({"failed": True, "msg": "x"}, "broken", "h1"))
    text = build_report.render_markdown(build_report.report(rows, generated_at="T"))
    lines = text.splitlines()
    start = lines.index("## Time per stage")
    header = next(line for line in lines[start:] if line.startswith("| image |"))
    assert header == ("| image | build host | prepare | validate | fingerprint | lock_wait | dib | outputs | sbom "
                      "| publish | DIB phases |")
    table = [line for line in lines[start:] if line.startswith("| img ") or line.startswith("| old ")]
    assert table[0] == ("| img | h1 | 2.0 s | 0.1 s | 0.4 s | 0.0 s | 2 min 0 s | 6.2 s | 1.0 s | 1 min 15 s "
                        "| setup 3.7 s, root.d 40.2 s, install.d 1 min 1 s, conversion 12.1 s |")
    # A stage an image did not go through is "-".
    assert table[1] == "| old | h2 | - | 0.1 s | 0.3 s | - | - | - | - | - | - |"
    # A row without any stage (a failure before dib_image answered) has no line there.
    assert not [line for line in lines[start:] if line.startswith("| broken ")]
    # The main table keeps each image's total.
    assert any(line.startswith("| img | h1 | built |") and "2 min 14 s" in line for line in lines)


def test_markdown_keeps_the_order_of_stages_and_phases_after_a_json_round_trip():
    row = build_report.add_stage_times([build_report.report_row(dict(BUILT, stages=STAGES, phases=PHASES), "img",
                                                                "h")], 1.0)
    stored = json.loads(json.dumps(build_report.report(row, generated_at="T"), sort_keys=True))
    text = build_report.render_markdown(stored)
    assert "| prepare | validate | fingerprint | lock_wait | dib | outputs | sbom | DIB phases |" in text
    assert "setup 3.7 s, root.d 40.2 s, install.d 1 min 1 s, conversion 12.1 s" in text


def test_markdown_has_no_time_per_stage_section_without_stages():
    text = build_report.render_markdown(build_report.report([build_report.report_row(BUILT, "img", "h")], "T"))
    assert "Time per stage" not in text


def test_same_report_ignores_the_times_of_a_reused_image_but_not_of_a_build():
    reused = dict(BUILT, built=False)
    first = build_report.report(build_report.add_stage_times(
        [build_report.report_row(dict(reused, stages={"fingerprint": 0.3}), "img", "h")], 2.0), generated_at="T1")
    again = build_report.report(build_report.add_stage_times(
        [build_report.report_row(dict(reused, stages={"fingerprint": 0.5}), "img", "h")], 3.1), generated_at="T2")
    assert build_report.same_report(first, again)
    built = build_report.report([build_report.report_row(dict(BUILT, stages=STAGES), "img", "h")], generated_at="T3")
    rebuilt = build_report.report([build_report.report_row(dict(BUILT, stages=dict(STAGES, dib=99.0)), "img", "h")],
                                  generated_at="T4")
    assert not build_report.same_report(built, rebuilt)


def test_merge_keeps_the_stage_times_of_images_this_run_did_not_report():
    earlier = build_report.add_stage_times([build_report.report_row(dict(BUILT, stages=STAGES), "a", "h")], 2.0)
    now = [build_report.report_row(dict(BUILT, stages={"dib": 1.0}), "b", "h")]
    merged = {row["name"]: row for row in build_report.merge_rows(earlier, now)}
    assert merged["a"]["stages"] == dict({"prepare": 2.0}, **STAGES)
    assert merged["b"]["stages"] == {"dib": 1.0}
