"""Credentials in the signature: API keys, HTTP bearer and basic, OAuth2 password.

A security marker is a parameter marker like ``Header()``: declare the
credential where it is needed, usually in an auth provider::

    @provider(raises={403: "Not allowed"})
    async def current_user(key: Annotated[str, APIKeyHeader("X-API-Key")]) -> User:
        ...

The framework reads the credential, answers ``401`` with a
``WWW-Authenticate`` challenge when it is missing or malformed (never a 422),
and documents the scheme in the OpenAPI document: a security scheme, the
operations that need it, and their 401.
"""

from __future__ import annotations

import base64
import dataclasses
from typing import Any

from bocadillo.errors import HTTPError
from bocadillo.params import UNSET, Param, ParamSource

__all__ = [
    "APIKeyCookie",
    "APIKeyHeader",
    "APIKeyQuery",
    "BasicCredentials",
    "HTTPBasic",
    "HTTPBearer",
    "OAuth2PasswordBearer",
    "SecurityScheme",
]


@dataclasses.dataclass(frozen=True, slots=True)
class BasicCredentials:
    """The user name and password of an HTTP Basic ``Authorization`` header."""

    username: str
    password: str


class SecurityScheme(Param):
    """A credential a request carries. Subclasses say where and how."""

    __slots__ = ("challenge", "scheme_name")

    def __init__(
        self,
        source: ParamSource,
        key: str,
        *,
        scheme_name: str,
        challenge: str,
        description: str | None = None,
    ) -> None:
        super().__init__(source, UNSET, alias=key, description=description)
        self.scheme_name = scheme_name
        self.challenge = challenge

    def openapi(self) -> dict[str, Any]:
        """The scheme's OpenAPI ``securitySchemes`` entry."""
        raise NotImplementedError

    def parse(self, raw: str) -> Any:
        """The credential from the raw header, query or cookie value; None if malformed."""
        return raw or None

    def unauthorized(self, detail: str) -> HTTPError:
        return HTTPError(401, detail=detail, headers={"WWW-Authenticate": self.challenge})

    def credential(self, raw: str | None, *, required: bool) -> Any:
        """The credential to pass on, or the 401 to answer with."""
        if raw is None:
            if required:
                raise self.unauthorized(f"This needs credentials ({self.describe()}).")
            return None
        value = self.parse(raw)
        if value is None:
            raise self.unauthorized(f"The credentials are malformed ({self.describe()}).")
        return value

    def describe(self) -> str:
        return self.scheme_name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.alias!r})"


class _APIKey(SecurityScheme):
    _location = ParamSource.HEADER

    def __init__(
        self, name: str, *, scheme_name: str | None = None, description: str | None = None
    ) -> None:
        key = name.lower() if self._location is ParamSource.HEADER else name
        super().__init__(
            self._location,
            key,
            scheme_name=scheme_name or name,
            challenge=f'ApiKey name="{name}"',
            description=description,
        )
        self.name = name

    def openapi(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {"type": "apiKey", "in": self._location.value, "name": self.name}
        if self.description:
            scheme["description"] = self.description
        return scheme

    def describe(self) -> str:
        return f"an API key in the {self._location.value} {self.name!r}"


class APIKeyHeader(_APIKey):
    """An API key in a request header: ``key: Annotated[str, APIKeyHeader("X-API-Key")]``."""

    _location = ParamSource.HEADER


class APIKeyQuery(_APIKey):
    """An API key in the query string: ``key: Annotated[str, APIKeyQuery("api_key")]``."""

    _location = ParamSource.QUERY


class APIKeyCookie(_APIKey):
    """An API key in a cookie: ``key: Annotated[str, APIKeyCookie("session")]``."""

    _location = ParamSource.COOKIE


class HTTPBearer(SecurityScheme):
    """A bearer token (``Authorization: Bearer <token>``); the parameter gets the token.

    ``token: Annotated[str, HTTPBearer(bearer_format="JWT")]``
    """

    def __init__(
        self,
        *,
        bearer_format: str | None = None,
        scheme_name: str = "bearer",
        description: str | None = None,
    ) -> None:
        super().__init__(
            ParamSource.HEADER,
            "authorization",
            scheme_name=scheme_name,
            challenge="Bearer",
            description=description,
        )
        self.bearer_format = bearer_format

    def parse(self, raw: str) -> Any:
        scheme, _, token = raw.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return None
        return token

    def openapi(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if self.bearer_format:
            scheme["bearerFormat"] = self.bearer_format
        if self.description:
            scheme["description"] = self.description
        return scheme

    def describe(self) -> str:
        return "an Authorization: Bearer header"


class HTTPBasic(SecurityScheme):
    """HTTP Basic authentication; the parameter gets ``BasicCredentials``.

    ``credentials: Annotated[BasicCredentials, HTTPBasic(realm="admin")]``
    """

    def __init__(
        self, *, realm: str = "api", scheme_name: str = "basic", description: str | None = None
    ) -> None:
        super().__init__(
            ParamSource.HEADER,
            "authorization",
            scheme_name=scheme_name,
            challenge=f'Basic realm="{realm}", charset="UTF-8"',
            description=description,
        )

    def parse(self, raw: str) -> Any:
        scheme, _, encoded = raw.strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except ValueError:  # not base64 (binascii.Error), not ASCII, not UTF-8
            return None
        username, colon, password = decoded.partition(":")
        if not colon:
            return None
        return BasicCredentials(username, password)

    def openapi(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {"type": "http", "scheme": "basic"}
        if self.description:
            scheme["description"] = self.description
        return scheme

    def describe(self) -> str:
        return "an Authorization: Basic header"


class OAuth2PasswordBearer(HTTPBearer):
    """A bearer token obtained with the OAuth2 password flow at ``token_url``.

    ``token: Annotated[str, OAuth2PasswordBearer(token_url="/token")]``
    """

    def __init__(
        self,
        token_url: str,
        *,
        scopes: dict[str, str] | None = None,
        scheme_name: str = "oauth2",
        description: str | None = None,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description)
        self.token_url = token_url
        self.scopes = dict(scopes or {})

    def openapi(self) -> dict[str, Any]:
        scheme: dict[str, Any] = {
            "type": "oauth2",
            "flows": {"password": {"tokenUrl": self.token_url, "scopes": self.scopes}},
        }
        if self.description:
            scheme["description"] = self.description
        return scheme
