"""The atheris fuzz target, tests/fuzz/fuzz_requests.py: its input formats, its checks
(shown to fail on apps that get things wrong), and a short fuzzing run when atheris
is installed."""

from __future__ import annotations

import gzip
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from bocadillo import App, PlainTextResponse, StreamingResponse

FUZZ_DIR = Path(__file__).parent / "fuzz"
SCRIPT = FUZZ_DIR / "fuzz_requests.py"
sys.path.insert(0, str(FUZZ_DIR))

import fuzz_requests as fr  # noqa: E402

JSON = ("content-type", "application/json")


@pytest.fixture(scope="module")
def target() -> Iterator[fr.Target]:
    """The target over the apps the fuzzer drives (the examples and fuzz_app)."""
    started = fr.Target(fr.default_apps())
    yield started
    started.close()


def _app_index(target: fr.Target, name: str) -> int:
    return [info.name for info in target.apps].index(name)


# -- the input formats ------------------------------------------------------------


def test_a_literal_input_is_exactly_the_request_it_encodes(target: fr.Target) -> None:
    data = fr.encode_literal(
        _app_index(target, "kinds"),
        "PUT",
        "/items/5",
        b"dry_run=1&x=%00",
        [("Content-Type", "application/json"), ("x-tenant", "acme")],
        [b'{"name":', b'"w"}'],
    )
    request = fr.decode(data, target.apps)
    assert request.app == "kinds"
    assert request.method == "PUT"
    assert request.path == "/items/5"
    assert request.query_string == b"dry_run=1&x=%00"
    # Header names are lower-cased, as servers pass them on.
    assert request.headers == [(b"content-type", b"application/json"), (b"x-tenant", b"acme")]
    assert request.chunks == [b'{"name":', b'"w"}']


def test_any_input_decodes_to_a_request_a_server_could_pass_on(target: fr.Target) -> None:
    rng = random.Random(5)
    token = set(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz")
    upper = set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    names = {info.name for info in target.apps}
    for _ in range(2000):
        request = fr.decode(rng.randbytes(rng.randrange(0, 700)), target.apps)
        assert request.app in names
        assert request.method and set(request.method.encode()) <= token | upper
        for name, value in request.headers:
            assert name and set(name) <= token
            assert not set(value) & (set(range(32)) - {9} | {127})
        assert request.chunks


def test_the_pure_python_provider_reads_inputs_as_atheris_does() -> None:
    atheris = pytest.importorskip("atheris")
    rng = random.Random(3)
    for _ in range(300):
        data = rng.randbytes(rng.randrange(0, 64))
        ours, theirs = fr.ByteSource(data), atheris.FuzzedDataProvider(data)
        for _ in range(12):
            if rng.random() < 0.5:
                low = rng.randrange(-1000, 1000)
                high = low + rng.choice([0, 1, 7, 255, 256, 70000, 2**40])
                assert ours.ConsumeIntInRange(low, high) == theirs.ConsumeIntInRange(low, high)
            else:
                count = rng.randrange(0, 20)
                assert ours.ConsumeBytes(count) == theirs.ConsumeBytes(count)
            assert ours.remaining_bytes() == theirs.remaining_bytes()


# -- the apps under fuzz answer the seeds, and errors, correctly ----------------------


def test_every_seed_is_a_request_the_apps_answer_with_success(target: fr.Target) -> None:
    literal = [seed for seed in fr.seeds() if seed[0] == fr.LITERAL]
    assert len(literal) >= 40
    routes = set()
    for seed in literal:
        request = fr.decode(seed, target.apps)
        exchange = target.run(request)
        assert fr.check(request, exchange) == [], request.describe()
        # Success; for the app that sends every request to https, the redirect.
        success = (308,) if request.app == "redirected" else range(200, 300)
        assert exchange.status in success, (request.describe(), exchange.body)
        if request.app == "redirected":
            location = exchange.headers()["location"]
            assert location.startswith("https://") and location.isascii(), location
        target.one_input(seed)  # the function the fuzzer calls: no finding either
        routes.add((request.app, request.method, request.path.split("/")[1]))
    # Each kind of parameter and body of fuzz_app has a seed to start from.
    kinds = {path for app, _, path in routes if app == "kinds"}
    assert {"items", "search", "whoami", "notes", "people", "upload", "raw", "me"} <= kinds


@pytest.mark.parametrize(
    ("method", "path", "headers", "body", "status"),
    [
        ("POST", "/items", [JSON], b'{"name": ', 400),  # malformed JSON
        ("POST", "/items", [("content-type", "text/plain")], b"{}", 415),
        ("POST", "/items", [JSON], b'{"name": ""}', 422),
        ("POST", "/small", [JSON], b"[" + b"1," * 200 + b"1]", 413),
        ("DELETE", "/search", [], b"", 405),
        ("GET", "/nowhere", [], b"", 404),
        ("POST", "/upload", [("content-type", "multipart/form-data")], b"x", 400),
        ("GET", "/me", [("x-api-key", "nope")], b"", 403),
        ("GET", "/token", [], b"", 401),
    ],
)
def test_client_errors_are_problems_not_findings(
    target: fr.Target,
    method: str,
    path: str,
    headers: list[tuple[str, str]],
    body: bytes,
    status: int,
) -> None:
    data = fr.encode_literal(_app_index(target, "kinds"), method, path, b"", headers, [body])
    request = fr.decode(data, target.apps)
    exchange = target.run(request)
    assert exchange.status == status
    assert exchange.headers()["content-type"] == fr.PROBLEM_JSON
    target.one_input(data)


# -- the checks catch an app that gets things wrong ------------------------------------


def _broken_app() -> App:
    app = App()

    @app.get("/fine")
    async def fine() -> dict[str, int]:
        return {"ok": 1}

    @app.get("/boom")
    async def boom() -> int:
        raise RuntimeError("boom")

    @app.get("/teapot")
    async def teapot() -> PlainTextResponse:
        return PlainTextResponse("short and stout", status_code=418)

    @app.get("/stream")
    async def stream() -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"first"
            raise RuntimeError("broken mid-stream")

        return StreamingResponse(chunks())

    async def unfinished(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"x", "more_body": True})

    async def silent(scope: Any, receive: Any, send: Any) -> None:
        return None

    async def hangs(scope: Any, receive: Any, send: Any) -> None:
        while True:  # reads past the body and never answers
            await receive()

    async def wrong_length(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-length", b"10")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"abc"})

    async def not_a_problem(scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/problem+json")]
        await send({"type": "http.response.start", "status": 400, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"status": 409}'})

    app.mount("/unfinished", unfinished)
    app.mount("/silent", silent)
    app.mount("/hangs", hangs)
    app.mount("/wrong-length", wrong_length)
    app.mount("/not-a-problem", not_a_problem)
    return app


@pytest.fixture(scope="module")
def broken() -> Iterator[fr.Target]:
    started = fr.Target([fr.FuzzApp("broken", _broken_app())], timeout=1.0)
    yield started
    started.close()


@pytest.mark.parametrize(
    ("method", "path", "problem"),
    [
        ("GET", "/boom", "status 500"),
        ("GET", "/teapot", "status 418 answered as text/plain"),
        ("GET", "/stream", "exception escaped the app: RuntimeError: broken mid-stream"),
        ("GET", "/unfinished", "the response body never ended"),
        ("GET", "/silent", "no http.response.start"),
        ("GET", "/hangs", "no complete answer in time"),
        ("GET", "/wrong-length", "content-length 10 for a body of 3 bytes"),
        ("GET", "/not-a-problem", "status 400: the problem body says otherwise"),
    ],
)
def test_a_finding_is_raised_for_each_kind_of_wrong_answer(
    broken: fr.Target, method: str, path: str, problem: str
) -> None:
    data = fr.encode_literal(0, method, path)
    with pytest.raises(fr.Finding) as caught:
        broken.one_input(data)
    assert problem in caught.value.problems
    report = str(caught.value)
    assert f"{method} {path}" in report  # the reproduction is in the report
    if path == "/boom":
        assert "RuntimeError: boom" in report  # with what the app logged


def test_a_body_for_head_is_a_finding() -> None:
    # Bocadillo drops the body of every answer to HEAD, so no app can show this one.
    request = fr.FuzzRequest("any", "HEAD", "/")
    messages = [
        {"type": "http.response.start", "status": 200, "headers": []},
        {"type": "http.response.body", "body": b"a body"},
    ]
    assert fr.check(request, fr.Exchange(messages)) == ["a body for HEAD"]
    messages[1]["body"] = b""
    assert fr.check(request, fr.Exchange(messages)) == []


def test_a_compressed_problem_is_read_after_decompressing_it() -> None:
    request = fr.FuzzRequest("any", "GET", "/")
    problem = b'{"type":"about:blank","title":"Not Found","status":404}'
    headers = [(b"content-type", b"application/problem+json"), (b"content-encoding", b"gzip")]
    messages = [
        {"type": "http.response.start", "status": 404, "headers": headers},
        {"type": "http.response.body", "body": gzip.compress(problem)},
    ]
    assert fr.check(request, fr.Exchange(messages)) == []
    messages[1]["body"] = b"not gzip"
    assert fr.check(request, fr.Exchange(messages))[0].startswith(
        "content-encoding gzip, but the body is not gzip"
    )


def test_compressed_problems_of_an_app_with_gzip_are_not_findings(target: fr.Target) -> None:
    data = fr.encode_literal(
        _app_index(target, "stacked"),
        "POST",
        "/cart",
        b"",
        [JSON, ("accept-encoding", "gzip")],
        [b'{"name": "' + b"x" * 300 + b'"}'],  # invalid: a long problem, compressed
    )
    request = fr.decode(data, target.apps)
    exchange = target.run(request)
    assert exchange.status == 422
    assert exchange.headers()["content-encoding"] == "gzip"
    target.one_input(data)


def test_right_answers_of_the_same_app_are_not_findings(broken: fr.Target) -> None:
    broken.one_input(fr.encode_literal(0, "GET", "/fine"))
    broken.one_input(fr.encode_literal(0, "HEAD", "/fine"))
    broken.one_input(fr.encode_literal(0, "GET", "/missing"))  # a 404 problem
    broken.one_input(fr.encode_literal(0, "POST", "/fine", b"", [JSON], [b"{}"]))  # a 405


def test_keep_going_mode_records_each_finding_once(tmp_path: Path) -> None:
    target = fr.Target([fr.FuzzApp("broken", _broken_app())], findings_dir=tmp_path)
    try:
        for _ in range(3):
            target.one_input(fr.encode_literal(0, "GET", "/boom"))  # no raise
        target.one_input(fr.encode_literal(0, "GET", "/teapot"))
    finally:
        target.close()
    reports = sorted(tmp_path.glob("finding-*.txt"))
    assert len(reports) == 2
    inputs = [p for p in tmp_path.glob("finding-*") if p.suffix != ".txt"]
    assert sorted(p.read_bytes()[:1] for p in inputs) == [b"L", b"L"]
    assert sorted(target.seen.values()) == [1, 3]


# -- the command --------------------------------------------------------------------------


def test_describe_replays_an_input_and_prints_the_request(tmp_path: Path) -> None:
    seed = tmp_path / "seed"
    seed.write_bytes(fr.encode_literal(1, "GET", "/search", b"q=tea&limit=5"))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--describe", str(seed)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "app kinds: GET /search?q=tea&limit=5" in result.stdout
    assert "answer: 200 application/json" in result.stdout
    assert "findings: none" in result.stdout


def test_a_short_fuzzing_run_finds_nothing(tmp_path: Path) -> None:
    pytest.importorskip("atheris")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    result = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "-runs=3000",
            "-max_total_time=30",
            "-seed=1",
            f"-artifact_prefix={tmp_path}/",
            str(corpus),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    uncaught = output.find("=== Uncaught Python exception: ===")
    assert result.returncode == 0, (
        output[uncaught : uncaught + 5000] if uncaught >= 0 else output[-5000:]
    )
    assert "Done 3000 runs" in output or "DONE" in output, output[-3000:]
    assert not list(tmp_path.glob("crash-*")), output[-6000:]
    assert list(corpus.iterdir())  # the run kept the inputs that found new code
