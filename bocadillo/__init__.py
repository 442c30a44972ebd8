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

from ._app import App
from ._channels import BroadcastUnavailable, Channel, SlowSubscriber, Subscription
from ._errors import ConfigurationError, HTTPError, RequestValidationError
from ._forms import BackgroundTasks, UploadFile
from ._middleware import CORS, GZip, Sessions
from ._params import Body, Cookie, File, Form, Header, Path, Query
from ._providers import discover_providers, provider
from ._requests import Request
from ._responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Redirect,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from ._routing import Router
from ._schemas import (
    MalformedInput,
    SchemaAdapter,
    SchemaValidationError,
    register_backend,
)
from ._security import (
    APIKeyCookie,
    APIKeyHeader,
    APIKeyQuery,
    BasicCredentials,
    HTTPBasic,
    HTTPBearer,
    OAuth2PasswordBearer,
)
from ._sse import Event, UndeclaredEvent
from ._templates import Templates
from ._typesystem import register_typesystem
from ._websockets import WebSocket, WebSocketDisconnect

register_typesystem()

__version__ = "0.1.0"

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
    "ConfigurationError",
    "Cookie",
    "Event",
    "File",
    "Form",
    "GZip",
    "HTMLResponse",
    "HTTPBasic",
    "HTTPBearer",
    "HTTPError",
    "Header",
    "JSONResponse",
    "MalformedInput",
    "OAuth2PasswordBearer",
    "Path",
    "PlainTextResponse",
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
    "Templates",
    "UndeclaredEvent",
    "UploadFile",
    "WebSocket",
    "WebSocketDisconnect",
    "discover_providers",
    "provider",
    "register_backend",
]
