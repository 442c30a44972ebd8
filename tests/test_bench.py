"""The benchmark's apps still answer correctly (nothing is timed here)."""

import asyncio
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

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


def test_benchmark_covers_the_providers_scenario_and_its_companions() -> None:
    bench = load_bench()
    assert "providers" in bench.SCENARIO_BY_KEY
    companions = {c.scenario.key: c for c in bench.COMPANIONS}
    assert companions["providers-inlined"].of == "providers"
    assert companions["providers-inlined"].target == 1.5

    async def scenario_keys() -> list[str]:
        frameworks = [bench.FRAMEWORK_BY_KEY["bocadillo"]]
        scenarios = [bench.SCENARIO_BY_KEY["providers"]]
        async with bench.started(frameworks) as apps:
            targets = bench.targets_for(apps, frameworks, scenarios)
            for target in targets:
                await bench.check(target)
            return [t.scenario.key for t in targets]

    assert asyncio.run(scenario_keys()) == ["providers", "providers-inlined", "providers-awaited"]


def test_bocadillo_providers_scenario_goes_through_its_providers() -> None:
    """Overriding the innermost provider changes the answer, so the value is not inlined."""
    bench = load_bench()
    app = bench.bocadillo_app()

    async def ten() -> int:
        return 10

    async def body() -> bytes:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scenario = bench.SCENARIO_BY_KEY["providers"]
        with app.override_provider("a", ten):
            async with bench.lifespan(app) as state:
                scope = bench.make_scope(scenario, state)()
                await app(scope, bench.make_receive(scenario)(), send)
        return b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")

    assert json.loads(asyncio.run(body())) == {"value": 12}
