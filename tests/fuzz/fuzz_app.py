"""The app under fuzz beside the examples: every kind of parameter and of body.

Path parameters (int with bounds, float, UUID, enum, a typesystem integer, a
``{rest:path}``), query parameters with constraints, aliases and lists,
headers, cookies, credentials, request providers (one a generator, torn down
after the response), JSON bodies (a pydantic model, a dataclass list, a
``TypedDict``, ``dict[str, int]`` through ``Body()``, an optional body, a
typesystem schema, a route with a small body limit), forms (fields, a model
read from a form, files as ``UploadFile``, ``list[UploadFile]`` and
``bytes``), ``BackgroundTasks`` and a plain ``def`` handler run in a thread.

Every handler returns what it received, so a response's serialization is
fuzzed too (a value a handler got must also be sent back without an error).

``stacked`` is a second, smaller app behind every middleware setting (CORS,
gzip, sessions, HSTS) and an ``@app.middleware`` hook; ``redirected`` a third,
with ``https_redirect`` and sessions, so that every path it is sent comes back
as a ``Location``.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import typesystem
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from bocadillo import (
    CORS,
    APIKeyHeader,
    App,
    BackgroundTasks,
    BasicCredentials,
    Body,
    Cookie,
    File,
    Form,
    GZip,
    Header,
    HTTPBasic,
    HTTPBearer,
    HTTPError,
    Path,
    Query,
    Request,
    Sessions,
    UploadFile,
)

app = App(title="Fuzz kinds", version="1.0.0", max_body_size=64 * 1024)


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Dimensions(BaseModel):
    width: float = Field(ge=0)
    height: float = Field(ge=0)
    unit: Literal["cm", "in"] = "cm"


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=50)
    price: float = Field(gt=0)
    quantity: int = Field(ge=0, le=1_000_000)
    tags: list[Annotated[str, Field(max_length=20)]] = Field(default_factory=list, max_length=5)
    colour: Colour = Colour.RED
    level: Level = Level.LOW
    size: Dimensions | None = None
    released: datetime.date | None = None
    seen_at: datetime.datetime | None = None
    ref: uuid.UUID | None = None
    weight: decimal.Decimal | None = Field(default=None, max_digits=10, decimal_places=3)
    ratio: float | None = None  # any float: the serializer meets whatever was accepted
    counter: int | None = None  # any int: huge ones included
    extra: dict[str, list[int]] = Field(default_factory=dict)


class Item(ItemIn):
    id: int


@dataclasses.dataclass
class Point:
    x: float
    y: float
    label: str = ""


class Rename(TypedDict):
    old: str
    new: str


class Settings(BaseModel):
    theme: Literal["light", "dark"] = "light"
    page_size: int = Field(20, ge=1, le=100)


class Signup(BaseModel):
    email: str = Field(min_length=3, max_length=100)
    age: int = Field(ge=0, le=150)
    newsletter: bool = False
    interests: list[str] = []


NoteIn = typesystem.Schema(
    title="NoteIn",
    fields={
        "text": typesystem.String(max_length=200),
        "stars": typesystem.Integer(minimum=0, maximum=5, default=0),
        "score": typesystem.Float(allow_null=True, default=None),
        "pinned": typesystem.Boolean(default=False),
        "tags": typesystem.Array(items=typesystem.String(max_length=20), max_items=5, default=[]),
        "when": typesystem.DateTime(allow_null=True, default=None),
    },
)
Note = typesystem.Schema(
    title="Note",
    fields={
        "id": typesystem.Integer(),
        "text": typesystem.String(max_length=200),
        "stars": typesystem.Integer(),
        "score": typesystem.Float(allow_null=True),
        "pinned": typesystem.Boolean(),
        "tags": typesystem.Array(items=typesystem.String()),
        "when": typesystem.DateTime(allow_null=True),
    },
)

# -- providers ------------------------------------------------------------------


@app.provider
async def tenant(x_tenant: str = Header("public", max_length=20, pattern=r"^[a-z]+$")) -> str:
    """A request provider reading a header."""
    return x_tenant


@app.provider
async def audit(tenant: str, request: Request) -> AsyncIterator[list[str]]:
    """A generator provider: made before the handler, torn down after the response."""
    trail = [tenant, request.method]
    yield trail
    trail.clear()


@app.provider(raises={403: "The key is not allowed."})
async def user(key: Annotated[str, APIKeyHeader("X-API-Key")]) -> str:
    if key != "k-ada":
        raise HTTPError(403, detail="The key is not allowed.")
    return "ada"


# -- path parameters --------------------------------------------------------------


@app.get("/items/{item_id}")
async def get_item(
    item_id: Annotated[int, Path(ge=1, le=10**12)], audit: list[str]
) -> dict[str, Any]:
    return {"id": item_id, "audit": audit}


@app.get("/prices/{amount}")
async def get_price(amount: float) -> float:
    return amount


@app.get("/orders/{order_id}/lines/{line}")
async def get_line(order_id: uuid.UUID, line: Annotated[int, Path(ge=1)]) -> dict[str, Any]:
    return {"order": order_id, "line": line}


@app.get("/colours/{colour}/{level}")
async def get_colour(colour: Colour, level: Level) -> dict[str, Any]:
    return {"colour": colour, "level": level}


@app.get("/days/{day}")
async def get_day(day: datetime.date) -> datetime.date:
    return day


@app.get("/notes/{note_id}")
async def get_note(note_id: typesystem.Integer(minimum=1, maximum=1000)) -> int:  # type: ignore[valid-type]
    return int(note_id)


@app.get("/files/{rest:path}")
async def get_file(rest: str) -> str:
    return rest


# -- query, headers, cookies --------------------------------------------------------


@app.get("/search")
async def search(
    q: str = Query(min_length=1, max_length=30),
    limit: int = Query(10, ge=1, le=100),
    ratio: float = Query(0.5, ge=0, le=1),
    page_size: int = Query(20, alias="page-size", multiple_of=5),
    tag: list[str] = Query([]),
    ids: list[int] = Query([]),
    since: datetime.datetime | None = None,
    flag: bool = False,
    mode: Literal["fast", "slow"] = "fast",
    colour: Colour | None = None,
    code: str | None = Query(None, pattern=r"^[A-Z]{3}$"),
    price: decimal.Decimal = Query(decimal.Decimal("1.5"), ge=0, le=10_000),
    stars: typesystem.Integer(minimum=0, maximum=5) = Query(0),  # type: ignore[valid-type]
) -> dict[str, Any]:
    return {
        "q": q,
        "limit": limit,
        "ratio": ratio,
        "page_size": page_size,
        "tag": tag,
        "ids": ids,
        "since": since,
        "flag": flag,
        "mode": mode,
        "colour": colour,
        "code": code,
        "price": price,
        "stars": stars,
    }


@app.get("/whoami")
async def whoami(
    user_agent: str = Header("unknown"),
    x_request_id: uuid.UUID | None = Header(None),
    x_count: int = Header(0, ge=0, le=1000),
    x_ratio: float | None = Header(None),
    accept_language: list[str] = Header([]),
    session_id: str | None = Cookie(None, max_length=64),
    theme: Literal["light", "dark"] = Cookie("light"),
    visits: int = Cookie(0, ge=0),
) -> dict[str, Any]:
    return {
        "agent": user_agent,
        "request_id": x_request_id,
        "count": x_count,
        "ratio": x_ratio,
        "languages": accept_language,
        "session": session_id,
        "theme": theme,
        "visits": visits,
    }


@app.get("/me")
async def me(user: str, tenant: str, audit: list[str]) -> dict[str, Any]:
    return {"user": user, "tenant": tenant, "audit": audit}


@app.get("/token")
async def token_info(token: Annotated[str, HTTPBearer()], scope: str = "read") -> dict[str, Any]:
    return {"token": token, "scope": scope}


@app.get("/basic")
async def basic(who: Annotated[BasicCredentials | None, HTTPBasic()] = None) -> str | None:
    return None if who is None else who.username


@app.get("/sync")
def sync_handler(n: int = Query(1, ge=0, le=10)) -> list[int]:
    """A plain ``def``: run in a worker thread."""
    return list(range(n))


# -- JSON bodies ----------------------------------------------------------------------


@app.post("/items", status_code=201)
async def create_item(item: ItemIn, tenant: str) -> Item:
    return Item(id=1, **item.model_dump())


@app.put("/items/{item_id}")
async def replace_item(item_id: int, item: ItemIn, audit: list[str], dry_run: bool = False) -> Item:
    return Item(id=item_id, **item.model_dump())


@app.post("/points")
async def add_points(points: list[Point]) -> list[Point]:
    return points


@app.post("/rename")
async def rename(change: Rename) -> Rename:
    return change


@app.post("/scores")
async def scores(payload: dict[str, int] = Body()) -> dict[str, int]:
    return payload


@app.patch("/settings")
async def patch_settings(settings: Settings | None = None) -> Settings | None:
    return settings


@app.post("/notes", status_code=201)
async def create_note(note: NoteIn) -> Note:  # type: ignore[valid-type]
    return {"id": 1, **note}


@app.post("/small", max_body_size=256)
async def small(payload: list[Any] = Body()) -> int:
    return len(payload)


@app.post("/echo")
async def echo(request: Request, payload: Any = Body()) -> dict[str, Any]:
    """Any JSON value, sent back; the raw body read again through the request."""
    raw = await request.body()
    return {"payload": payload, "size": len(raw)}


# -- forms and uploads ----------------------------------------------------------------


@app.post("/people")
async def add_person(
    name: str = Form(min_length=1, max_length=50),
    age: int = Form(0, ge=0, le=150),
    tags: list[str] = Form([]),
    score: float | None = Form(None),
) -> dict[str, Any]:
    return {"name": name, "age": age, "tags": tags, "score": score}


@app.post("/signup")
async def signup(form: Signup = Form()) -> Signup:
    return form


@app.post("/upload")
async def upload(
    tasks: BackgroundTasks,
    title: str = Form(min_length=1),
    count: int = Form(0, ge=0),
    doc: UploadFile = File(max_part_size=4096, max_files=4, max_fields=20),
    attachments: list[UploadFile] = File([]),
) -> dict[str, Any]:
    content = await doc.read()
    sizes = [len(await a.read()) for a in attachments]
    tasks.add_task(sizes.clear)
    return {
        "title": title,
        "count": count,
        "file": doc.filename,
        "type": doc.content_type,
        "size": len(content),
        "attachments": sizes,
    }


@app.post("/raw")
async def raw(data: bytes = File(), note: str | None = Form(None)) -> dict[str, Any]:
    return {"size": len(data), "note": note}


# -- a second app: every middleware setting and a hook around a few routes --------------

SESSION_SECRET = "a fuzzing secret, not a real one, 32+ chars"

stacked = App(
    title="Fuzz stacked",
    version="1.0.0",
    max_body_size=16 * 1024,
    cors=CORS(allow_origins=["https://app.example"], allow_credentials=True),
    gzip=GZip(minimum_size=64),
    sessions=Sessions(secret_key=SESSION_SECRET),
    hsts=True,
)


@stacked.middleware
async def stamp(request: Request, call_next: Any) -> Any:
    """A hook (Starlette's ``BaseHTTPMiddleware``): reads a header, the session, then
    changes the response."""
    if request.headers.get("x-refuse") == "yes":
        raise HTTPError(403, detail="Refused by the hook.")
    request.session.setdefault("visits", 0)
    response = await call_next(request)
    response.headers["x-visits"] = str(request.session["visits"])
    return response


@stacked.get("/cart")
async def get_cart(request: Request, page: int = Query(1, ge=1)) -> list[str]:
    cart: list[str] = request.session.get("cart", [])
    return cart[(page - 1) * 10 : page * 10]


@stacked.post("/cart", status_code=201)
async def add_to_cart(item: ItemIn, request: Request) -> list[str]:
    cart = [*request.session.get("cart", [])[-20:], item.name]
    request.session["cart"] = cart
    return cart


@stacked.post("/feedback")
async def feedback(text: str = Form(max_length=500), stars: int = Form(ge=1, le=5)) -> str:
    return text * stars


# -- a third app: every request redirected to https, with the session read ------------------

redirected = App(
    title="Fuzz redirected",
    version="1.0.0",
    https_redirect=True,
    sessions=Sessions(secret_key=SESSION_SECRET),
)


@redirected.get("/session")
async def session(request: Request) -> dict[str, Any]:
    return dict(request.session)
