"""The /docs page renders the API in a real browser, with no network but the app.

The example app is served by uvicorn on 127.0.0.1; headless Chromium loads
/docs and dumps the DOM after its scripts ran. The test skips only when no
Chromium is installed (.ci/run installs Debian's when it runs as root).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_TIMEOUT = 60  # seconds for the whole browser run; it takes about one
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
_URL = re.compile(r"""(?:https?:)?//[^\s"'<>()]+""")

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    """The todos example, served by uvicorn on a socket bound here (no port race)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.todos.app:app", "--fd", str(sock.fileno())],
        cwd=ROOT,
        pass_fds=[sock.fileno()],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    sock.close()  # uvicorn holds its own copy
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{base}/openapi.json", timeout=1) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"uvicorn did not start:\n{stderr}")
            time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


@pytest.fixture(scope="module")
def dom(server: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The /docs page's DOM after Swagger UI has rendered it."""
    assert CHROMIUM is not None
    profile = tmp_path_factory.mktemp("chromium-profile")
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        f"{server}/docs",
    ]
    # A session of its own, so a timeout ends the browser's helper processes too.
    browser = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        stdout, stderr = browser.communicate(timeout=BROWSER_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(browser.pid, signal.SIGKILL)
        browser.communicate()
        pytest.fail(f"Chromium did not finish within {BROWSER_TIMEOUT} s")
    assert browser.returncode == 0, stderr.decode("utf-8", "replace")[-2000:]
    return stdout.decode("utf-8", "replace")


def test_swagger_ui_renders_every_operation(server: str, dom: str) -> None:
    with urllib.request.urlopen(f"{server}/openapi.json", timeout=5) as response:
        document = json.load(response)
    assert f'<h1 class="title">{document["info"]["title"]}<' in dom  # rendered by Swagger UI
    rendered_paths = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert rendered_paths == set(document["paths"])
    assert "/todos/{id}" in rendered_paths
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in METHODS:
                continue  # "parameters", "summary" and the like
            tag = (operation.get("tags") or ["default"])[0]
            block = f'<div class="opblock opblock-{method}" id="operations-{tag}-'
            block += f'{operation["operationId"]}">'
            assert block in dom, f"{method.upper()} {path} is not rendered"


def test_page_loads_nothing_from_other_hosts(server: str, dom: str) -> None:
    with urllib.request.urlopen(f"{server}/docs", timeout=5) as response:
        page = response.read().decode()
    assert "/docs/assets/swagger-ui-bundle.js" in page
    assert not _URL.findall(page), "the served page names another host"
    # In the rendered DOM, only the SVG and XLink namespace names (never fetched)
    # may be absolute; every src and href stays on the app.
    namespaces = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}
    absolute = {url for url in _URL.findall(dom) if url not in namespaces}
    assert not {url for url in absolute if not url.startswith(server)}, absolute
    for attribute in re.findall(r'\b(?:src|href|action)="([^"]*)"', dom):
        assert attribute.startswith(("/", "#", server)), attribute
