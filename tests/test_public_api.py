"""The names ``bocadillo``, ``bocadillo.testing`` and ``bocadillo.sqlalchemy`` export: pinned,
with their signatures.

The tables below are the public API as a user imports and calls it. A change to one of them
is a change to the API: make it on purpose, here, in the same commit.
"""

import inspect
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

import bocadillo
import bocadillo.sqlalchemy
import bocadillo.testing

SIGNATURES = {
    "CORS": (
        "(self, allow_origins: Sequence[str] = (), allow_methods: Sequence[str] = ('*',), "
        "allow_headers: Sequence[str] = (), allow_credentials: bool = False, "
        "expose_headers: Sequence[str] = (), max_age: int = 600, "
        "allow_origin_regex: str | None = None) -> None"
    ),
    "APIKeyCookie": (
        "(self, name: str, *, scheme_name: str | None = None, "
        "description: str | None = None) -> None"
    ),
    "APIKeyHeader": (
        "(self, name: str, *, scheme_name: str | None = None, "
        "description: str | None = None) -> None"
    ),
    "APIKeyQuery": (
        "(self, name: str, *, scheme_name: str | None = None, "
        "description: str | None = None) -> None"
    ),
    "App": (
        "(self, *, title: str = 'Bocadillo', version: str = '0.1.0', "
        "description: str | None = None, max_body_size: int = 1048576, "
        "before: Sequence[Callable[..., Any] | RouteHook] = (), "
        "after: Sequence[Callable[..., Any] | RouteHook] = (), "
        "on_startup: Sequence[Hook] = (), on_shutdown: Sequence[Hook] = (), "
        "lifespan: Lifespan | None = None, exception_handlers: Mapping[type[BaseException], "
        "ExceptionHandler] | None = None, error_format: ErrorFormat = ProblemDetails(), "
        "servers: Sequence[Mapping[str, "
        "Any]] | None = None, openapi_url: str | None = '/openapi.json', "
        "openapi_version: OpenAPIVersion = '3.1.0', docs_url: str | None = '/docs', "
        "asyncapi_url: str | None = '/asyncapi.json', cors: CORS | Mapping[str, "
        "Any] | None = None, gzip: bool | GZip = False, "
        "allowed_hosts: Sequence[str] | None = None, https_redirect: bool = False, "
        "hsts: bool | int = False, sessions: Sessions | Mapping[str, Any] | None = None, "
        "broadcast: str | Backend | None = None, "
        "responses: Mapping[int, Any] | None = None, "
        "websocket_origins: Sequence[str] | None = None, "
        "static: bool | str | os.PathLike[str] = False, "
        "plugins: Sequence[PluginEntry[App]] = (), telemetry: Telemetry | bool = False) -> None"
    ),
    "BackgroundTasks": "(self, tasks: Sequence[BackgroundTask] | None = None)",
    "BasicCredentials": "(self, username: str, password: str) -> None",
    "Body": (
        "(default: Any = <unset>, *, embed: bool = False, alias: str | None = None, "
        "title: str | None = None, description: str | None = None, "
        "examples: list[Any] | None = None) -> Any"
    ),
    "BroadcastUnavailable": "(self, cause: BaseException) -> None",
    "Channel": (
        "(self, app: Any, name: str, message_type: Any, *, max_queue: int = 100, "
        "overflow: Overflow = 'drop_oldest', adapter: SchemaAdapter | None = None) -> None"
    ),
    "ClientDisconnect": "(self, /, *args, **kwargs)",
    "ConfigurationError": "(self, /, *args, **kwargs)",
    "Cookie": (
        "(default: Any = <unset>, *, alias: str | None = None, title: str | None = None, "
        "description: str | None = None, examples: list[Any] | None = None, "
        "deprecated: bool = False, include_in_schema: bool = True, gt: float | None = None, "
        "ge: float | None = None, lt: float | None = None, le: float | None = None, "
        "min_length: int | None = None, max_length: int | None = None, "
        "pattern: str | None = None) -> Any"
    ),
    "ErrorFormat": "(self, /, *args, **kwargs)",
    "Event": (
        "(self, data: T, *, id: str | int | None = None, event: str | None = None, "
        "retry: int | None = None) -> None"
    ),
    "File": (
        "(default: Any = <unset>, *, alias: str | None = None, title: str | None = None, "
        "description: str | None = None, max_files: int | None = None, "
        "max_part_size: int | None = None, max_fields: int | None = None) -> Any"
    ),
    "FileResponse": (
        "(self, path: str | os.PathLike[str], *, attachment: bool | str = False, "
        "status_code: int = 200, headers: Mapping[str, str] | None = None, "
        "media_type: str | None = None, background: BackgroundTask | None = None) -> None"
    ),
    "Form": (
        "(default: Any = <unset>, *, alias: str | None = None, title: str | None = None, "
        "description: str | None = None, examples: list[Any] | None = None, "
        "gt: float | None = None, ge: float | None = None, lt: float | None = None, "
        "le: float | None = None, multiple_of: float | None = None, "
        "min_length: int | None = None, max_length: int | None = None, "
        "pattern: str | None = None, max_fields: int | None = None, "
        "max_part_size: int | None = None) -> Any"
    ),
    "GZip": "(self, minimum_size: int = 500, compresslevel: int = 9) -> None",
    "HTMLResponse": (
        "(self, content: Any = None, status_code: int = 200, headers: Mapping[str, "
        "str] | None = None, media_type: str | None = None, "
        "background: BackgroundTask | None = None) -> None"
    ),
    "HTTPBasic": (
        "(self, *, realm: str = 'api', scheme_name: str = 'basic', "
        "description: str | None = None) -> None"
    ),
    "HTTPBearer": (
        "(self, *, scheme: str = 'Bearer', bearer_format: str | None = None, "
        "scheme_name: str | None = None, description: str | None = None) -> None"
    ),
    "HTTPError": (
        "(self, status_code: int, detail: str | None = None, *, headers: Mapping[str, "
        "str] | None = None, title: str | None = None, type: str = 'about:blank', "
        "extensions: Mapping[str, Any] | None = None) -> None"
    ),
    "Header": (
        "(default: Any = <unset>, *, alias: str | None = None, title: str | None = None, "
        "description: str | None = None, examples: list[Any] | None = None, "
        "deprecated: bool = False, include_in_schema: bool = True, gt: float | None = None, "
        "ge: float | None = None, lt: float | None = None, le: float | None = None, "
        "min_length: int | None = None, max_length: int | None = None, "
        "pattern: str | None = None) -> Any"
    ),
    "JSONResponse": (
        "(self, content: Any = None, status_code: int = 200, headers: Mapping[str, "
        "str] | None = None, media_type: str | None = None, "
        "background: BackgroundTask | None = None) -> None"
    ),
    "Lazy": (
        "(self, kind: ProviderKind, func: Any, kwargs: dict[str, Any], exits: list[Any]) -> None"
    ),
    "MalformedInput": "(self, /, *args, **kwargs)",
    "OAuth2PasswordBearer": (
        "(self, token_url: str, *, scopes: dict[str, str] | None = None, "
        "scheme_name: str = 'oauth2', description: str | None = None) -> None"
    ),
    "Path": (
        "(default: Any = <unset>, *, alias: str | None = None, title: str | None = None, "
        "description: str | None = None, examples: list[Any] | None = None, "
        "deprecated: bool = False, gt: float | None = None, ge: float | None = None, "
        "lt: float | None = None, le: float | None = None, min_length: int | None = None, "
        "max_length: int | None = None, pattern: str | None = None) -> Any"
    ),
    "PlainTextResponse": (
        "(self, content: Any = None, status_code: int = 200, headers: Mapping[str, "
        "str] | None = None, media_type: str | None = None, "
        "background: BackgroundTask | None = None) -> None"
    ),
    "ProblemDetails": "(self, /, *args, **kwargs)",
    "Query": (
        "(default: Any = <unset>, *, alias: str | None = None, title: str | None = None, "
        "description: str | None = None, examples: list[Any] | None = None, "
        "deprecated: bool = False, include_in_schema: bool = True, gt: float | None = None, "
        "ge: float | None = None, lt: float | None = None, le: float | None = None, "
        "multiple_of: float | None = None, min_length: int | None = None, "
        "max_length: int | None = None, pattern: str | None = None) -> Any"
    ),
    "Redirect": (
        "(self, url: str, permanent: bool = False, *, headers: Mapping[str, "
        "str] | None = None) -> None"
    ),
    "RedirectResponse": (
        "(self, url: str | URL, status_code: int = 307, headers: Mapping[str, "
        "str] | None = None, background: BackgroundTask | None = None) -> None"
    ),
    "Request": (
        "(self, scope: Scope, receive: Receive = <function empty_receive>, "
        "send: Send = <function empty_send>)"
    ),
    "RequestValidationError": (
        "(self, errors: Sequence[Mapping[str, Any]], *, status_code: int = 422, "
        "detail: str = 'The request did not match the expected parameters or body.') -> None"
    ),
    "Response": (
        "(self, content: Any = None, status_code: int = 200, headers: Mapping[str, "
        "str] | None = None, media_type: str | None = None, "
        "background: BackgroundTask | None = None) -> None"
    ),
    "Router": (
        "(self, prefix: str = '', *, tags: Sequence[str] | None = None, "
        "responses: Mapping[int, Any] | None = None, "
        "before: Sequence[Callable[..., Any] | Hook] = (), "
        "after: Sequence[Callable[..., Any] | Hook] = ()) -> None"
    ),
    "SchemaAdapter": "(self, *args, **kwargs)",
    "SchemaValidationError": "(self, errors: list[dict[str, Any]]) -> None",
    "Sessions": (
        "(self, secret_key: str, cookie_name: str = 'session', "
        "max_age: int | None = 1209600, same_site: Literal['lax', 'strict', 'none'] = 'lax', "
        "https_only: bool = False, path: str = '/', domain: str | None = None) -> None"
    ),
    "SlowSubscriber": "(self, channel: str, max_queue: int) -> None",
    "StreamingResponse": (
        "(self, content: ContentStream, status_code: int = 200, headers: Mapping[str, "
        "str] | None = None, media_type: str | None = None, "
        "background: BackgroundTask | None = None) -> None"
    ),
    "Subscription": "(self, channel: Channel[T]) -> None",
    "Telemetry": (
        "(self, *, tracer_provider: Any = None, meter_provider: Any = None, "
        "traces: bool = True, metrics: bool = True, provider_spans: bool = False, "
        "access_log: AccessLog | None = 'text', request_id_header: str | None = "
        "'X-Request-ID', prometheus_path: str | None = None) -> None"
    ),
    "Templates": (
        "(self, directory: TemplateDirectory | Sequence[TemplateDirectory] | None = None, *, "
        "auto_reload: bool = True, **env_options: Any) -> None"
    ),
    "UndeclaredEvent": "(self, /, *args, **kwargs)",
    "UploadFile": (
        "(self, file: BinaryIO, *, size: int | None = None, filename: str | None = None, "
        "headers: Headers | None = None) -> None"
    ),
    "WebSocket": (
        "(self, websocket: StarletteWebSocket, plan: WebSocketPlan, receive: Any, "
        "send: Any) -> None"
    ),
    "WebSocketDisconnect": "(self, code: int = 1000, reason: str | None = None) -> None",
    "after": "(hook: Callable[..., Any], *, raises: Mapping[int, str] | None = None) -> Hook",
    "attachment": "(filename: str) -> dict[str, str]",
    "before": "(hook: Callable[..., Any], *, raises: Mapping[int, str] | None = None) -> Hook",
    "discover_providers": "(module: str) -> ModuleType",
    "provider": (
        "(func: F | None = None, /, *, scope: ProviderScope = 'request', "
        "name: str | None = None, autouse: bool = False, raises: Mapping[int, "
        "str] | None = None, lazy: bool = False) -> F | Callable[[F], F]"
    ),
    "register_backend": (
        "(backend: Backend, *, is_model: Callable[[Any], bool] = <function _never>) -> None"
    ),
    "useprovider": "(*providers: str | Callable[..., Any]) -> Callable[[F], F]",
}
TESTING_SIGNATURES = {
    "Client": (
        "(self, app: App, *, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> None"
    ),
    "ContractFailure": (
        "(self, operation: str, check: str, title: str, message: str, reproduce: str) -> None"
    ),
    "ContractReport": (
        "(self, rows: list[OperationRow] = <factory>, "
        "failures: list[ContractFailure] = <factory>, errors: list[str] = <factory>) -> None"
    ),
    "EventStream": (
        "(self, client: TestClient, path: str, *, params: Any = None, headers: Mapping[str, "
        "str] | None = None, max_events: int | None = None, timeout: float = 10.0, "
        "close_timeout: float = 5.0, data_type: type[T] | None = None) -> None"
    ),
    "LiveServer": (
        "(self, app: ASGIApp, *, host: str = '127.0.0.1', port: int = 0, "
        "start_timeout: float = 10.0, **kwargs: Any) -> None"
    ),
    "ServerSentEvent": (
        "(self, event: str, data: T, text: str, id: str | None = None, "
        "retry: int | None = None) -> None"
    ),
    "contract_test": (
        "(app: App, *, max_examples: int = 25, checks: str | Sequence[str] = 'all', "
        "stateful: bool = True, websockets: bool = True, "
        "seed: int | None = 2025) -> Callable[[], None]"
    ),
    "create_client": (
        "(app: App, *, overrides: Mapping[str, Any] | None = None, **kwargs: Any) -> Client"
    ),
    "fuzz_websockets": (
        "(app: App, path: str | None = None, *, max_examples: int = 50, "
        "max_messages: int = 10, path_params: Mapping[str, Any] | None = None, "
        "query: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None, "
        "timeout: float = 1.0, seed: int | None = None) -> dict[str, int]"
    ),
    "isolated_providers": "() -> Iterator[None]",
    "run_contract": (
        "(app: App, *, max_examples: int = 25, checks: str | Sequence[str] = 'all', "
        "stateful: bool = True, websockets: bool = True, "
        "seed: int | None = 2025) -> ContractReport"
    ),
}


class AnnotationText:
    """An annotation shown as written, whether the module postpones annotations or not."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def shown(annotation: Any) -> Any:
    if annotation is inspect.Parameter.empty:
        return annotation
    if isinstance(annotation, str):
        return AnnotationText(annotation)
    return AnnotationText(inspect.formatannotation(annotation))


# bocadillo.sqlalchemy, the optional `sqlalchemy` extra.
SQLALCHEMY_SIGNATURES = {
    "Database": (
        "(self, url: str | URL, *, env: str | None = 'DATABASE_URL', engine: str = 'engine', "
        "session: str = 'session', engine_options: Mapping[str, Any] | None = None, "
        "retry_after: int = 1, busy_timeout: int = 5000) -> None"
    ),
    "begin_write": "(session: AsyncSession | AsyncConnection) -> None",
    "database_error": "(exc: SQLAlchemyError, *, retry_after: int = 1) -> HTTPError",
}


def signature_text(obj: Callable[..., Any]) -> str:
    """``str(inspect.signature(...))`` of a function, or of a class's ``__init__``."""
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    signature = signature.replace(
        parameters=[
            parameter.replace(annotation=shown(parameter.annotation))
            for parameter in signature.parameters.values()
        ],
        return_annotation=shown(signature.return_annotation),
    )
    # A function default prints with its address, which changes on every run.
    return re.sub(r" at 0x[0-9a-f]+>", ">", str(signature))


def test_all_lists_exactly_the_public_names() -> None:
    assert bocadillo.__all__ == list(SIGNATURES)


def test_testing_all_lists_exactly_its_public_names() -> None:
    assert bocadillo.testing.__all__ == list(TESTING_SIGNATURES)


def test_sqlalchemy_all_lists_exactly_its_public_names() -> None:
    assert bocadillo.sqlalchemy.__all__ == list(SQLALCHEMY_SIGNATURES)


CASES = (
    [(bocadillo, name, text) for name, text in SIGNATURES.items()]
    + [(bocadillo.testing, name, text) for name, text in TESTING_SIGNATURES.items()]
    + [(bocadillo.sqlalchemy, name, text) for name, text in SQLALCHEMY_SIGNATURES.items()]
)


@pytest.mark.parametrize(
    ("module", "name", "expected"), CASES, ids=[f"{m.__name__}.{n}" for m, n, _ in CASES]
)
def test_public_name_keeps_its_signature(module: ModuleType, name: str, expected: str) -> None:
    assert signature_text(getattr(module, name)) == expected


@pytest.mark.parametrize(
    ("module", "name"),
    [(module, name) for module, name, _ in CASES],
    ids=[f"{m.__name__}.{n}" for m, n, _ in CASES],
)
def test_public_name_has_its_own_docstring(module: ModuleType, name: str) -> None:
    # __doc__ itself, not inspect.getdoc: a class must not borrow its base's text.
    doc = getattr(module, name).__doc__
    assert doc is not None
    assert doc.strip()


# Methods that 0.18 users relied on, added or widened: WebSockets, SSE headers, routes, templates.
METHOD_SIGNATURES = {
    "WebSocket.reject": (
        "(self, status_code: int = 403, detail: str | None = None, *, "
        "headers: Mapping[str, str] | None = None) -> None"
    ),
    "WebSocket.__aenter__": "(self) -> WebSocket[In, Out]",
    "WebSocket.__aexit__": (
        "(self, exc_type: type[BaseException] | None, exc: BaseException | None, "
        "traceback: TracebackType | None) -> bool"
    ),
    "Router.websocket": (
        "(self, path: str, *, auto_accept: bool = True, max_message_size: int = 65536, "
        "invalid_message: Literal['close', 'reply'] = 'close', "
        "caught_close_codes: Literal['all'] | Collection[int] = 'all', "
        "**options: Unpack[WebSocketRouteOptions]) -> Callable[[F], F]"
    ),
    "Router.sse": (
        "(self, path: str, *, keepalive: float | None = 15.0, "
        "event_names: Mapping[Any, str] | None = None, "
        "headers: Mapping[str, str] | None = None, "
        "**options: Unpack[SSERouteOptions]) -> Callable[[F], F]"
    ),
    "Router.route": (
        "(self, path: str, *, methods: Methods = ('GET',), "
        "**options: Unpack[RouteOptions]) -> Callable[[F], F]"
    ),
    "Router.mount": (
        "(self, path: str, app: ASGIApp | WSGIApp, *, name: str | None = None) -> None"
    ),
    "Templates.render": (
        "(self, name: str, /, context: Mapping[str, Any] | None = None, *, "
        "status_code: int = 200, headers: Mapping[str, str] | None = None, "
        "**values: Any) -> HTMLResponse"
    ),
    "Templates.render_text": (
        "(self, name: str, context: Mapping[str, Any] | None = None, /, **values: Any) -> str"
    ),
    "Templates.render_sync": (
        "(self, name: str, context: Mapping[str, Any] | None = None, /, **values: Any) -> str"
    ),
    "Templates.render_string": (
        "(self, source: str, context: Mapping[str, Any] | None = None, /, **values: Any) -> str"
    ),
}


@pytest.mark.parametrize(("name", "expected"), METHOD_SIGNATURES.items())
def test_public_method_keeps_its_signature(name: str, expected: str) -> None:
    owner, method = name.split(".")
    assert signature_text(getattr(getattr(bocadillo, owner), method)) == expected


def test_websocket_url_is_a_property() -> None:
    assert isinstance(inspect.getattr_static(bocadillo.WebSocket, "url"), property)
