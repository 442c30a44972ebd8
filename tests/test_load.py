"""The todos example under load (issue #11): ``bench/load_todos.py`` for two waves of 5 s.

wrk makes concurrent writes (and reads) against ``bocadillo run``; then every
acknowledged write must be in the store, nothing stored twice, no error
answer, and the server's memory back at the same level after the second wave.
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "bench" / "load_todos.py"
MiB = 1024 * 1024
WRITES = 50  # a wrk thread's writes in a wave: each a transaction committed to disk (fsync)


def load_script() -> ModuleType:
    name = "bench_load_todos"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_no_acknowledged_write_is_lost_under_load_and_memory_is_steady() -> None:
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (apt-get install wrk; .ci/run installs it)")
    load = load_script()
    report = load.run(seconds=5, waves=2, threads=2, connections=32, writes=WRITES)
    load.print_report(report)
    assert report.problems == []
    for wave in report.waves:
        # The writes were acknowledged within the 5 s (and those in flight when
        # the last one was), then read back.
        assert 2 * WRITES <= wave.acknowledged <= 2 * WRITES + 32, wave.acknowledged
        assert wave.found == wave.acknowledged
        assert wave.read_back > wave.acknowledged
        assert set(wave.statuses) == {"200", "201", "list 200"}, wave.statuses
    first, second = report.waves
    # Each wave stores as much, and the store is emptied after each: what the
    # second wave leaves is what the first left, give or take (a leak grows
    # with the requests served).
    growth = first.rss_after - report.rss_start
    assert second.rss_after - first.rss_after < max(4 * MiB, growth / 4), (
        report.rss_start // 1024,
        first.rss_after // 1024,
        second.rss_after // 1024,
    )
