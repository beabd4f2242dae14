# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dib_images action plugin: builds side by side in slots of their own, failures kept to their build.

Runs real ansible-playbook against localhost with the stand-in
``disk-image-create`` of tests/unit/plugins/modules/test_dib_image.py, which
writes when each run started and ended, and with which image cache.
"""

import importlib.util
import json
import os

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fake = _load("fake_dib_images_tests", os.path.join(_HERE, "..", "modules", "test_dib_image.py"))
single = _load("dib_image_action_tests_for_images", os.path.join(_HERE, "test_dib_image_action.py"))


def build(dib, dest, name, **over):
    params = fake.params(dib, dest, name=name, **over)
    return {k: v for k, v in params.items()
            if v not in (None, [], {}) and not k.startswith("heartbeat") or k == "environment"}


def task(builds, at_once, fail_fast=False, register="out", saved=None):
    args = {"builds": builds, "builds_at_once": at_once, "fail_fast": fail_fast}
    text = f"- name: Build\n  dbaas.guest_images.dib_images: {json.dumps(args)}\n  register: {register}\n"
    if saved:
        text += (f"- name: Save\n  ansible.builtin.copy:\n    content: \"{{{{ {register} | to_json }}}}\"\n"
                 f"    dest: {saved}\n  check_mode: false\n")
    return text


def spans(dib):
    """Per image: (start, end, cache) of each stand-in DIB run."""
    found = {}
    for line in (dib["state"] / "spans").read_text().splitlines():
        words = line.split()
        if words[0] == "start":
            found.setdefault(words[1], []).append([float(words[2]), None, words[3] if len(words) > 3 else ""])
        else:
            found[words[1]][-1][1] = float(words[2])
    return found


def overlap(a, b):
    return a[0] < b[1] and b[0] < a[1]


def test_two_at_once_each_slot_with_its_own_cache_and_a_failure_kept_to_its_build(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    slow = {"DIB_RELEASE": "bookworm", "FAKE_DIB_STEP": "0.4"}
    builds = [build(dib, dest, "one", environment=slow), build(dib, dest, "two", environment=slow),
              build(dib, dest, "bad", mode="fail"), build(dib, dest, "three", environment=slow)]
    saved = tmp_path / "result.json"
    path = single.playbook(tmp_path, task(builds, 2, saved=saved))
    proc = single.run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5")
    assert proc.returncode == 0, proc.stdout
    result = json.loads(saved.read_text())
    by_name = {item["name"]: item for item in result["results"]}
    assert [item["name"] for item in result["results"]] == ["one", "two", "bad", "three"]
    assert result["changed"] is True
    assert all(by_name[name]["built"] for name in ("one", "two", "three")), result
    assert by_name["bad"]["failed"] and "FAKE_SETTING must be set" in by_name["bad"]["msg"]
    ran = spans(dib)
    assert sorted(ran) == ["bad", "one", "three", "two"]
    # Two ran side by side, never three; "one" and "two" started together in slots 1 and 2.
    assert overlap(ran["one"][0], ran["two"][0]), ran
    intervals = [span for runs in ran.values() for span in runs]
    assert max(sum(1 for other in intervals if overlap(span, other)) for span in intervals) == 2, ran
    assert {by_name["one"]["slot"], by_name["two"]["slot"]} == {1, 2}
    cache = builds[0]["cache_dir"]
    for name in ("one", "two", "bad", "three"):
        slot = by_name[name]["slot"]
        expected = cache if slot == 1 else f"{cache}-slot{slot}"
        assert by_name[name]["cache_dir"] == expected
        assert ran[name][0][2] == expected, (name, ran)
    # Each build printed its own progress, and the results carry no async bookkeeping.
    for name in ("one", "two", "three"):
        assert f"[dib_image {name}] started on localhost" in proc.stdout
        assert "ansible_job_id" not in by_name[name] and "results_file" not in by_name[name]
    assert not os.listdir(tmp_path / "home" / ".ansible_async")

    # Again: nothing runs, every build answered by its fingerprint; no slots.
    again = single.run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5", "-vvv")
    assert again.returncode == 0, again.stdout
    # All four asked in ONE module run on the host; only "bad" then ran (as a dib_image job).
    puts = [line for line in again.stdout.splitlines() if " PUT " in line and "AnsiballZ_" in line]
    assert sum("AnsiballZ_dib_images.py" in line for line in puts) == 1, puts
    assert sum("AnsiballZ_dib_image.py" in line for line in puts) == 1, puts
    result = json.loads(saved.read_text())
    by_name = {item["name"]: item for item in result["results"]}
    assert not any(by_name[name]["built"] for name in ("one", "two", "three"))
    assert all("slot" not in by_name[name] for name in ("one", "two", "three"))
    assert by_name["bad"]["failed"] and by_name["bad"]["slot"] == 1
    assert fake.runs(dib) == 4 + 1  # only "bad" ran again (and failed again)


def test_fail_fast_starts_nothing_after_a_failure(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    builds = [build(dib, dest, "bad", mode="fail"), build(dib, dest, "later")]
    saved = tmp_path / "result.json"
    path = single.playbook(tmp_path, task(builds, 1, fail_fast=True, saved=saved))
    proc = single.run_playbook(tmp_path, path, "-e", "dib_image_poll_interval=0.5")
    assert proc.returncode == 0, proc.stdout
    results = json.loads(saved.read_text())["results"]
    assert results[0]["failed"]
    assert results[1]["failed"] and "not started: the build of bad failed first (fail_fast)" in results[1]["msg"]
    assert sorted(spans(dib)) == ["bad"]


def test_bad_input_is_refused_before_any_build_starts(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    good = build(dib, dest, "good")
    builds = [good, dict(build(dib, dest, "typo"), elemnts=["x"]), {"name": "nodest", "elements": ["fake-os"]},
              dict(good), "text"]
    path = single.playbook(tmp_path, task(builds, 0))
    proc = single.run_playbook(tmp_path, path)
    assert proc.returncode != 0
    text = " ".join(proc.stdout.split())
    assert "builds_at_once: 0 is less than 1" in text
    assert "builds[1] (typo): unknown option(s) elemnts; the dib_image options are arch, cache_dir," in text
    assert "builds[2] (nodest): missing required arguments: dest" in text
    assert "builds[3] (good): the same image (good in" in text
    assert "builds[4]: 'text' is not a dictionary of dib_image options" in text
    assert fake.runs(dib) == 0


def test_check_mode_asks_every_build_and_runs_none(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    saved = tmp_path / "result.json"
    path = single.playbook(tmp_path, task([build(dib, dest, "a"), build(dib, dest, "b")], 2, saved=saved))
    proc = single.run_playbook(tmp_path, path, "--check")
    assert proc.returncode == 0, proc.stdout
    results = json.loads(saved.read_text())["results"]
    assert [item["changed"] for item in results] == [True, True]
    assert fake.runs(dib) == 0


def test_check_diff_shows_each_changed_build_and_its_warnings_as_text(tmp_path):
    dib = fake.make_fake_dib(tmp_path)
    dest = tmp_path / "out"
    first = single.run_playbook(tmp_path, single.playbook(tmp_path, task([build(dib, dest, "a")], 1)))
    assert first.returncode == 0, first.stdout
    missing = tmp_path / "made-later"
    builds = [build(dib, dest, "a", environment={"DIB_RELEASE": "trixie"}),
              build(dib, dest, "b", inputs={"WHEELS": str(missing)})]
    proc = single.run_playbook(tmp_path, single.playbook(tmp_path, task(builds, 2)), "--check", "--diff")
    assert proc.returncode == 0, proc.stdout
    # The task's own diff, one per changed image, headed by the image.
    assert "--- before: a (last build)" in proc.stdout and "+++ after: a (this run)" in proc.stdout, proc.stdout
    assert "--- before: b (no earlier build)" in proc.stdout, proc.stdout
    assert '"DIB_RELEASE": "bookworm"' in proc.stdout and '"DIB_RELEASE": "trixie"' in proc.stdout, proc.stdout
    # A build's warning reaches the user as its message, prefixed with its image.
    assert f"b: inputs: 'WHEELS' points at '{missing}', which does not exist yet" in proc.stdout.replace("\n", " "), \
        proc.stdout
    assert "WarningSummary" not in proc.stdout
    assert fake.runs(dib) == 1
