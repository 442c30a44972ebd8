"""Static files, templates, redirects and trailing slashes, through the test client."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import jinja2
import pytest
from conftest import RawResponse
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, HTMLResponse, Redirect, Router, Templates

PROBLEM_JSON = "application/problem+json"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


# -- static files --------------------------------------------------------------------


@pytest.fixture
def assets(tmp_path: Path) -> Path:
    (tmp_path / "app.css").write_text("body { color: teal; }")
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "app.js").write_text("console.log('hi');")
    return tmp_path


def test_static_serves_files_with_their_media_type_and_cache_headers(
    app: App, client: TestClient, assets: Path
) -> None:
    app.static("/static", assets)

    css = client.get("/static/app.css")
    js = client.get("/static/js/app.js")

    assert css.status_code == 200
    assert css.text == "body { color: teal; }"
    assert css.headers["content-type"].startswith("text/css")
    assert css.headers["etag"] and css.headers["last-modified"]
    assert js.text == "console.log('hi');"


def test_static_answers_a_conditional_request_with_304(
    app: App, client: TestClient, assets: Path
) -> None:
    app.static("/static", assets)
    etag = client.get("/static/app.css").headers["etag"]

    again = client.get("/static/app.css", headers={"If-None-Match": etag})

    assert again.status_code == 304
    assert again.content == b""


def test_static_checks_if_match_and_if_unmodified_since(
    app: App, client: TestClient, assets: Path
) -> None:
    app.static("/static", assets)
    first = client.get("/static/app.css")
    etag, modified = first.headers["etag"], first.headers["last-modified"]

    assert client.get("/static/app.css", headers={"If-Match": etag}).status_code == 200
    assert client.get("/static/app.css", headers={"If-Match": f'"x", {etag}'}).status_code == 200
    assert client.get("/static/app.css", headers={"If-Match": "*"}).status_code == 200
    for stale in ('"other"', f"W/{etag}"):  # a weak tag never matches If-Match
        refused = client.get("/static/app.css", headers={"If-Match": stale})
        assert refused.status_code == 412
        assert refused.headers["content-type"] == PROBLEM_JSON
        assert refused.json()["detail"] == "The file's ETag matches none of If-Match."
    assert (
        client.get("/static/app.css", headers={"If-Unmodified-Since": modified}).status_code == 200
    )
    early = client.get(
        "/static/app.css", headers={"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}
    )
    assert early.status_code == 412
    odd = client.get("/static/app.css", headers={"If-Unmodified-Since": "not a date"})
    assert odd.status_code == 200  # an invalid date is ignored


def test_a_static_file_with_a_slash_after_it_is_a_404(
    app: App, client: TestClient, assets: Path
) -> None:
    app.static("/static", assets)
    for path in ("/static/app.css/", "/static/js/app.js/", "/static/%00/", "/static/a%00b/"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == PROBLEM_JSON
    assert client.get("/static/app.css").status_code == 200


def test_static_head_sends_headers_only(app: App, client: TestClient, assets: Path) -> None:
    app.static("/static", assets)

    response = client.head("/static/app.css")

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["content-length"] == str(len("body { color: teal; }"))


def test_a_missing_static_file_is_a_404_problem(app: App, client: TestClient, assets: Path) -> None:
    app.static("/static", assets)

    response = client.get("/static/missing.css")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json()["status"] == 404


def test_a_static_file_refuses_other_methods_with_a_405_problem(
    app: App, client: TestClient, assets: Path
) -> None:
    app.static("/static", assets)

    response = client.post("/static/app.css")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["allow"] == "GET, HEAD"


def test_static_never_serves_outside_its_directory(
    app: App, client: TestClient, assets: Path
) -> None:
    (assets.parent / "secret.txt").write_text("secret")
    app.static("/static", assets / "js")

    response = client.get("/static/%2E%2E/%2E%2E/secret.txt")

    assert response.status_code == 404
    assert "secret" not in response.text


def test_a_missing_static_directory_fails_at_declaration(app: App, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        app.static("/static", tmp_path / "nowhere")


def test_static_path_follows_the_mount_rules(app: App, assets: Path) -> None:
    with pytest.raises(ConfigurationError, match="must start with '/'"):
        app.static("/static/", assets)


def test_static_html_serves_index_and_404_pages(
    app: App, client: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "index.html").write_text("<h1>Home</h1>")
    (tmp_path / "404.html").write_text("<h1>Lost</h1>")
    app.static("/site", tmp_path, html=True)

    home = client.get("/site/")
    lost = client.get("/site/nope")

    assert home.status_code == 200 and home.text == "<h1>Home</h1>"
    assert lost.status_code == 404 and lost.text == "<h1>Lost</h1>"


def test_static_on_a_router_is_served_under_its_prefix(
    app: App, client: TestClient, assets: Path
) -> None:
    router = Router(prefix="/ui")
    router.static("/assets", assets, name="assets")
    app.include_router(router)

    assert client.get("/ui/assets/app.css").text == "body { color: teal; }"
    assert [m.name for m in app.iter_mounts() if m.path == "/ui/assets"] == ["assets"]


def test_static_files_are_not_in_the_api_document(
    app: App, client: TestClient, assets: Path
) -> None:
    app.static("/static", assets)

    paths = client.get("/openapi.json").json().get("paths", {})

    assert not any(path.startswith("/static") for path in paths)


# -- templates -----------------------------------------------------------------------


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "hello.html").write_text("<p>Hello, {{ name }}!</p>")
    (folder / "feed.xml").write_text("<title>{{ title }}</title>")
    (folder / "note.txt").write_text("{{ text }}")
    (folder / "base.html").write_text("<main>{% block body %}{% endblock %}</main>")
    (folder / "page.html").write_text(
        '{% extends "base.html" %}{% block body %}{{ text|shout }}{% endblock %}'
    )
    (folder / "broken.html").write_text('{% include "gone.html" %}')
    (folder / "async.html").write_text("{{ await_me() }} {{ site }}")
    return Templates(folder)


def test_render_is_an_html_response(app: App, client: TestClient, templates: Templates) -> None:
    @app.get("/hello/{name}", include_in_schema=False)
    async def hello(name: str) -> HTMLResponse:
        return await templates.render("hello.html", name=name)

    response = client.get("/hello/ada")

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.text == "<p>Hello, ada!</p>"


@pytest.mark.anyio
async def test_render_returns_the_framework_html_response(templates: Templates) -> None:
    response = await templates.render("hello.html", name="ada")

    assert isinstance(response, HTMLResponse)
    assert response.body == b"<p>Hello, ada!</p>"


@pytest.mark.anyio
async def test_values_are_escaped_in_html_and_xml_but_not_in_text(templates: Templates) -> None:
    html = await templates.render("hello.html", name="<script>alert(1)</script>")
    xml = await templates.render_text("feed.xml", title="a & b")
    text = await templates.render_text("note.txt", text="<b>")

    assert html.body == b"<p>Hello, &lt;script&gt;alert(1)&lt;/script&gt;!</p>"
    assert xml == "<title>a &amp; b</title>"
    assert text == "<b>"


@pytest.mark.anyio
async def test_render_sets_status_and_headers(templates: Templates) -> None:
    response = await templates.render(
        "hello.html", name="ada", status_code=201, headers={"X-Page": "hello"}
    )

    assert response.status_code == 201
    assert response.headers["x-page"] == "hello"


@pytest.mark.anyio
async def test_values_named_like_options_go_in_context(templates: Templates) -> None:
    folder = templates.directories[0]
    (folder / "status.html").write_text("{{ status_code }} {{ headers }} {{ name }}")

    response = await templates.render(
        "status.html", context={"status_code": "shown", "headers": "too"}, name="ada"
    )

    assert response.status_code == 200
    assert response.body == b"shown too ada"


@pytest.mark.anyio
async def test_env_takes_filters_and_globals(templates: Templates) -> None:
    templates.env.filters["shout"] = lambda text: f"{text.upper()}!"

    response = await templates.render("page.html", text="hi")

    assert response.body == b"<main>HI!</main>"


@pytest.mark.anyio
async def test_templates_render_asynchronously(templates: Templates) -> None:
    async def await_me() -> str:
        return "awaited"

    templates.env.globals["site"] = "Bocadillo"

    assert await templates.render_text("async.html", await_me=await_me) == "awaited Bocadillo"


@pytest.mark.anyio
async def test_a_missing_template_names_it_and_the_directories(templates: Templates) -> None:
    with pytest.raises(jinja2.TemplateNotFound, match=r"'nope\.html' not found in '.*templates'"):
        await templates.render("nope.html")
    with pytest.raises(jinja2.TemplateNotFound, match=r"'gone\.html'.*needed by 'broken\.html'"):
        await templates.render("broken.html")


def test_a_missing_template_is_a_logged_500_without_a_traceback(
    app: App, client: TestClient, templates: Templates, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/page", include_in_schema=False)
    async def page() -> HTMLResponse:
        return await templates.render("nope.html")

    with caplog.at_level(logging.ERROR, logger="bocadillo"):
        response = client.get("/page")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert "nope.html" not in response.text and "Traceback" not in response.text
    assert any(
        isinstance(r.exc_info[1], jinja2.TemplateNotFound) for r in caplog.records if r.exc_info
    )


def test_a_missing_templates_directory_fails_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        Templates(tmp_path / "nowhere")


@pytest.mark.anyio
async def test_templates_search_several_directories_in_order(tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    (first / "a.html").write_text("first a")
    (second / "a.html").write_text("second a")
    (second / "b.html").write_text("second b")
    templates = Templates([first, second])

    assert await templates.render_text("a.html") == "first a"
    assert await templates.render_text("b.html") == "second b"


# -- redirects -----------------------------------------------------------------------


def test_redirect_is_a_307_with_location(app: App, client: TestClient) -> None:
    @app.get("/old")
    async def old() -> Redirect:
        return Redirect("/new?page=2")

    response = client.get("/old", follow_redirects=False)

    assert response.status_code == 307
    assert response.headers["location"] == "/new?page=2"


def test_a_permanent_redirect_is_a_308(app: App, client: TestClient) -> None:
    @app.post("/old", status_code=308)
    async def old() -> Redirect:
        return Redirect("https://example.com/new", permanent=True)

    response = client.post("/old", follow_redirects=False)

    assert response.status_code == 308
    assert response.headers["location"] == "https://example.com/new"


def test_redirect_is_documented_with_its_status_and_location(app: App) -> None:
    @app.get("/old")
    async def old() -> Redirect:
        return Redirect("/new")

    @app.get("/moved", status_code=308)
    async def moved() -> Redirect:
        return Redirect("/new", permanent=True)

    paths = app.openapi()["paths"]
    temporary = paths["/old"]["get"]["responses"]
    permanent = paths["/moved"]["get"]["responses"]

    assert "307" in temporary and "200" not in temporary
    assert temporary["307"]["headers"]["Location"]["schema"] == {"type": "string"}
    assert "308" in permanent
    assert permanent["308"]["headers"]["Location"]["schema"] == {"type": "string"}


# -- trailing slashes: which form a request is redirected to ------------------------


def slash_app(*paths: str) -> App:
    app = App()
    for path in paths:
        app.get(path)(next((h for key, h in ECHOES.items() if key in path), echo))
    return app


async def echo() -> str:
    return "found"


async def echo_id(id: str) -> str:
    return "found"


async def echo_rest(rest: str) -> str:
    return "found"


async def echo_name(name: str) -> str:
    return "found"


# A handler reads every placeholder of its path.
ECHOES = {"{id": echo_id, "{rest": echo_rest, "{name": echo_name}


@pytest.mark.parametrize(
    ("declared", "requested", "target"),
    [
        ("/todos", "/todos/", "/todos"),
        ("/todos/", "/todos", "/todos/"),
        ("/todos/{id}", "/todos/5/", "/todos/5"),
        ("/todos/{id}/", "/todos/5", "/todos/5/"),
        ("/files/{rest:path}", "/files", "/files/"),
    ],
)
def test_the_other_form_of_a_path_is_redirected_to(
    call_asgi: Callable[..., RawResponse], declared: str, requested: str, target: str
) -> None:
    response = call_asgi(slash_app(declared), "GET", requested)

    assert response.status == 308
    assert response.headers["location"] == target


@pytest.mark.parametrize(
    ("requested", "status"),
    [
        ("/", 200),
        ("//", 404),
        ("/todos//", 404),
        ("/other/", 404),
        ("//todos", 404),
        ("/todos/5/6/", 404),
    ],
)
def test_no_redirect_where_no_route_differs_by_a_slash(
    call_asgi: Callable[..., RawResponse], requested: str, status: int
) -> None:
    response = call_asgi(slash_app("/", "/todos", "/todos/{id}"), "GET", requested)

    assert response.status == status
    assert "location" not in response.headers


@pytest.mark.parametrize("requested", ["//evil.example/", "/\\evil.example/"])
def test_a_redirect_never_points_at_another_host(
    call_asgi: Callable[..., RawResponse], requested: str
) -> None:
    response = call_asgi(slash_app("/{name}"), "GET", requested)

    assert response.status == 404
    assert "location" not in response.headers


def test_the_redirect_is_a_308_keeping_the_query(call_asgi: Callable[..., RawResponse]) -> None:
    response = call_asgi(slash_app("/todos"), "GET", "/todos/", query_string=b"limit=5&q=a%20b")

    assert response.status == 308
    assert response.headers["location"] == "/todos?limit=5&q=a%20b"


def test_the_redirect_keeps_the_root_path_and_quotes_the_path(
    call_asgi: Callable[..., RawResponse],
) -> None:
    app = slash_app("/files/{name}")

    response = call_asgi(app, "GET", "/api/files/a b%/", root_path="/api")

    assert response.status == 308
    assert response.headers["location"] == "/api/files/a%20b%25"


def test_options_is_never_redirected(call_asgi: Callable[..., RawResponse]) -> None:
    response = call_asgi(slash_app("/todos"), "OPTIONS", "/todos/")

    assert response.status == 404
    assert "location" not in response.headers


# -- trailing slashes: through the app --------------------------------------------------


@pytest.fixture
def slashes(app: App, client: TestClient) -> Iterator[TestClient]:
    @app.get("/todos")
    async def list_todos() -> list[int]:
        return [1]

    @app.post("/todos")
    async def create_todo() -> int:
        return 2

    @app.get("/todos/{id}/")
    async def get_todo(id: int) -> int:
        return id

    @app.get("/both")
    async def both() -> str:
        return "no slash"

    @app.get("/both/")
    async def both_slash() -> str:
        return "slash"

    yield client


def test_a_missing_trailing_slash_is_redirected_with_308(slashes: TestClient) -> None:
    response = slashes.get("/todos/?limit=5", follow_redirects=False)

    assert response.status_code == 308
    assert response.headers["location"] == "/todos?limit=5"
    assert slashes.get("/todos/").json() == [1]


def test_an_extra_trailing_slash_is_redirected_on_dynamic_routes(slashes: TestClient) -> None:
    response = slashes.get("/todos/5", follow_redirects=False)

    assert response.status_code == 308
    assert response.headers["location"] == "/todos/5/"
    assert slashes.get("/todos/5").json() == 5


def test_the_redirect_keeps_the_method_and_the_body(slashes: TestClient) -> None:
    response = slashes.post("/todos/", json={"x": 1}, follow_redirects=False)

    assert response.status_code == 308
    assert slashes.post("/todos/", json={"x": 1}).json() == 2


def test_head_is_redirected_too(slashes: TestClient) -> None:
    response = slashes.head("/todos/", follow_redirects=False)

    assert response.status_code == 308
    assert response.content == b""


def test_a_preflight_is_not_redirected(slashes: TestClient) -> None:
    response = slashes.options(
        "/todos/",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "GET"},
        follow_redirects=False,
    )

    assert response.status_code == 404


def test_a_route_for_the_exact_path_wins(slashes: TestClient) -> None:
    assert slashes.get("/both", follow_redirects=False).json() == "no slash"
    assert slashes.get("/both/", follow_redirects=False).json() == "slash"


def test_a_path_with_no_other_form_is_still_a_404(slashes: TestClient) -> None:
    response = slashes.get("/nothing/", follow_redirects=False)

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_JSON


def test_a_mount_wins_over_the_redirect(app: App, client: TestClient, assets: Path) -> None:
    app.static("/static", assets)

    @app.get("/static/app.css/")
    async def odd() -> str:
        return "route"

    assert client.get("/static/app.css", follow_redirects=False).status_code == 200


# -- the chat example's page -------------------------------------------------------------


@pytest.fixture
def chat() -> Iterator[TestClient]:
    from bocadillo.testing import create_client
    from examples.chat.app import app as chat_app

    with create_client(chat_app) as test_client:
        yield test_client


def test_chat_page_is_html_linking_its_static_files(chat: TestClient) -> None:
    page = chat.get("/")

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert '<link rel="stylesheet" href="/static/chat.css">' in page.text
    assert '<script src="/static/chat.js"></script>' in page.text


def test_chat_page_lists_the_rooms_in_use(chat: TestClient) -> None:
    with chat.websocket_connect("/rooms/lobby") as ws:
        ws.send_json({"type": "join", "name": "<ada>"})
        ws.receive_json()
        page = chat.get("/").text

    assert "<code>lobby</code> (1)" in page


def test_chat_page_honours_the_root_path() -> None:
    from examples.chat.app import app as chat_app

    with TestClient(chat_app, root_path="/chat") as client:
        page = client.get("/chat/").text

    assert 'href="/chat/static/chat.css"' in page and 'data-root="/chat"' in page


def test_chat_static_files_are_served(chat: TestClient) -> None:
    script = chat.get("/static/chat.js")
    style = chat.get("/static/chat.css")

    assert script.status_code == 200 and "/rooms/" in script.text
    assert "javascript" in script.headers["content-type"]
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")


def test_chat_page_is_not_in_the_api_document(chat: TestClient) -> None:
    paths = chat.get("/openapi.json").json()["paths"]

    assert "/" not in paths and not any(p.startswith("/static") for p in paths)
