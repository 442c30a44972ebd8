"""The benchmark's apps still answer correctly (nothing is timed here)."""

import asyncio
import dataclasses
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "inprocess.py"
SOCKET_BENCH = BENCH.parent / "over_socket.py"
FRAMEWORKS = ["raw", "bocadillo", "starlette", "fastapi", "litestar"]


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


def load_socket_bench() -> ModuleType:
    # Not imported as "socket": the file is named like the standard library's module.
    name = "bench_socket"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SOCKET_BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("framework", FRAMEWORKS)
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


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_websocket_echo_and_sse_stream_answer(framework: str) -> None:
    """The echo answers each message before the next; the stream sends 1,000 Tick events."""
    if framework in ("fastapi", "litestar"):
        pytest.importorskip(framework, reason="install the bench extra: pip install -e '.[bench]'")
    bench = load_bench()
    assert bench.SCENARIO_BY_KEY["ws"].units == len(bench.SCENARIO_BY_KEY["ws"].messages) == 100
    assert len(bench.SCENARIO_BY_KEY["sse"].expected) == 1000
    asyncio.run(bench.check_all([framework], ["ws", "sse"]))


def test_event_stream_parser_and_check_refuse_wrong_events() -> None:
    bench = load_bench()
    body = b'event: Tick\r\ndata: {"n":0}\r\n\r\n: ping\n\nevent: Tick\ndata: {"n":1}\n\n'
    assert bench.parse_events(body) == [("Tick", '{"n":0}'), ("Tick", '{"n":1}')]
    scenario = bench.SCENARIO_BY_KEY["sse"]
    with pytest.raises(AssertionError, match="events"):
        bench.verify_response("x", scenario, 200, "text/event-stream", body)
    with pytest.raises(AssertionError, match="event names"):
        bench.verify_response("x", scenario, 200, "text/event-stream", b"data: {}\n\n")


def test_socket_bench_builds_the_requests() -> None:
    sock = load_socket_bench()
    bench = load_bench()
    assert [s.key for s in sock.http_scenarios()] == [
        "plaintext",
        "json",
        "params",
        "post",
        "list",
        "providers",
    ]
    params = bench.SCENARIO_BY_KEY["params"]
    assert sock.target_path(params) == "/items/42?limit=10&q=abc"
    assert sock.lua_script(params) is None  # a plain GET needs no script

    post = bench.SCENARIO_BY_KEY["post"]
    script = sock.lua_script(post)
    assert script is not None
    assignments = dict(re.findall(r'^(\S+) = "(.*)"$', script, re.MULTILINE))
    assert len(assignments) == len(script.splitlines()) == 3

    def unlua(literal: str) -> bytes:
        assert '"' not in literal and "\n" not in literal
        return re.sub(rb"\\(\d{3})", lambda m: bytes([int(m.group(1))]), literal.encode())

    assert unlua(assignments["wrk.method"]) == b"POST"
    assert unlua(assignments["wrk.body"]) == post.body
    assert json.loads(unlua(assignments["wrk.body"])) == bench.NEW_ITEM
    assert unlua(assignments['wrk.headers["content-type"]']) == b"application/json"

    command = sock.wrk_command("http://127.0.0.1:1/items", 2, "/tmp/post.lua")
    assert command[:4] == ["wrk", "-t1", "-c50", "-d2s"]
    assert "--latency" in command
    assert command[-3:] == ["-s", "/tmp/post.lua", "http://127.0.0.1:1/items"]

    output = (
        "Running 2s test @ http://127.0.0.1:1/items\n  1 threads and 50 connections\n"
        "  Latency Distribution\n     50%    1.10ms\n     75%    1.50ms\n"
        "     90%    2.00ms\n     99%  850.00us\n"
        "  40816 requests in 2.00s, 6.15MB read\n  Non-2xx or 3xx responses: 3\n"
        "Requests/sec:  20381.15\nTransfer/sec:      3.07MB\n"
    )
    result = sock.parse_wrk(output)
    assert (result.requests, result.seconds, result.rps) == (40816, 2.0, 20381.15)
    assert result.errors == "3 non-2xx/3xx responses"
    assert result.p99_ms == pytest.approx(0.85)

    command = sock.server_command("bocadillo", 8123)
    for flag in ("--loop", "uvloop", "--http", "httptools", "--no-access-log", "--factory"):
        assert flag in command
    assert "inprocess:bocadillo_app" in command

    command = sock.server_command("bocadillo", 8123, "granian", workers=2)
    assert command[1:3] == ["-m", "granian"]
    for flags in (["--interface", "asgi"], ["--loop", "uvloop"], ["--workers", "2"]):
        assert " ".join(flags) in " ".join(command)
    assert "--no-access-log" in command and command[-1] == "inprocess:bocadillo_app"


def test_socket_bench_checks_bocadillo_under_uvicorn() -> None:
    """Start the Bocadillo app under uvicorn and check every HTTP scenario over a socket."""
    pytest.importorskip("uvloop")
    pytest.importorskip("httptools")
    sock = load_socket_bench()
    try:
        server = sock.start_server("bocadillo", None, ready_timeout=30)
        for scenario in sock.http_scenarios():
            sock.check_over_socket(server, scenario)
        wrong = dataclasses.replace(sock.http_scenarios()[0], expected=b"Goodbye")
        with pytest.raises(AssertionError, match="body"):
            sock.check_over_socket(server, wrong)
    finally:
        sock.stop_all()
    assert sock.CHILDREN == []
    assert server.process.poll() is not None


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_socket_bench_checks_every_app_under_granian(framework: str) -> None:
    """granian (ASGI, one worker) starts each app, which answers every HTTP scenario,
    one WebSocket conversation (each reply checked) and one event stream (each event
    checked); stopping it leaves no worker behind."""
    pytest.importorskip("granian", reason="install the bench extra: pip install -e '.[bench]'")
    if framework in ("fastapi", "litestar"):
        pytest.importorskip(framework, reason="install the bench extra: pip install -e '.[bench]'")
    sock = load_socket_bench()
    bench = load_bench()
    workers: list[int] = []
    try:
        server = sock.start_server(framework, None, ready_timeout=30, server="granian")
        workers = sock.descendants(server.process.pid)
        assert workers, "granian serves from a worker process"
        for scenario in sock.http_scenarios():
            sock.check_over_socket(server, scenario)
        for key in ("ws", "sse"):
            sock.check_over_socket(server, bench.SCENARIO_BY_KEY[key])
        wrong = dataclasses.replace(bench.SCENARIO_BY_KEY["ws"], expected=[{"text": "x"}] * 100)
        with pytest.raises(AssertionError, match="reply"):
            sock.check_over_socket(server, wrong)
    finally:
        sock.stop_all()
    assert sock.CHILDREN == []
    assert server.process.poll() is not None
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_socket_bench_verdicts_compare_servers_and_rivals() -> None:
    sock = load_socket_bench()
    bench = load_bench()
    json_get, ws = bench.SCENARIO_BY_KEY["json"], bench.SCENARIO_BY_KEY["ws"]
    figures = {
        ("uvicorn", "starlette"): (10_000, 4_000),
        ("uvicorn", "bocadillo"): (12_000, 5_000),
        ("uvicorn", "fastapi"): (5_000, 4_100),
        ("granian", "bocadillo"): (25_000, 7_000),
        ("granian", "fastapi"): (9_000, 8_000),
        ("granian", "litestar"): (26_000, 1_000),
    }
    cells = {}
    for (server, fw), (json_rps, ws_rate) in figures.items():
        for scenario, rate in ((json_get, json_rps), (ws, ws_rate)):
            cell = sock.Cell(bench.FRAMEWORK_BY_KEY[fw], scenario, server)
            cell.rps.append(rate)
            cells[(server, 1, fw, scenario.key)] = cell
    lines = sock.report.verdicts(cells, [json_get, ws], ["uvicorn", "granian"])
    assert lines == [
        "small JSON GET: Bocadillo's fastest server is granian; 2.50x Starlette on uvicorn "
        "(met, goal 2x); 2.08x Bocadillo on uvicorn (met, goal 1.5x)",
        "small JSON GET, on uvicorn: 2.40x FastAPI (met, goal ahead of both)",
        "small JSON GET, on granian: 2.78x FastAPI, 0.96x Litestar (behind) "
        "(missed, goal ahead of both)",
        "WebSocket echo, pydantic in and out (per message): Bocadillo's fastest server is "
        "granian; 1.75x Starlette on uvicorn (met, goal 1.5x)",
        "WebSocket echo, pydantic in and out (per message), on uvicorn: 1.22x FastAPI "
        "(met, goal ahead of both)",
        "WebSocket echo, pydantic in and out (per message), on granian: 0.88x FastAPI "
        "(behind), 7.00x Litestar (missed, goal ahead of both)",
    ]


def test_socket_bench_without_wrk_says_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    sock = load_socket_bench()
    monkeypatch.setattr(sock.shutil, "which", lambda name: None)
    assert sock.main(["--quick"]) == 2
    assert "apt-get install wrk" in capsys.readouterr().err


def test_targets_report_says_which_goals_a_run_met() -> None:
    bench = load_bench()

    def target(framework: str, scenario: str, us: float) -> Any:
        fw = bench.FRAMEWORK_BY_KEY[framework]
        sc = bench.SCENARIO_BY_KEY.get(scenario) or bench.COMPANION_BY_KEY[scenario].scenario
        return bench.Target(fw, sc, app=None, scope=None, receive=None, samples=[us / 1e6])

    targets = [
        target("raw", "ws", 2.0),
        target("starlette", "ws", 3.0),
        target("bocadillo", "ws", 2.5),
        target("raw", "post", 5.0),
        target("starlette", "post", 13.0),
        target("bocadillo", "post", 6.0),
        target("fastapi", "post", 54.0),
        target("litestar", "post", 12.0),
        target("starlette", "list", 160.0),
        target("bocadillo", "list", 30.0),
        target("starlette", "list-tuned", 35.0),
    ]
    lines = bench.goals(targets).splitlines()
    assert lines[0].startswith("POST pydantic body → model: 2.17x Starlette (met)")
    assert lines[1] == "100-object JSON list: 5.33x Starlette (met); 1.17x the tuned Starlette"
    assert lines[2] == (
        "WebSocket echo, pydantic in and out (per message): 1.20x Starlette (missed); "
        "the raw-ASGI floor itself is 1.50x Starlette, and Bocadillo takes 1.25x the floor's time"
    )
    assert "POST pydantic body → model: 9.00x FastAPI (met, goal 5x)" in lines
    assert "POST pydantic body → model: 2.00x Litestar (missed, goal 2.5x)" in lines
    assert "POST: 1.20x the raw-ASGI floor (met, goal at most 1.5x)" in lines


def test_database_bench_starts_seeds_and_checks_both_apps() -> None:
    """``bench/db.py --check``: the todos example under ``bocadillo run`` and the FastAPI
    app of ``bench/apps`` on fresh SQLite files answer list, read and create alike."""
    pytest.importorskip("fastapi", reason="install the bench extra: pip install -e '.[bench]'")
    pytest.importorskip("aiosqlite", reason="install the sqlalchemy extra")
    pytest.importorskip("httptools")
    script = BENCH.parent / "db.py"
    done = subprocess.run(
        [sys.executable, str(script), "--check", "--seed", "20", "--timeout", "60"],
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Bocadillo, FastAPI: list, read and create answer" in done.stdout
