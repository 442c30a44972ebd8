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
import re
from typing import Any, ClassVar, Literal

from bocadillo.errors import ConfigurationError, HTTPError
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
    """A credential a request carries: the base of every security marker.

    A scheme of your own subclasses it and provides:

    - ``__init__``: call ``super().__init__(source, key, scheme_name=..., challenge=...)``
      with where the credential is (``"header"``, ``"query"`` or ``"cookie"``), its
      name there, the name of the scheme in the OpenAPI document, and the
      ``WWW-Authenticate`` value of the 401 when it is missing or malformed;
    - ``parse(raw)``: the credential from the raw value, or None when it is malformed;
    - ``describe()``: the credential in words, for the 401's detail;
    - ``openapi()``: the scheme's OpenAPI ``securitySchemes`` entry;
    - ``credential_type``: the type ``parse`` gives (``str`` unless set), which the
      parameter's annotation must be.
    """

    __slots__ = ("challenge", "scheme_name")

    credential_type: ClassVar[type] = str
    """The type of what ``parse`` gives: the parameter is annotated with it (or
    ``... | None`` when optional); another annotation is a start-up error."""

    def __init__(
        self,
        source: ParamSource | Literal["header", "query", "cookie"],
        key: str,
        *,
        scheme_name: str,
        challenge: str,
        description: str | None = None,
    ) -> None:
        where = ParamSource(source)
        if where not in (ParamSource.HEADER, ParamSource.QUERY, ParamSource.COOKIE):
            raise ConfigurationError(
                f"{type(self).__name__}: a credential is read from a header, the query "
                f"string or a cookie, not from {where.value!r}"
            )
        if where is ParamSource.HEADER:
            key = key.lower()  # header names are case-insensitive
        super().__init__(where, UNSET, alias=key, description=description)
        self.scheme_name = scheme_name
        #: The ``WWW-Authenticate`` value of the 401 (``Bearer``, ``ApiKey name="X"``).
        self.challenge = challenge

    def openapi(self) -> dict[str, Any]:
        """The scheme's OpenAPI ``securitySchemes`` entry (``{"type": "apiKey", ...}``)."""
        raise NotImplementedError(f"{type(self).__name__} must define openapi()")

    def parse(self, raw: str) -> Any:
        """The credential from the raw header, query or cookie value; None if malformed
        (the request is then answered 401). The default: the value, unless empty."""
        return raw or None

    def describe(self) -> str:
        """The credential in words, for the 401's detail: ``an API key in the header
        'X-API-Key'``. The default: the scheme's name."""
        return self.scheme_name

    def unauthorized(self, detail: str) -> HTTPError:
        """The 401 problem to answer with: ``detail``, and the ``WWW-Authenticate``
        challenge."""
        return HTTPError(401, detail=detail, headers={"WWW-Authenticate": self.challenge})

    def credential(self, raw: str | None, *, required: bool) -> Any:
        """The credential to pass on, or the 401 to answer with (``raw`` is None when
        the request has no such header, query parameter or cookie)."""
        if raw is None:
            if required:
                raise self.unauthorized(f"This needs credentials ({self.describe()}).")
            return None
        value = self.parse(raw)
        if value is None:
            raise self.unauthorized(f"The credentials are malformed ({self.describe()}).")
        return value

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


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an auth-scheme (RFC 9110, 11.1)


class HTTPBearer(SecurityScheme):
    """A token in the ``Authorization`` header (``Authorization: Bearer <token>``); the
    parameter gets the token.

    ``token: Annotated[str, HTTPBearer(bearer_format="JWT")]``

    ``scheme`` is the word before the token, matched case-insensitively
    (RFC 9110): ``HTTPBearer(scheme="Token")`` reads ``Authorization: Token <jwt>``
    and challenges with ``WWW-Authenticate: Token``. OpenAPI's ``http`` type with
    ``scheme: bearer`` means the word ``Bearer``, and Swagger UI can send no other
    word with it: a scheme with another word is documented as an API key in the
    ``Authorization`` header, whose value (``Token <jwt>``, word included) the
    description spells out.
    """

    def __init__(
        self,
        *,
        scheme: str = "Bearer",
        bearer_format: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not _TOKEN.fullmatch(scheme):
            raise ConfigurationError(
                f"HTTPBearer(scheme={scheme!r}): the scheme is one word of letters, digits "
                "or !#$%&'*+-.^_`|~ (an RFC 9110 auth-scheme), such as 'Bearer' or 'Token'"
            )
        super().__init__(
            ParamSource.HEADER,
            "authorization",
            scheme_name=scheme_name or scheme.lower(),
            challenge=scheme,
            description=description,
        )
        self.scheme = scheme
        self.bearer_format = bearer_format

    def parse(self, raw: str) -> Any:
        """The token after the scheme word (any case), or None."""
        scheme, _, token = raw.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != self.scheme.lower() or not token:
            return None
        return token

    def openapi(self) -> dict[str, Any]:
        """``http``/``bearer`` for the word ``Bearer``; for another word, an API key in
        the ``Authorization`` header whose description gives the value to send."""
        scheme: dict[str, Any]
        if self.scheme.lower() == "bearer":
            scheme = {"type": "http", "scheme": "bearer"}
            if self.bearer_format:
                scheme["bearerFormat"] = self.bearer_format
            if self.description:
                scheme["description"] = self.description
            return scheme
        token = f"<{self.bearer_format}>" if self.bearer_format else "<token>"
        text = (
            f"Send `Authorization: {self.scheme} {token}`. In Swagger UI's Authorize box, "
            f"enter the whole value, the word included: `{self.scheme} {token}`."
        )
        if self.description:
            text += "\n\n" + self.description
        return {"type": "apiKey", "in": "header", "name": "Authorization", "description": text}

    def describe(self) -> str:
        return f"an Authorization: {self.scheme} header"


class HTTPBasic(SecurityScheme):
    """HTTP Basic authentication; the parameter gets ``BasicCredentials``.

    ``credentials: Annotated[BasicCredentials, HTTPBasic(realm="admin")]``
    """

    credential_type: ClassVar[type] = BasicCredentials

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
