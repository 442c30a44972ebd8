"""Bocadillo: an async web framework where the handler's signature is the contract.

::

    from pydantic import BaseModel
    from bocadillo import App

    app = App(title="Hello")

    class Greeting(BaseModel):
        text: str

    @app.get("/hello/{name}")
    async def hello(name: str) -> Greeting:
        return Greeting(text=f"Hello, {name}!")
"""

from bocadillo.app import App
from bocadillo.channels.channel import BroadcastUnavailable, Channel, SlowSubscriber, Subscription
from bocadillo.errors import (
    ConfigurationError,
    ErrorFormat,
    HTTPError,
    ProblemDetails,
    RequestValidationError,
)
from bocadillo.hooks import after, before
from bocadillo.http.middleware import CORS, GZip, Sessions
from bocadillo.params import Body, Cookie, File, Form, Header, Path, Query
from bocadillo.providers import discover_providers, provider, useprovider
from bocadillo.routing.router import Router
from bocadillo.runtime.background import BackgroundTasks
from bocadillo.runtime.body import ClientDisconnect
from bocadillo.runtime.providers import Lazy
from bocadillo.runtime.requests import Request
from bocadillo.runtime.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Redirect,
    RedirectResponse,
    Response,
    StreamingResponse,
    attachment,
)
from bocadillo.runtime.sse import Event, UndeclaredEvent
from bocadillo.runtime.uploads import UploadFile
from bocadillo.runtime.websockets import WebSocket, WebSocketDisconnect
from bocadillo.schemas.protocol import MalformedInput, SchemaAdapter, SchemaValidationError
from bocadillo.schemas.registry import register_backend
from bocadillo.schemas.typesystem_backend import register_typesystem
from bocadillo.security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    BasicCredentials,
    HTTPBasic,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from bocadillo.telemetry.config import Telemetry
from bocadillo.templates import Templates

register_typesystem()

__version__ = "1.0.0a1"

__all__ = [
    "CORS",
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "App",
    "BackgroundTasks",
    "BasicCredentials",
    "Body",
    "BroadcastUnavailable",
    "Channel",
    "ClientDisconnect",
    "ConfigurationError",
    "Cookie",
    "ErrorFormat",
    "Event",
    "File",
    "FileResponse",
    "Form",
    "GZip",
    "HTMLResponse",
    "HTTPBasic",
    "HTTPBearer",
    "HTTPError",
    "Header",
    "JSONResponse",
    "Lazy",
    "MalformedInput",
    "OAuth2PasswordBearer",
    "Path",
    "PlainTextResponse",
    "ProblemDetails",
    "Query",
    "Redirect",
    "RedirectResponse",
    "Request",
    "RequestValidationError",
    "Response",
    "Router",
    "SchemaAdapter",
    "SchemaValidationError",
    "Sessions",
    "SlowSubscriber",
    "StreamingResponse",
    "Subscription",
    "Telemetry",
    "Templates",
    "UndeclaredEvent",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "after",
    "attachment",
    "before",
    "discover_providers",
    "provider",
    "register_backend",
    "useprovider",
]
