"""Templates and static files as Bocadillo 0.18 had them: ``render_string``, a
synchronous render, a dict context, the ``templates/`` folder beside the module,
and ``App(static=True)``."""

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from starlette.testclient import TestClient

from bocadillo import App, ConfigurationError, HTMLResponse, Templates


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def templates(tmp_path: Path) -> Templates:
    (tmp_path / "hello.html").write_text("<p>Hello, {{ name }}{{ mark }}</p>")
    (tmp_path / "page.html").write_text("{% include 'hello.html' %}|{{ name | shout }}")
    return Templates(tmp_path)


@pytest.fixture
def load_module(tmp_path: Path) -> Iterator[object]:
    """Import a module written in ``tmp_path`` (beside its templates/ or static/ folder)."""
    loaded: list[str] = []

    def load(source: str) -> ModuleType:
        name = f"boca_module_{len(loaded)}_{tmp_path.name}"
        file = tmp_path / f"{name}.py"
        file.write_text(source)
        spec = importlib.util.spec_from_file_location(name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


def test_render_string_renders_a_template_given_as_text(templates: Templates) -> None:
    assert templates.render_string("<h1>{{ title }}</h1>", title="Hi") == "<h1>Hi</h1>"


def test_render_string_escapes_values(templates: Templates) -> None:
    html = templates.render_string("<h1>{{ title }}</h1>", {"title": "<script>"})

    assert html == "<h1>&lt;script&gt;</h1>"


def test_render_string_includes_templates_of_the_directory(templates: Templates) -> None:
    html = templates.render_string("{% include 'hello.html' %}", name="ada", mark="!")

    assert html == "<p>Hello, ada!</p>"


def test_render_sync_renders_without_await(templates: Templates) -> None:
    assert templates.render_sync("hello.html", name="ada", mark="!") == "<p>Hello, ada!</p>"


def test_render_sync_takes_a_dict_context_and_keywords_win(templates: Templates) -> None:
    html = templates.render_sync("hello.html", {"name": "ada", "mark": "?"}, mark="!")

    assert html == "<p>Hello, ada!</p>"


def test_render_sync_uses_filters_added_after_the_templates_were_made(
    templates: Templates,
) -> None:
    templates.env.filters["shout"] = str.upper

    assert templates.render_sync("page.html", name="ada", mark="") == "<p>Hello, ada</p>|ADA"


def test_render_sync_runs_inside_a_sync_handler(templates: Templates) -> None:
    app = App()

    @app.get("/hello/{name}", include_in_schema=False)
    def hello(name: str) -> HTMLResponse:
        return HTMLResponse(templates.render_sync("hello.html", name=name, mark="."))

    assert TestClient(app).get("/hello/ada").text == "<p>Hello, ada.</p>"


@pytest.mark.anyio
async def test_render_takes_a_dict_context_positionally(templates: Templates) -> None:
    response = await templates.render("hello.html", {"name": "ada", "mark": "!"})

    assert response.body == b"<p>Hello, ada!</p>"


@pytest.mark.anyio
async def test_render_text_takes_a_dict_context(templates: Templates) -> None:
    text = await templates.render_text("hello.html", {"name": "ada"}, mark="!")

    assert text == "<p>Hello, ada!</p>"


def test_a_missing_template_in_render_sync_names_the_directories(
    templates: Templates, tmp_path: Path
) -> None:
    with pytest.raises(Exception, match=str(tmp_path)):
        templates.render_sync("nope.html")


def test_templates_without_a_directory_read_the_folder_beside_their_module(
    tmp_path: Path, load_module: object
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "index.html").write_text("home of {{ who }}")

    module = load_module(  # type: ignore[operator]
        "from bocadillo import Templates\ntemplates = Templates()\n"
    )

    assert module.templates.render_sync("index.html", who="ada") == "home of ada"


def test_templates_without_a_directory_and_no_folder_is_a_configuration_error(
    tmp_path: Path, load_module: object
) -> None:
    with pytest.raises(ConfigurationError, match=r"templates directory .*templates' does not"):
        load_module("from bocadillo import Templates\ntemplates = Templates()\n")  # type: ignore[operator]


def test_static_true_serves_the_static_folder_beside_the_app_module(
    tmp_path: Path, load_module: object
) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("body {}")

    module = load_module("from bocadillo import App\napp = App(static=True)\n")  # type: ignore[operator]
    response = TestClient(module.app).get("/static/app.css")

    assert response.status_code == 200
    assert response.text == "body {}"


def test_static_true_without_a_static_folder_serves_nothing(load_module: object) -> None:
    module = load_module("from bocadillo import App\napp = App(static=True)\n")  # type: ignore[operator]
    response = TestClient(module.app).get("/static/app.css")

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_static_names_another_folder_beside_the_app_module(
    tmp_path: Path, load_module: object
) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "logo.svg").write_text("<svg/>")

    module = load_module('from bocadillo import App\napp = App(static="assets")\n')  # type: ignore[operator]

    assert TestClient(module.app).get("/static/logo.svg").text == "<svg/>"


def test_a_static_folder_named_but_missing_is_a_configuration_error(
    load_module: object,
) -> None:
    with pytest.raises(ConfigurationError, match=r"App\(static='assets'\): directory .* does not"):
        load_module('from bocadillo import App\napp = App(static="assets")\n')  # type: ignore[operator]


def test_static_files_are_off_by_default(tmp_path: Path, load_module: object) -> None:
    (tmp_path / "static").mkdir()
    (tmp_path / "static" / "app.css").write_text("body {}")

    module = load_module("from bocadillo import App\napp = App()\n")  # type: ignore[operator]

    assert TestClient(module.app).get("/static/app.css").status_code == 404
