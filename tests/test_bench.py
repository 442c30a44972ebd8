"""The benchmark's apps still answer correctly (nothing is timed here)."""

import asyncio
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "inprocess.py"


def load_bench() -> ModuleType:
    name = "bench_inprocess"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("framework", ["raw", "bocadillo", "starlette", "fastapi", "litestar"])
def test_benchmark_apps_answer_every_scenario(framework: str) -> None:
    if framework in ("fastapi", "litestar"):
        pytest.importorskip(framework, reason="install the bench extra: pip install -e '.[bench]'")
    bench = load_bench()
    asyncio.run(bench.check_all([framework]))
