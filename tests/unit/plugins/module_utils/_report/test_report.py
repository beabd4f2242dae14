# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Build report rows, document and Markdown."""

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
