# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The heartbeat's limit: bounded by poll intervals, stretched by a slow controller, never absurdly short."""

import os

import pytest

from ansible_collections.dbaas.guest_images.plugins.module_utils._dib import heartbeat as hb


def beat_at(path, when):
    os.utime(path, (when, when))


def test_limit_is_misses_times_interval_after_the_first_beat(tmp_path):
    path = tmp_path / "beat"
    watch = hb.Heartbeat(str(path), interval=10, misses=3)
    watch.start(now=1000.0)
    assert watch.limit() == 30 + hb.FIRST_BEAT_GRACE
    beat_at(path, 1002.0)
    watch.check(now=1002.5)
    assert watch.limit() == 30
    watch.check(now=1031.0)
    with pytest.raises(hb.ControllerGone, match=r"no heartbeat from the controller for 32 s \(3 polls of 10 s"):
        watch.check(now=1034.0)


def test_a_slow_controller_stretches_the_limit(tmp_path):
    path = tmp_path / "beat"
    watch = hb.Heartbeat(str(path), interval=10, misses=3)
    watch.start(now=0.0)
    for when in (1.0, 25.0, 50.0):  # 24 s and 25 s between beats, where 10 s were asked for
        beat_at(path, when)
        watch.check(now=when)
    assert watch.limit() == 75
    watch.check(now=120.0)
    with pytest.raises(hb.ControllerGone):
        watch.check(now=126.0)


def test_never_below_the_minimum_and_off_without_a_path(tmp_path):
    path = tmp_path / "beat"
    watch = hb.Heartbeat(str(path), interval=0.5, misses=3)
    watch.start(now=0.0)
    beat_at(path, 0.5)
    watch.check(now=0.5)
    assert watch.limit() == hb.MIN_SILENCE
    off = hb.Heartbeat(None, interval=10, misses=3)
    off.start(now=0.0)
    off.check(now=1e9)


def test_only_async_job_files_are_ever_discarded(tmp_path):
    folder = tmp_path / "async"
    folder.mkdir()
    assert hb.async_job_file(str(folder / "j123.456"), str(folder)) == str(folder / "j123.456")
    assert hb.async_job_file(str(tmp_path / "j123.456"), str(folder)) is None
    assert hb.async_job_file(str(folder / "passwd"), str(folder)) is None
    assert hb.async_job_file(str(folder / "j123.456"), None) is None
