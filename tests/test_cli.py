"""The ``bocadillo`` command: openapi, asyncapi, run, dev, routes, check."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from starlette.testclient import TestClient

from bocadillo.cli.main import main
from bocadillo.cli.server import (
    H11LimitsProtocol,
    HeaderLimits,
    HttpToolsLimitsProtocol,
)
from bocadillo.cli.websocket_protocol import QuietWebSocketsProtocol

ROOT = Path(__file__).resolve().parent.parent
TODOS = "examples.todos.app:app"


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what the command does to ``sys.path`` and ``sys.modules``."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("cli_"):
            del sys.modules[name]


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))


def served(path: str) -> bytes:
    from examples.todos.app import app

    with TestClient(app) as client:
        response = client.get(path)
    assert response.status_code == 200
    return response.content


def test_prints_the_served_json_document_with_a_final_newline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["openapi", TODOS]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.encode() == served("/openapi.json") + b"\n"
    assert json.loads(out)["info"]["title"] == "Todos"


def test_yaml_is_the_served_yaml_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["openapi", TODOS, "--yaml"]) == 0
    out = capsys.readouterr().out
    assert out.encode() == served("/openapi.yaml")
    assert yaml.safe_load(out) == json.loads(served("/openapi.json"))


@pytest.mark.parametrize("as_yaml", [False, True], ids=["json", "yaml"])
def test_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str], as_yaml: bool) -> None:
    target = tmp_path / "todos.out"
    assert main(["openapi", TODOS, "-o", str(target), *(["--yaml"] if as_yaml else [])]) == 0
    assert capsys.readouterr() == ("", "")
    expected = served("/openapi.yaml") if as_yaml else served("/openapi.json") + b"\n"
    assert target.read_bytes() == expected


def test_unwritable_output_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "missing-dir" / "todos.json"
    assert main(["openapi", TODOS, "-o", str(target)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bocadillo openapi: error: could not write")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("examples.todos.app", "is not of the form MODULE:APP"),
        ("examples.todos.app:", "is not of the form MODULE:APP"),
        (":app", "is not of the form MODULE:APP"),
        ("examples/todos/app.py:app", "is not of the form MODULE:APP"),
        ("examples.todos.nowhere:app", "could not import module 'examples.todos.nowhere'"),
        ("no_such_package.app:app", "could not import module 'no_such_package.app'"),
        ("examples.todos.app:nope", "module 'examples.todos.app' has no attribute 'nope'"),
        ("examples.todos.app:app.nope", "module 'examples.todos.app.app' has no attribute 'nope'"),
        ("examples.todos.app:App", "is the class App, not a bocadillo App instance"),
        ("examples.todos.app:list_todos", "is a function object, not a bocadillo App instance"),
    ],
)
def test_usage_errors_exit_2_with_one_line_on_stderr(
    target: str, message: str, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    assert main(["openapi", target]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bocadillo openapi: error: ")
    assert message in err
    assert err.count("\n") == 1


def test_misconfigured_app_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    write_module(
        tmp_path,
        "cli_bad_app",
        """
        from bocadillo import App

        app = App()

        @app.get("/items")
        async def items(missing_provider) -> list[int]:
            return []
        """,
    )
    assert main(["openapi", "cli_bad_app:app", "--app-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("bocadillo openapi: error: cli_bad_app:app is misconfigured: ")
    assert "missing_provider" in err and "cli_bad_app.py" in err
    assert "Traceback" not in err


def test_configuration_error_on_import_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    write_module(
        tmp_path, "cli_bad_limit", "from bocadillo import App\napp = App(max_body_size=0)\n"
    )
    assert main(["openapi", "cli_bad_limit:app", "--app-dir", str(tmp_path)]) == 1
    assert "max_body_size must be a positive number" in capsys.readouterr().err


def test_a_broken_import_inside_the_module_is_not_hidden(
    tmp_path: Path, isolated_imports: None
) -> None:
    write_module(tmp_path, "cli_broken", "import cli_no_such_dependency\n")
    with pytest.raises(ModuleNotFoundError, match="cli_no_such_dependency"):
        main(["openapi", "cli_broken:app", "--app-dir", str(tmp_path)])


def test_finds_modules_in_the_current_directory(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_imports: None,
) -> None:
    write_module(
        tmp_path,
        "cli_here",
        """
        from bocadillo import App

        app = App(title="Here")

        @app.get("/ping")
        async def ping() -> str:
            return "pong"
        """,
    )
    monkeypatch.chdir(tmp_path)
    sys.path[:] = [p for p in sys.path if p not in ("", ".", str(tmp_path))]
    assert main(["openapi", "cli_here:app"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["info"]["title"] == "Here"
    assert list(document["paths"]) == ["/ping"]


@pytest.mark.parametrize("command", ["openapi", "asyncapi"])
def test_a_subclass_overriding_the_document_prints_what_it_serves(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    isolated_imports: None,
    command: str,
) -> None:
    write_module(
        tmp_path,
        "cli_subclass",
        """
        from typing import Any

        from bocadillo import App

        class MyApp(App):
            def openapi(self) -> dict[str, Any]:
                return {**super().openapi(), "x-logo": "bocadillo.png"}

            def asyncapi(self) -> dict[str, Any]:
                return {**super().asyncapi(), "x-team": "api"}

        app = MyApp(title="Sub")

        @app.get("/ping")
        async def ping() -> str:
            return "pong"
        """,
    )
    assert main([command, "cli_subclass:app", "--app-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out.encode()
    from cli_subclass import app

    with TestClient(app) as client:
        response = client.get(f"/{command}.json")
    assert response.status_code == 200
    assert out == response.content + b"\n"
    assert {"x-logo", "x-team"} & set(json.loads(out))


def test_argparse_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in ([], ["nope"], ["openapi"], ["openapi", TODOS, "--bogus"]):
        with pytest.raises(SystemExit) as exc_info:
            main(argv)
        assert exc_info.value.code == 2
        assert "usage: bocadillo" in capsys.readouterr().err


def test_help_lists_the_openapi_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        main(["--help"])
    assert exc_info.value.code == 0
    assert "openapi" in capsys.readouterr().out


def test_console_script_is_declared() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"bocadillo": "bocadillo.cli.main:main"}


def test_python_dash_m_bocadillo() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bocadillo", "openapi", TODOS],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b""
    assert result.stdout == served("/openapi.json") + b"\n"


# -- the serving and inspection commands, through the console script ---------------------

BOCADILLO = Path(sys.executable).parent / "bocadillo"
CHAT = "examples.chat.app:app"
JOBS = "examples.jobs.app:app"


def bocadillo(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``bocadillo ARGS`` from the repository root; wait for it to finish."""
    return subprocess.run(
        [str(BOCADILLO), *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _env() -> dict[str, str]:
    # No stale bytecode when a test rewrites a module within the same second.
    return {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def get(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET ``path`` on 127.0.0.1:``port``: (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return response.status, headers, response.read()
    finally:
        connection.close()


class Server:
    """``bocadillo ARGS`` started in its own process group; its output goes to files."""

    def __init__(self, tmp_path: Path, *args: str) -> None:
        self._out = tmp_path / "server.out"
        self._err = tmp_path / "server.err"
        with self._out.open("wb") as out, self._err.open("wb") as err:
            self.process = subprocess.Popen(
                [str(BOCADILLO), *args],
                cwd=ROOT,
                env=_env(),
                stdout=out,
                stderr=err,
                start_new_session=True,
            )

    @property
    def stderr(self) -> str:
        return self._err.read_text()

    def wait_until_serving(
        self, port: int, path: str = "/openapi.json", timeout: float = 30
    ) -> tuple[int, dict[str, str], bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the server exited with {self.process.returncode}:\n{self.stderr}")
            try:
                return get(port, path)
            except OSError:
                time.sleep(0.05)
        pytest.fail(f"the server did not answer within {timeout} s:\n{self.stderr}")

    def stop(self, sig: signal.Signals = signal.SIGINT, *, group: bool = False) -> int:
        """Send ``sig`` (to the whole process group with ``group``); wait for the exit."""
        if self.process.poll() is None:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        try:
            return self.process.wait(timeout=30)
        finally:
            self.kill()

    def kill(self) -> None:
        """Make sure nothing of it is left running."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.kill()


def lines_of(table: str) -> list[list[str]]:
    """A ``routes`` table as rows of cells (cells are two or more spaces apart)."""
    return [re.split(r"\s{2,}", line.strip()) for line in table.splitlines()]


# -- bocadillo routes ---------------------------------------------------------------


def test_routes_of_the_todos_example() -> None:
    result = bocadillo("routes", TODOS)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = lines_of(result.stdout)
    assert rows[0] == ["METHOD", "PATH", "HANDLER", "REQUEST", "RESPONSE", "PROVIDERS"]
    assert rows[1:] == [
        [
            "GET",
            "/todos",
            "examples.todos.app.list_todos",
            "query: limit, offset, done, tag, q, sort",
            "200 TodoPage",
            "engine, session",
        ],
        [
            "POST",
            "/todos",
            "examples.todos.app.create_todo",
            "TodoIn",
            "201 Todo",
            "engine, session",
        ],
        ["GET", "/todos/{id}", "examples.todos.app.get_todo", "-", "200 Todo", "engine, session"],
        [
            "PUT",
            "/todos/{id}",
            "examples.todos.app.replace_todo",
            "TodoIn",
            "200 Todo",
            "engine, session",
        ],
        [
            "PATCH",
            "/todos/{id}",
            "examples.todos.app.update_todo",
            "TodoPatch",
            "200 Todo",
            "engine, session",
        ],
        ["DELETE", "/todos/{id}", "examples.todos.app.delete_todo", "-", "204", "engine, session"],
        [
            "POST",
            "/todos/{id}/notes",
            "examples.todos.notes.add_note",
            "NoteIn",
            "201 Note",
            "engine, session",
        ],
        [
            "GET",
            "/todos/{id}/notes",
            "examples.todos.notes.list_notes",
            "-",
            "200 list[Note]",
            "engine, session",
        ],
    ]
    # Aligned: every column starts at the same offset on every line.
    lines = result.stdout.splitlines()
    for column in ("PATH", "HANDLER", "REQUEST", "RESPONSE", "PROVIDERS"):
        offset = lines[0].index(column)
        assert all(line[offset - 2 : offset] == "  " and line[offset] != " " for line in lines)
    assert "\x1b" not in result.stdout  # no colour
    assert all(line == line.rstrip() for line in lines)
    assert "/openapi.json" not in result.stdout and "/docs" not in result.stdout


def test_routes_of_a_websocket_app() -> None:
    result = bocadillo("routes", CHAT)
    assert result.returncode == 0, result.stderr
    rows = lines_of(result.stdout)
    assert ["GET", "/rooms", "examples.chat.app.list_rooms", "-", "200 list[Room]", "rooms"] in rows
    assert rows[2] == [
        "WS",
        "/rooms/{room}",
        "examples.chat.app.chat",
        "Join | Say | Leave",
        "Joined | Said | Left | Error",
        "rooms, member",
    ]


def test_routes_of_an_sse_app() -> None:
    result = bocadillo("routes", JOBS)
    assert result.returncode == 0, result.stderr
    rows = lines_of(result.stdout)
    handler = "examples.jobs.app.create_app.<locals>."
    assert rows[1] == ["POST", "/jobs", handler + "create_job", "JobIn", "201 Job", "runner"]
    assert rows[3] == ["GET", "/jobs/{id}", handler + "get_job", "-", "200 Job", "runner, feed"]
    assert rows[4] == [
        "SSE",
        "/jobs/{id}/events",
        handler + "job_events",
        "header: last-event-id",
        "progress | finished",
        "runner, feed",
    ]


def test_routes_parameters_providers_and_mounts(tmp_path: Path) -> None:
    write_module(
        tmp_path,
        "cli_routes_app",
        """
        from collections.abc import AsyncIterator

        from pydantic import BaseModel
        from starlette.responses import HTMLResponse
        from starlette.staticfiles import StaticFiles

        from bocadillo import App, Cookie, Header, Router

        app = App(title="Shop")


        class Item(BaseModel):
            name: str


        @app.provider
        async def user(x_user: str = Header()) -> str:
            return x_user


        @app.provider
        async def cart(user: str, session: str = Cookie()) -> AsyncIterator[list[str]]:
            yield []


        @app.get("/ping")
        def ping():
            return "pong"


        @app.get("/page")
        async def page() -> HTMLResponse:
            return HTMLResponse("<p>hi</p>")


        @app.post("/cart/{sku}")
        async def add(sku: str, item: Item, cart: list[str], q: int = 1) -> list[Item] | None:
            return None


        async def raw_asgi(scope, receive, send):
            pass


        api = Router(prefix="/v2")
        api.mount("/legacy", raw_asgi)
        app.include_router(api)
        app.mount("/static", StaticFiles(directory="."))
        """,
    )
    result = bocadillo("routes", "cli_routes_app:app", "--app-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert lines_of(result.stdout)[1:] == [
        ["GET", "/ping", "cli_routes_app.ping", "-", "200", "-"],
        ["GET", "/page", "cli_routes_app.page", "-", "200 HTMLResponse", "-"],
        [
            "POST",
            "/cart/{sku}",
            "cli_routes_app.add",
            "Item; query: q; header: x-user; cookie: session",
            "200 list[Item] | None",
            "user, cart",
        ],
        ["MOUNT", "/static", "starlette.staticfiles.StaticFiles"],
        ["MOUNT", "/v2/legacy", "cli_routes_app.raw_asgi"],
    ]
    assert "/docs/assets" not in result.stdout  # the docs page's own mount


def test_routes_of_a_misconfigured_app(tmp_path: Path) -> None:
    write_module(tmp_path, "cli_bad_routes", MISSING_PROVIDER)
    result = bocadillo("routes", "cli_bad_routes:app", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("bocadillo routes: error: cli_bad_routes:app is misconfigured:")
    assert "missing_provider" in result.stderr
    assert result.stderr.count("\n") == 1


MISSING_PROVIDER = """
from bocadillo import App

app = App()

@app.get("/items")
async def items(missing_provider) -> list[int]:
    return []
"""


# -- bocadillo run ------------------------------------------------------------------


def test_run_serves_the_app(tmp_path: Path, servers: list[Server]) -> None:
    port = free_port()
    server = Server(tmp_path, "run", TODOS, "--port", str(port))
    servers.append(server)
    status, headers, body = server.wait_until_serving(port)
    assert status == 200
    assert json.loads(body)["info"]["title"] == "Todos"
    assert "server" not in headers  # no Server header
    assert "date" in headers
    assert server.stop(signal.SIGINT) == 0
    err = server.stderr
    base = f"http://127.0.0.1:{port}"
    assert err.splitlines()[0] == f"Bocadillo · Todos 1.0.0 · {base} · docs {base}/docs"
    assert "Application shutdown complete" in err
    assert "Traceback" not in err


def test_run_stops_on_sigterm_after_a_graceful_shutdown(
    tmp_path: Path, servers: list[Server]
) -> None:
    port = free_port()
    server = Server(tmp_path, "run", CHAT, "--port", str(port), "--log-level", "warning")
    servers.append(server)
    status, _, _ = server.wait_until_serving(port, "/rooms")
    assert status == 200
    # uvicorn finishes, then re-raises the signal so a supervisor sees how it ended.
    assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    base = f"http://127.0.0.1:{port}"
    assert server.stderr.splitlines()[0] == (
        f"Bocadillo · Chat 1.0.0 · {base} · docs {base}/docs · channels {base}/docs/channels"
    )
    assert "INFO" not in server.stderr  # --log-level warning


def test_run_with_workers(tmp_path: Path, servers: list[Server]) -> None:
    port = free_port()
    server = Server(tmp_path, "run", TODOS, "--port", str(port), "--workers", "2")
    servers.append(server)
    status, _, _ = server.wait_until_serving(port, timeout=60)
    assert status == 200
    assert server.stop(signal.SIGTERM, group=True) in (0, -signal.SIGTERM)
    assert "Started parent process" in server.stderr


def test_run_a_taken_port_exits_3(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = bocadillo("run", TODOS, "--port", str(port))
    assert result.returncode == 3
    assert "address already in use" in result.stderr


@pytest.mark.parametrize(
    ("target", "code", "message"),
    [
        ("examples/todos/app.py", 2, "'examples/todos/app.py' is not of the form MODULE:APP"),
        ("examples.todos.nowhere:app", 2, "could not import module 'examples.todos.nowhere'"),
        ("examples.todos.app:list_todos", 2, "is a function object, not a bocadillo App instance"),
        ("cli_run_bad:app", 1, "cli_run_bad:app is misconfigured: "),
    ],
)
def test_run_reports_a_bad_app_before_starting(
    tmp_path: Path, target: str, code: int, message: str
) -> None:
    write_module(tmp_path, "cli_run_bad", MISSING_PROVIDER)
    result = bocadillo("run", target, "--app-dir", str(tmp_path), "--port", str(free_port()))
    assert result.returncode == code
    assert result.stdout == ""
    assert result.stderr.startswith("bocadillo run: error: ")
    assert message in result.stderr
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr and "Uvicorn" not in result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["--reload", "--workers", "2"],
        ["--workers", "0"],
        ["--port", "70000"],
        ["--limit-concurrency", "-1"],
        ["--log-level", "loud"],
        ["--max-header-size", "0"],
        ["--max-headers", "many"],
        ["--header-timeout", "0"],
        ["--header-timeout", "nan"],
        ["--http", "h2"],
    ],
)
def test_run_usage_errors(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc_info:
        code = main(["run", TODOS, *argv])
        raise SystemExit(code)
    assert exc_info.value.code == 2
    err = capsys.readouterr().err
    assert "usage: bocadillo run" in err or "--reload and --workers" in err


def _run_options(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> dict[str, Any]:
    """What ``main(argv)`` passes to ``uvicorn.run`` (which is not called)."""
    import uvicorn

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append((a, kw)))
    assert main(argv) == 0
    [(args, options)] = calls
    assert args == (argv[1],)  # the import string, for reload and workers
    return options


def test_run_production_defaults(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    options = _run_options(monkeypatch, ["run", TODOS])
    protocol = options.pop("http")  # a partial of the class, picklable into the workers
    assert protocol.func is HttpToolsLimitsProtocol
    assert protocol.keywords == {"limits": HeaderLimits(16384, 100, 10.0)}
    assert pickle.loads(pickle.dumps(protocol)).keywords == protocol.keywords
    assert options == {
        "host": "127.0.0.1",
        "port": 8000,
        "app_dir": str(Path.cwd()),
        "reload": False,
        "reload_dirs": None,
        "workers": None,
        "loop": "auto",
        "server_header": False,
        "date_header": True,
        "access_log": True,
        "log_level": "info",
        "limit_concurrency": 1000,
        "timeout_keep_alive": 5,
        "timeout_graceful_shutdown": 30,
        "proxy_headers": True,
        "forwarded_allow_ips": None,
        "ws": QuietWebSocketsProtocol,  # uvicorn's, with a client's bad UTF-8 logged quietly
        "ws_max_size": 65536,  # the todos example's routes take the default
        "ws_ping_interval": 20.0,
        "ws_ping_timeout": 20.0,
    }
    assert capsys.readouterr().err.startswith("Bocadillo · Todos 1.0.0 · http://127.0.0.1:8000")


def test_run_options(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_imports: None,
) -> None:
    options = _run_options(
        monkeypatch,
        [
            "run",
            TODOS,
            "--host",
            "::1",
            "--port",
            "9000",
            "--reload",
            "--limit-concurrency",
            "0",
            "--timeout-keep-alive",
            "20",
            "--max-header-size",
            "8192",
            "--max-headers",
            "50",
            "--header-timeout",
            "2.5",
            "--http",
            "h11",
            "--log-level",
            "debug",
            "--no-proxy-headers",
            "--forwarded-allow-ips",
            "10.0.0.1,10.0.0.2",
            "--app-dir",
            str(ROOT),
        ],
    )
    assert options["host"] == "::1"
    assert options["port"] == 9000
    assert options["reload"] is True
    assert options["reload_dirs"] == [str(ROOT)]
    assert options["limit_concurrency"] is None
    assert options["timeout_keep_alive"] == 20
    assert options["http"].func is H11LimitsProtocol
    assert options["http"].keywords == {"limits": HeaderLimits(8192, 50, 2.5)}
    assert options["log_level"] == "debug"
    assert options["proxy_headers"] is False
    assert options["forwarded_allow_ips"] == "10.0.0.1,10.0.0.2"
    assert "http://[::1]:9000 · docs http://[::1]:9000/docs" in capsys.readouterr().err


def test_run_without_httptools(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    import bocadillo.cli.server

    monkeypatch.setattr(bocadillo.cli.server, "HAVE_HTTPTOOLS", False)
    options = _run_options(monkeypatch, ["run", TODOS])  # auto: h11, with the same limits
    assert options["http"].func is H11LimitsProtocol
    assert options["http"].keywords == {"limits": HeaderLimits()}
    assert main(["run", TODOS, "--http", "httptools"]) == 2
    err = capsys.readouterr().err
    assert err.endswith(
        "bocadillo run: error: --http httptools: httptools is not installed "
        "(pip install httptools)\n"
    )


def _granian_settings(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> Any:
    """What ``main(argv)`` passes to ``serve_granian`` (which is not called)."""
    import bocadillo.cli.serve

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(bocadillo.cli.serve, "serve_granian", lambda *a: calls.append(a) or 0)
    assert main(argv) == 0
    [(target, app_dir, settings)] = calls
    assert (target, app_dir) == (argv[1], str(Path.cwd()))
    return settings


def test_run_server_granian_maps_the_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    pytest.importorskip("granian", reason="granian is not installed (the granian extra)")
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    settings = _granian_settings(monkeypatch, ["run", TODOS, "--server", "granian"])
    assert vars(settings) == {
        "host": "127.0.0.1",
        "port": 8000,
        "workers": 1,
        "reload": False,
        "log_level": "info",
        "max_buffer_size": HeaderLimits().raw_bound,  # the head, separators included
        "header_timeout": 10.0,
        "keep_alive": True,
        "backpressure": 1000,  # --limit-concurrency
        "graceful_timeout": 30,
        "proxy_headers": True,
        "forwarded_allow_ips": None,
    }
    assert capsys.readouterr().err.startswith("Bocadillo · Todos 1.0.0 · http://127.0.0.1:8000")
    settings = _granian_settings(
        monkeypatch,
        ["run", TODOS, "--server", "granian", "--workers", "3", "--log-level", "trace"],
    )
    assert (settings.workers, settings.log_level) == (3, "debug")
    settings = _granian_settings(monkeypatch, ["dev", TODOS, "--server", "granian"])
    assert (settings.reload, settings.log_level) == (True, "debug")
    assert (settings.backpressure, settings.graceful_timeout) == (None, 5)


def test_run_server_granian_without_granian(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "granian", None)  # import granian raises ImportError
    assert main(["run", TODOS, "--server", "granian"]) == 2
    assert capsys.readouterr().err.endswith(
        "--server granian: granian is not installed (pip install 'bocadillo[granian]')\n"
    )


def test_the_start_up_line_without_docs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    isolated_imports: None,
) -> None:
    write_module(
        tmp_path,
        "cli_no_docs",
        """
        from bocadillo import App

        app = App(title="Quiet", version="2.0", docs_url=None)
        """,
    )
    _run_options(monkeypatch, ["run", "cli_no_docs:app", "--app-dir", str(tmp_path)])
    assert capsys.readouterr().err == "Bocadillo · Quiet 2.0 · http://127.0.0.1:8000\n"


def test_dev_options(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    options = _run_options(monkeypatch, ["dev", TODOS, "--port", "8001"])
    assert options["reload"] is True
    assert options["reload_dirs"] == [str(Path.cwd())]
    assert options["log_level"] == "debug"
    assert options["limit_concurrency"] is None
    assert options["port"] == 8001
    assert options["http"].keywords == {"limits": HeaderLimits()}
    assert "http://127.0.0.1:8001" in capsys.readouterr().err


# -- bocadillo dev ------------------------------------------------------------------

RELOADABLE = """
from bocadillo import App

app = App(title="Live")


@app.get("/hello")
async def hello() -> str:
    return {greeting!r}
"""


def test_dev_reloads_on_change(tmp_path: Path, servers: list[Server]) -> None:
    app_dir = tmp_path / "app"
    app_dir.mkdir()
    module = app_dir / "cli_live.py"
    module.write_text(RELOADABLE.format(greeting="hello"))
    port = free_port()
    server = Server(tmp_path, "dev", "cli_live:app", "--app-dir", str(app_dir), "--port", str(port))
    servers.append(server)
    status, _, body = server.wait_until_serving(port, "/hello")
    assert (status, body) == (200, b'"hello"')

    # uvicorn's reloader starts watching a moment after the server starts
    # serving, and misses a change made in between: write it until it is seen.
    started = time.monotonic()
    while time.monotonic() - started < 20:
        module.write_text(RELOADABLE.format(greeting="hello again"))
        seen = time.monotonic() + 3
        while time.monotonic() < seen:
            with contextlib.suppress(OSError):
                if get(port, "/hello")[2] == b'"hello again"':
                    break
            time.sleep(0.1)
        else:
            continue
        break
    else:
        pytest.fail(f"the change was not picked up:\n{server.stderr}")
    assert "cli_live.py'. Reloading..." in server.stderr, server.stderr
    assert server.stop(signal.SIGINT) == 0
    err = server.stderr
    assert err.startswith("Bocadillo · Live 0.1.0 · http://127.0.0.1:")
    assert f"Will watch for changes in these directories: ['{app_dir}']" in err


# -- bocadillo check ----------------------------------------------------------------


def test_check_the_todos_example() -> None:
    result = bocadillo("check", TODOS, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "plans: 8 HTTP routes, 0 WebSocket routes compiled"
    assert re.match(r"operation\s+cases\s+failures$", lines[1])
    assert any(re.match(r"POST /todos\s+\d+\s+0$", line) for line in lines)
    assert any(re.match(r"total\s+\d+\s+0$", line) for line in lines)


def test_check_a_websocket_app_without_the_contract() -> None:
    result = bocadillo("check", CHAT, "--no-contract")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "plans: 3 HTTP routes, 1 WebSocket route compiled\n"


BROKEN_CONTRACT = """
from starlette.responses import JSONResponse

from bocadillo import App

app = App(title="Broken")


@app.get("/divide")
async def divide(a: int, b: int) -> int:
    return a // b  # b=0: a ZeroDivisionError, answered with a 500


@app.get("/teapot")
async def teapot() -> int:
    return JSONResponse(1, status_code=418)  # a status the document does not list
"""


def test_check_finds_contract_failures(tmp_path: Path) -> None:
    write_module(tmp_path, "cli_broken_contract", BROKEN_CONTRACT)
    result = bocadillo("check", "cli_broken_contract:app", "--app-dir", str(tmp_path), timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert out.startswith("plans: 2 HTTP routes, 0 WebSocket routes compiled\n")
    assert re.search(r"^GET /divide\s+\d+\s+[1-9]\d*$", out, re.MULTILINE)
    assert re.search(r"^GET /teapot\s+\d+\s+[1-9]\d*$", out, re.MULTILINE)
    assert "GET /divide: Server error (not_a_server_error)" in out
    assert "GET /teapot: Undocumented status code (status_code_conformance)" in out
    assert "curl -X GET 'http://testserver/divide?" in out  # the reproduction
    assert "b=0" in out


def test_check_a_misconfigured_app(tmp_path: Path) -> None:
    write_module(tmp_path, "cli_bad_check", MISSING_PROVIDER)
    result = bocadillo("check", "cli_bad_check:app", "--app-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("bocadillo check: error: cli_bad_check:app is misconfigured:")
    assert "missing_provider" in result.stderr
    assert result.stderr.count("\n") == 1


def test_check_passes_its_options_to_run_contract(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    from bocadillo.testing import contract as _contract

    calls: list[dict[str, Any]] = []

    class Report:
        ok = True

        def table(self) -> str:
            return "the table"

        def failure_text(self) -> str:
            raise AssertionError("not asked for when ok")

    def fake_run_contract(app: Any, **options: Any) -> Report:
        calls.append(options)
        return Report()

    monkeypatch.setattr(_contract, "run_contract", fake_run_contract)
    argv = ["check", TODOS, "--max-examples", "3", "--no-stateful", "--no-websockets"]
    assert main([*argv, "--seed", "7"]) == 0
    assert main([*argv[:2], "--seed", "random"]) == 0
    assert calls[0] == {"max_examples": 3, "stateful": False, "websockets": False, "seed": 7}
    drawn = calls[1].pop("seed")
    assert calls[1] == {"max_examples": 25, "stateful": True, "websockets": True}
    out = capsys.readouterr().out
    # A random seed is drawn and printed, so a failing run can be repeated.
    assert f"seed: {drawn} (run again with --seed {drawn})" in out
    assert out.endswith("the table\n")


def test_check_without_the_testing_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], isolated_imports: None
) -> None:
    from bocadillo.testing import contract as _contract

    def missing(app: Any, **options: Any) -> Any:
        raise ModuleNotFoundError("No module named 'schemathesis'", name="schemathesis")

    monkeypatch.setattr(_contract, "run_contract", missing)
    assert main(["check", TODOS]) == 1
    out, err = capsys.readouterr()
    assert out == "plans: 8 HTTP routes, 0 WebSocket routes compiled\n"
    assert err == (
        "bocadillo check: error: the contract tests need the 'schemathesis' package, which is "
        "not installed (pip install 'bocadillo[testing]'); --no-contract skips them\n"
    )
