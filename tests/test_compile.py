"""The compiler, without an App: each signature rule and each start-up error.

A signature is compiled directly (``read_parameters`` for the rules, the
HTTP, SSE and WebSocket compilers for the route-level checks) against a
``ProviderGraph`` built from a ``ProviderRegistry`` filled here; the tests
assert where a parameter comes from, its wire name, whether it is required,
or the ``ConfigurationError`` message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable, Collection, Iterator
from typing import Annotated, Any

import pytest
import typesystem
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from bocadillo import (
    BackgroundTasks,
    ConfigurationError,
    Cookie,
    Event,
    File,
    Form,
    Header,
    Path,
    Query,
    Request,
    UploadFile,
    WebSocket,
)
from bocadillo.compile.http import compile_endpoint
from bocadillo.compile.parameters import SignatureParts, read_parameters
from bocadillo.compile.providers import ProviderGraph
from bocadillo.compile.sse import compile_sse
from bocadillo.compile.websockets import compile_websocket
from bocadillo.params import ParamSource
from bocadillo.providers import Provider, ProviderRegistry
from bocadillo.security import APIKeyHeader, HTTPBasic


class Item(BaseModel):
    name: str


class Other(BaseModel):
    size: int


class Tick(BaseModel):
    n: int


class Done(BaseModel):
    n: int


class Shape(TypedDict):
    name: str


class Opaque:
    """A class no schema backend knows."""


@dataclasses.dataclass
class HoldsOpaque:
    thing: Opaque


def registry(*providers: Provider) -> ProviderRegistry:
    found = ProviderRegistry()
    for item in providers:
        found.add(item)
    return found


def graph_of(*providers: Provider) -> ProviderGraph:
    found = registry(*providers)
    return ProviderGraph(found.get, found.names, found.autouse())


def read(
    func: Callable[..., Any],
    path_params: Collection[str] = (),
    providers: Collection[str] = (),
    **options: Any,
) -> SignatureParts:
    return read_parameters(
        func,
        where="handler",
        path_params=path_params,
        is_provider=lambda name: name in providers,
        provider_names=lambda: providers,
        **options,
    )


def endpoint_error(
    func: Callable[..., Any], path_params: Collection[str] = (), **options: Any
) -> str:
    with pytest.raises(ConfigurationError) as caught:
        compile_endpoint(
            func,
            path_params=path_params,
            status_code=None,
            max_body_size=1 << 20,
            graph=options.pop("graph", None) or graph_of(),
            app_values={},
            **options,
        )
    return str(caught.value)


def read_error(func: Callable[..., Any], **options: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        read(func, **options)
    return str(caught.value)


# -- the rules, in order ---------------------------------------------------------------


def test_an_explicit_marker_decides_the_source_and_its_alias_the_wire_name() -> None:
    def handler(q: int = Query(alias="Q"), token: Annotated[str, Header()] = "") -> None: ...

    query, header = read(handler).params
    assert (query.source, query.key, query.required) == (ParamSource.QUERY, "Q", True)
    assert (header.source, header.key, header.required) == (ParamSource.HEADER, "token", False)


def test_a_header_name_is_the_parameter_name_with_dashes_lowercased() -> None:
    def handler(x_request_id: str = Header(), given: str = Header(alias="X-Given")) -> None: ...

    assert [spec.key for spec in read(handler).params] == ["x-request-id", "x-given"]


def test_a_marker_wins_over_a_path_placeholder_of_the_same_name() -> None:
    def handler(item_id: int = Query()) -> None: ...

    (spec,) = read(handler, path_params=["item_id"]).params
    assert spec.source is ParamSource.QUERY


def test_a_name_in_the_path_is_a_required_path_parameter_and_a_string_when_unannotated() -> None:
    def handler(slug, page: int = 3) -> None:  # type: ignore[no-untyped-def]
        ...

    slug, page = read(handler, path_params=["slug", "page"]).params
    assert (slug.source, slug.key, slug.annotation) == (ParamSource.PATH, "slug", str)
    assert (page.source, page.required) == (ParamSource.PATH, True)


def test_a_path_name_wins_over_a_provider_of_the_same_name() -> None:
    def handler(user: str) -> None: ...

    parts = read(handler, path_params=["user"], providers=["user"])
    assert [spec.source for spec in parts.params] == [ParamSource.PATH]
    assert parts.providers == []


def test_a_provider_name_is_injected_even_when_annotated() -> None:
    def handler(db: int, request: Request) -> None: ...

    parts = read(handler, providers=["db", "request"])
    assert parts.providers == [("db", "db"), ("request", "request")]
    assert parts.params == [] and parts.request_arg is None


def test_framework_types_receive_the_request_the_websocket_and_the_tasks() -> None:
    def handler(req: Request, tasks: BackgroundTasks, ws: WebSocket[str, str]) -> None: ...

    parts = read(handler)
    assert parts.request_arg == "req"
    assert parts.background_arg == "tasks"
    assert parts.websocket_arg is not None and parts.websocket_arg[0] == "ws"
    assert parts.params == [] and parts.body is None


def test_an_implicit_header_is_read_without_a_marker_only_when_annotated() -> None:
    def annotated(last_event_id: str | None) -> None: ...

    def unannotated(last_event_id) -> None:  # type: ignore[no-untyped-def]
        ...

    (spec,) = read(annotated, implicit_headers=["last_event_id"]).params
    assert (spec.source, spec.key) == (ParamSource.HEADER, "last-event-id")
    assert "has no type annotation" in read_error(unannotated, implicit_headers=["last_event_id"])


def test_a_model_type_or_a_list_of_them_is_the_json_body() -> None:
    def one(item: Item) -> None: ...

    def many(items: list[Other] | None = None) -> None: ...

    body = read(one).body
    assert body is not None and (body.name, body.required) == ("item", True)
    body = read(many).body
    assert body is not None and (body.name, body.required) == ("items", False)


def test_an_annotated_scalar_or_list_of_scalars_is_a_query_parameter() -> None:
    def handler(limit: int = 10, tags: list[str] | None = None) -> None: ...

    limit, tags = read(handler).params
    assert (limit.source, limit.required, limit.default, limit.sequence) == (
        ParamSource.QUERY,
        False,
        10,
        False,
    )
    assert (tags.source, tags.sequence) == (ParamSource.QUERY, True)


def test_a_provider_parameter_gets_a_prefixed_field() -> None:
    def provider(page: int) -> int:
        return page

    (spec,) = read(provider, field_prefix="pager.", allow_body=False).params
    assert (spec.name, spec.field) == ("page", "pager.page")


def test_an_unannotated_parameter_that_is_nothing_else_suggests_the_closest_name() -> None:
    def handler(sesion) -> None:  # type: ignore[no-untyped-def]
        ...

    message = read_error(handler, providers=["session"], path_params=["id"])
    assert "parameter 'sesion' names no provider" in message
    assert "(path parameters: ['id'])" in message
    assert "Did you mean 'session'?" in message


def test_a_type_that_is_neither_body_nor_scalar_cannot_be_a_query_parameter() -> None:
    def handler(when: dict[str, int]) -> None: ...

    assert "cannot be read from a query string; mark it `= Body()`" in read_error(handler)


# -- reading the signature ---------------------------------------------------------------


def test_parameters_must_be_passable_by_name() -> None:
    def variadic(*args: int) -> None: ...

    def positional(a: int, /) -> None: ...

    assert "parameters must be passable by name" in read_error(variadic)
    assert "is positional-only" in read_error(positional)


def test_an_unresolvable_annotation_is_an_error() -> None:
    def handler(x: Missing) -> None:  # type: ignore[name-defined]  # noqa: F821
        ...

    assert "cannot resolve the type annotations" in read_error(handler)


def test_a_callable_without_a_signature_is_an_error() -> None:
    assert "cannot read the signature" in endpoint_error(iter)


def test_a_view_method_must_take_self() -> None:
    def get() -> None: ...

    assert "a view method must take `self`" in endpoint_error(get, view_class=object)


def test_two_markers_on_one_parameter_are_an_error() -> None:
    def handler(q: Annotated[int, Query()] = Query(1)) -> None: ...

    assert "has two markers (in Annotated and as default)" in read_error(handler)


def test_a_pydantic_field_as_default_asks_for_a_marker() -> None:
    def handler(q: int = Field(2)) -> None: ...

    assert "has a pydantic Field() as its default" in read_error(handler)


def test_two_requests_two_websockets_or_two_task_lists_are_errors() -> None:
    def requests(a: Request, b: Request) -> None: ...

    def sockets(a: WebSocket[str, str], b: WebSocket[str, str]) -> None: ...

    def tasks(a: BackgroundTasks, b: BackgroundTasks) -> None: ...

    assert "two parameters ask for the Request" in read_error(requests)
    assert "two parameters ask for the WebSocket" in read_error(sockets)
    assert "two parameters ask for BackgroundTasks" in read_error(tasks)


# -- parameter specs -----------------------------------------------------------------------


def test_a_path_marker_needs_a_placeholder() -> None:
    def handler(item: int = Path(alias="item_id")) -> None: ...

    message = read_error(handler, path_params=["id"])
    assert "is marked Path() but the path has no {item_id} placeholder" in message


def test_a_path_or_cookie_parameter_holds_one_value() -> None:
    def path(ids: list[int]) -> None: ...

    def cookie(ids: list[int] = Cookie()) -> None: ...

    assert "a path parameter holds one value" in read_error(path, path_params=["ids"])
    assert "a cookie parameter holds one value" in read_error(cookie)


def test_a_header_of_a_model_type_is_an_error() -> None:
    def handler(meta: Item = Header()) -> None: ...

    assert "cannot be read from a header parameter" in read_error(handler)


def test_a_security_parameter_is_a_credential_on_its_wire_name() -> None:
    def handler(key: Annotated[str | None, APIKeyHeader("X-API-Key")] = None) -> None: ...

    (spec,) = read(handler).params
    assert (spec.source, spec.key, spec.required) == (ParamSource.HEADER, "x-api-key", False)
    assert spec.security is not None


def test_a_security_parameter_of_the_wrong_type_is_an_error() -> None:
    def api_key(key: Annotated[int, APIKeyHeader("X-API-Key")]) -> None: ...

    def basic(creds: Annotated[str, HTTPBasic()]) -> None: ...

    assert "parameter 'key': APIKeyHeader gives a str, not" in read_error(api_key)
    assert "HTTPBasic gives a BasicCredentials" in read_error(basic)


def test_a_body_that_cannot_be_validated_is_an_error() -> None:
    def handler(data: HoldsOpaque) -> None: ...

    assert "parameter 'data': cannot validate" in read_error(handler)


# -- providers cannot read bodies, forms or tasks ------------------------------------------


def test_a_provider_cannot_read_the_body_the_form_or_take_background_tasks() -> None:
    def body(item: Item) -> None: ...

    def form(name: str = Form()) -> None: ...

    def tasks(tasks: BackgroundTasks) -> None: ...

    assert "reads the request body; a provider cannot" in read_error(body, allow_body=False)
    assert "reads the request form; a provider cannot" in read_error(form, allow_body=False)
    assert "asks for BackgroundTasks; a provider cannot" in read_error(tasks, allow_body=False)


# -- forms ---------------------------------------------------------------------------------


def test_form_fields_files_and_a_model_are_read_from_the_form() -> None:
    def handler(
        title: str = Form(alias="t"),
        photo: UploadFile = File(),
        extra: list[bytes] | None = File(None),
    ) -> None: ...

    entries = [entry for entry, _ in read(handler).form]
    assert [(e.name, e.key, e.required) for e in entries] == [  # type: ignore[union-attr]
        ("title", "t", True),
        ("photo", "photo", True),
        ("extra", "extra", False),
    ]


def test_a_form_parameter_needs_a_type() -> None:
    def handler(name=Form()) -> None:  # type: ignore[no-untyped-def]
        ...

    assert "form parameter 'name' needs a type" in read_error(handler)


def test_a_file_marker_needs_an_upload_or_bytes() -> None:
    def handler(photo: str = File()) -> None: ...

    assert "File() gives an UploadFile, bytes, or a list of them" in read_error(handler)


def test_an_uploaded_file_marked_form_asks_for_file() -> None:
    def handler(photo: UploadFile = Form()) -> None: ...

    assert "mark an uploaded file with File(), not Form()" in read_error(handler)


def test_a_form_field_of_a_non_scalar_type_is_an_error() -> None:
    def handler(meta: dict[str, int] = Form()) -> None: ...

    assert "cannot be read from a form field" in read_error(handler)


def test_a_form_model_is_a_pydantic_model_or_a_dataclass() -> None:
    def handler(data: Shape = Form()) -> None: ...

    assert "a form is read into a pydantic model or a dataclass" in read_error(handler)


def test_a_form_model_that_cannot_be_validated_is_an_error() -> None:
    def handler(data: HoldsOpaque = Form()) -> None: ...

    assert "parameter 'data': cannot validate" in read_error(handler)


def test_a_json_body_and_a_form_cannot_be_read_together() -> None:
    def handler(item: Item, name: str = Form()) -> None: ...

    assert "reads a JSON body and 'name' a form; a request has one body" in endpoint_error(handler)


def test_two_form_models_are_an_error() -> None:
    def handler(a: Item = Form(), b: Other = Form()) -> None: ...

    assert "both read the form into a model" in endpoint_error(handler)


# -- the HTTP compiler ---------------------------------------------------------------------


def test_an_http_handler_cannot_take_a_websocket() -> None:
    def handler(ws: WebSocket[str, str]) -> None: ...

    assert "an HTTP handler cannot take a WebSocket" in endpoint_error(handler)


def test_a_return_type_that_cannot_be_serialized_is_an_error() -> None:
    def handler() -> HoldsOpaque: ...

    assert "cannot serialize the return type" in endpoint_error(handler)


# -- the provider graph ----------------------------------------------------------------------


def test_request_providers_run_once_each_dependencies_first() -> None:
    def db() -> str:
        return "db"

    def repo(db: str) -> str:
        return db

    def service(repo: str, db: str) -> str:
        return repo + db

    graph = graph_of(
        Provider(db, name="db"), Provider(repo, name="repo"), Provider(service, name="service")
    )
    route = graph.resolve_route([("svc", "service")], path_params=(), where="handler")
    assert [step.name for step in route.steps] == ["db", "repo", "service"]
    assert [arg.arg for arg in route.handler_args] == ["svc"]


def test_request_data_read_by_a_provider_joins_the_route() -> None:
    def pager(page: int = 1) -> int:
        return page

    graph = graph_of(Provider(pager, name="pager"))
    route = graph.resolve_route([("pager", "pager")], path_params=(), where="handler")
    assert [(spec.field, spec.key, spec.required) for spec in route.params] == [
        ("pager.page", "page", False)
    ]


def test_providers_that_depend_on_each_other_are_an_error() -> None:
    def a(b: int) -> int:
        return b

    def b(a: int) -> int:
        return a

    graph = graph_of(Provider(a, name="a"), Provider(b, name="b"))
    with pytest.raises(ConfigurationError, match="providers depend on each other: a -> b -> a"):
        graph.resolve_route([("a", "a")], path_params=(), where="handler")


def test_app_providers_that_depend_on_each_other_are_an_error() -> None:
    def a(b: int) -> int:
        return b

    def b(a: int) -> int:
        return a

    graph = graph_of(Provider(a, name="a", scope="app"), Provider(b, name="b", scope="app"))
    with pytest.raises(ConfigurationError, match="providers depend on each other: a -> b -> a"):
        graph.resolve_route([("a", "a")], path_params=(), where="handler")


def test_an_unknown_provider_name_is_an_unannotated_parameter_error() -> None:
    def handler(sesion) -> None:  # type: ignore[no-untyped-def]
        ...

    def session() -> str:
        return "s"

    message = endpoint_error(handler, graph=graph_of(Provider(session, name="session")))
    assert "Did you mean 'session'?" in message


def test_an_app_provider_cannot_read_request_data() -> None:
    def settings(debug: bool = False) -> bool:
        return debug

    graph = graph_of(Provider(settings, name="settings", scope="app"))
    with pytest.raises(ConfigurationError, match="reads request data \\(parameter 'debug'\\)"):
        graph.resolve_route([("settings", "settings")], path_params=(), where="handler")


def test_an_app_provider_cannot_take_the_request() -> None:
    def client(request: Request) -> str:
        return "c"

    graph = graph_of(Provider(client, name="client", scope="app"))
    with pytest.raises(ConfigurationError, match="reads request data \\(parameter 'request'\\)"):
        graph.resolve_route([("client", "client")], path_params=(), where="handler")


def test_an_app_provider_cannot_depend_on_a_request_provider() -> None:
    def user() -> str:
        return "u"

    def cache(user: str) -> str:
        return user

    graph = graph_of(Provider(user, name="user"), Provider(cache, name="cache", scope="app"))
    with pytest.raises(
        ConfigurationError,
        match="app-scoped provider 'cache' depends on request-scoped provider 'user' "
        "\\(cache -> user\\)",
    ):
        graph.resolve_route([("cache", "cache")], path_params=(), where="handler")


def test_app_providers_are_made_once_at_start_up_dependencies_first() -> None:
    def config() -> dict[str, str]:
        return {}

    def pool(config: dict[str, str]) -> Iterator[str]:
        yield "pool"

    graph = graph_of(
        Provider(config, name="config", scope="app"), Provider(pool, name="pool", scope="app")
    )
    route = graph.resolve_route([("pool", "pool")], path_params=(), where="handler")
    assert route.steps == []
    assert route.handler_args[0].from_app
    assert [node.provider.name for node in route.app_nodes] == ["config", "pool"]


def test_an_autouse_app_provider_is_checked_at_start_up() -> None:
    def client(request: Request) -> str:
        return "c"

    graph = graph_of(Provider(client, name="client", scope="app", autouse=True))
    with pytest.raises(ConfigurationError, match=r"app-scoped provider 'client' in .* reads"):
        graph.resolve_app_autouse()


def test_autouse_providers_join_every_route_unless_left_out() -> None:
    def audit() -> None:
        return None

    graph = graph_of(Provider(audit, name="audit", autouse=True))
    assert [s.name for s in graph.resolve_route([], path_params=(), where="h").steps] == ["audit"]
    assert graph.resolve_route([], path_params=(), where="h", autouse=False).steps == []


# -- the SSE compiler ------------------------------------------------------------------------


def sse_error(func: Callable[..., Any], **options: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        compile_sse(func, path_params=(), graph=graph_of(), app_values={}, **options)
    return str(caught.value)


async def ticks() -> AsyncIterator[Tick]:
    yield Tick(n=1)


def test_an_sse_handler_is_an_async_generator_with_a_positive_keepalive() -> None:
    async def not_a_generator() -> AsyncIterator[Tick]: ...

    assert "an SSE handler is an async generator" in sse_error(not_a_generator)
    assert "keepalive is a number of seconds above 0" in sse_error(ticks, keepalive=0)
    assert "keepalive is a number of seconds above 0" in sse_error(ticks, keepalive=True)


def test_an_sse_handler_declares_its_events_in_its_return_annotation() -> None:
    async def none():  # type: ignore[no-untyped-def]
        yield Tick(n=1)

    async def not_an_iterator() -> list[Tick]:  # type: ignore[misc]
        yield Tick(n=1)

    async def bare_event() -> AsyncIterator[Event]:  # type: ignore[type-arg]
        yield Event(Tick(n=1))

    assert "declares its events in its return annotation" in sse_error(none)
    assert "`-> AsyncIterator[Tick | Done]`; got" in sse_error(not_an_iterator)
    assert "Event needs its data type" in sse_error(bare_event)


def test_sse_event_types_are_classes_that_can_be_serialized() -> None:
    async def a_dict() -> AsyncIterator[dict[str, int]]:
        yield {}

    async def opaque() -> AsyncIterator[Opaque]:
        yield Opaque()

    assert "SSE event types are classes" in sse_error(a_dict)
    assert "cannot serialize the event" in sse_error(opaque)


def test_sse_event_names_are_single_line_unique_and_declared() -> None:
    async def both() -> AsyncIterator[Tick | Done]:
        yield Tick(n=1)

    assert "must be a non-empty string without line breaks" in sse_error(
        ticks, event_names={Tick: "a\nb"}
    )
    assert "are both named 'same'" in sse_error(both, event_names={Tick: "same", Done: "same"})
    assert "event_names names Done, which the return annotation does not declare" in sse_error(
        ticks, event_names={Done: "done"}
    )


def test_an_sse_handler_reads_no_body_and_no_websocket() -> None:
    async def body(item: Item) -> AsyncIterator[Tick]:
        yield Tick(n=1)

    async def socket(ws: WebSocket[str, str]) -> AsyncIterator[Tick]:
        yield Tick(n=1)

    assert "an SSE route is a GET and has none" in sse_error(body)
    assert "an SSE handler cannot take a WebSocket" in sse_error(socket)


def test_an_optional_last_event_id_is_not_required() -> None:
    async def resume(last_event_id: str | None) -> AsyncIterator[Tick]:
        yield Tick(n=1)

    async def must(last_event_id: str) -> AsyncIterator[Tick]:
        yield Tick(n=1)

    plan = compile_sse(resume, path_params=(), graph=graph_of(), app_values={})
    (spec,) = [p for p in plan.params if p.name == "last_event_id"]
    assert (spec.key, spec.required, spec.default) == ("last-event-id", False, None)
    plan = compile_sse(must, path_params=(), graph=graph_of(), app_values={})
    assert [p.required for p in plan.params if p.name == "last_event_id"] == [True]


# -- the WebSocket compiler ------------------------------------------------------------------


def websocket_error(func: Callable[..., Any], **options: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        compile_websocket(func, path_params=(), graph=graph_of(), app_values={}, **options)
    return str(caught.value)


async def echo(ws: WebSocket[str, str]) -> None: ...


def test_a_websocket_handler_is_async_with_a_known_invalid_message_policy() -> None:
    def sync(ws: WebSocket[str, str]) -> None: ...

    assert "a WebSocket handler must be an `async def`" in websocket_error(sync)
    assert "invalid_message is 'close' or 'reply'" in websocket_error(
        echo, invalid_message="ignore"
    )


def test_a_websocket_handler_takes_a_typed_websocket_and_no_request() -> None:
    async def none() -> None: ...

    async def untyped(ws: WebSocket) -> None:  # type: ignore[type-arg]
        ...

    async def request(ws: WebSocket[str, str], request: Request) -> None: ...

    assert "takes a `ws: WebSocket[In, Out]` parameter" in websocket_error(none)
    assert "declare the messages, WebSocket[In, Out]" in websocket_error(untyped)
    assert "a WebSocket handler has no Request" in websocket_error(request)


def test_a_websocket_handler_reads_no_body() -> None:
    async def body(ws: WebSocket[str, str], item: Item) -> None: ...

    assert "reads the request body" in websocket_error(body)


def test_a_websocket_handler_reads_path_and_query_parameters() -> None:
    async def room(ws: WebSocket[str, str], name: str, limit: int = 5) -> None: ...

    plan = compile_websocket(room, path_params=["name"], graph=graph_of(), app_values={})
    assert [(p.name, p.source, p.required) for p in plan.params] == [
        ("name", ParamSource.PATH, True),
        ("limit", ParamSource.QUERY, False),
    ]


# -- types the plans cannot validate ---------------------------------------------------------

TAG = typesystem.String(max_length=5)


def test_constraints_on_another_backends_type_are_an_error() -> None:
    def handler(tag: TAG = Query(min_length=1)) -> None:  # type: ignore[valid-type]
        ...

    message = read_error(handler)
    assert "constraints ['min_length'] apply to pydantic types; declare them on the String" in (
        message
    )


def test_a_parameter_type_pydantic_cannot_validate_is_an_error() -> None:
    def handler(thing: Opaque = Query()) -> None: ...

    async def stream(thing: Opaque = Query()) -> AsyncIterator[Tick]:
        yield Tick(n=1)

    assert "cannot validate the parameters" in endpoint_error(handler)
    assert "cannot validate the parameters" in sse_error(stream)


def test_a_form_field_type_pydantic_cannot_validate_is_an_error() -> None:
    def handler(thing: Opaque = Form()) -> None: ...

    assert "cannot validate the form" in endpoint_error(handler)


def test_websocket_messages_that_cannot_be_validated_are_an_error() -> None:
    async def handler(ws: WebSocket[Opaque, str]) -> None: ...

    assert "cannot use the declared messages" in websocket_error(handler)
