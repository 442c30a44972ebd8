"""The live-feed example in-process, on the in-memory broadcast: publish posts and
follow them over server-sent events. (Served by two workers through Redis, it is
tested in tests/test_channels_workers.py, and measured by bench/broadcast_load.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from bocadillo.testing import Client, ServerSentEvent, create_client
from examples.feed.app import PublishedPost, create_app

ROOT = Path(__file__).resolve().parent.parent
MAX_QUEUE = 100  # the feed channel's queue per follower (the channel's default)


@pytest.fixture
def client() -> Iterator[Client]:
    with create_client(create_app()) as test_client:
        yield test_client


def publish(client: Client, author: str = "ada", text: str = "Hello") -> dict[str, Any]:
    response = client.post("/posts", json={"author": author, "text": text})
    assert response.status_code == 202, response.text
    post: dict[str, Any] = response.json()
    return post


def summary(events: list[ServerSentEvent]) -> list[tuple[str, str | None, Any]]:
    return [(e.event, e.id, e.data) for e in events]


def as_events(posts: list[dict[str, Any]]) -> list[tuple[str, str | None, Any]]:
    """What a follower receives for ``posts``: typed ``post`` events, id = the post's id."""
    return [("post", post["id"], PublishedPost(**post)) for post in posts]


def test_publishing_answers_the_post_with_its_id_and_time(client: Client) -> None:
    before = time.time()
    post = publish(client, "ada", "First post")
    after = time.time()

    assert set(post) == {"author", "text", "id", "published_at"}
    assert (post["author"], post["text"]) == ("ada", "First post")
    assert len(post["id"]) == 32 and int(post["id"], 16) >= 0
    assert before <= post["published_at"] <= after
    assert publish(client)["id"] != post["id"]


def test_every_follower_gets_every_post_in_order_typed(client: Client) -> None:
    with (
        client.stream_events("/posts/events", max_events=3, timeout=5) as first,
        client.stream_events("/posts/events", max_events=3, timeout=5) as second,
    ):
        assert first.status_code == second.status_code == 200
        assert first.headers["content-type"] == "text/event-stream; charset=utf-8"
        posts = [publish(client, "ada", f"post {n}") for n in range(1, 4)]
        received = [list(first), list(second)]

    for events in received:
        assert summary(events) == as_events(posts)
        assert all(type(event.data) is PublishedPost for event in events)
    assert [event.data.text for event in received[0]] == ["post 1", "post 2", "post 3"]


def test_a_follower_gets_only_what_is_published_after_it_came(client: Client) -> None:
    publish(client, "ada", "too early")

    with client.stream_events("/posts/events", max_events=1, timeout=5) as stream:
        later = publish(client, "grace", "just in time")
        events = list(stream)

    assert summary(events) == as_events([later])


@pytest.mark.parametrize(
    "body",
    [
        {"author": "", "text": "Hello"},
        {"author": "x" * 41, "text": "Hello"},
        {"author": "ada", "text": ""},
        {"author": "ada", "text": "x" * 501},
        {"author": "ada"},
        {"text": "Hello"},
        {"author": "ada", "text": 7},
    ],
)
def test_a_bad_post_is_a_422_problem_and_publishes_nothing(
    client: Client, body: dict[str, Any], problem: Callable[[httpx.Response, int], dict[str, Any]]
) -> None:
    with client.stream_events("/posts/events", max_events=1, timeout=5) as stream:
        response = client.post("/posts", json=body)
        good = publish(client, "ada", "the first one through")
        events = list(stream)

    assert problem(response, 422)["errors"][0]["loc"][0] == "body"
    assert summary(events) == as_events([good])  # the bad one never reached the follower


def test_the_longest_fields_are_published_whole(client: Client) -> None:
    with client.stream_events("/posts/events", max_events=1, timeout=5) as stream:
        post = publish(client, "a" * 40, "ü" * 500)
        events = list(stream)

    assert summary(events) == as_events([post])
    assert events[0].data.text == "ü" * 500


def test_a_follower_that_left_does_not_stop_the_others(client: Client) -> None:
    with client.stream_events("/posts/events", max_events=1, timeout=5) as leaving:
        publish(client, "ada", "one")
        assert len(list(leaving)) == 1

    with client.stream_events("/posts/events", max_events=1, timeout=5) as staying:
        post = publish(client, "ada", "two")
        assert summary(list(staying)) == as_events([post])


def test_a_follower_that_does_not_read_misses_the_oldest_posts_and_holds_up_nobody(
    client: Client,
) -> None:
    count = MAX_QUEUE + 50
    with client.stream_events("/posts/events", max_events=count, timeout=2) as stalled:
        started = time.monotonic()
        posts = [publish(client, "ada", f"post {n}") for n in range(count)]
        publishing = time.monotonic() - started
        events = list(stalled)  # read only now, after every post

    assert publishing < 30  # nobody waited for the follower (its 2 s timeout, per post)
    ids = [event.id for event in events]
    published = [post["id"] for post in posts]
    # It missed posts, the oldest ones: what it got is in order and ends with the newest.
    assert MAX_QUEUE <= len(ids) < count
    assert ids[-MAX_QUEUE:] == published[-MAX_QUEUE:]
    assert ids == [i for i in published if i in set(ids)]


def test_a_stream_ends_after_stream_seconds() -> None:
    with create_client(create_app(stream_seconds=0.2)) as short:
        started = time.monotonic()
        events = list(short.stream_events("/posts/events", timeout=30))

    assert events == []
    # Ended by the server, not by the client's 30 s timeout: a margin a busy machine keeps.
    assert time.monotonic() - started < 15


def test_feed_stream_seconds_is_read_as_the_app_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    app = create_app()
    monkeypatch.setenv("FEED_STREAM_SECONDS", "1")

    with create_client(app) as short, short.stream_events("/posts/events", timeout=30) as stream:
        started = time.monotonic()
        post = publish(short, "ada", "before the end")
        events = list(stream)

    assert summary(events) == as_events([post])
    assert time.monotonic() - started < 15  # ended by the server after 1 s, not at 30 s


def test_health_names_the_worker(client: Client) -> None:
    response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "worker": os.getpid()}


def test_the_documents_describe_the_feed() -> None:
    app = create_app()
    paths = app.openapi()["paths"]
    stream = paths["/posts/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]
    event = stream["schema"]["properties"]
    assert event["event"] == {"type": "string", "const": "post"}
    assert event["data"]["contentSchema"] == {"$ref": "#/components/schemas/PublishedPost"}
    assert paths["/posts"]["post"]["responses"].keys() >= {"202", "422"}
    messages = app.asyncapi()["channels"]["post_events"]["messages"]
    assert messages["post"]["payload"] == {"$ref": "#/components/schemas/PublishedPost"}


# -- two workers through Redis, under load: bench/broadcast_load.py --quick ----------------


def _bench(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "bench" / "broadcast_load.py"), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server")
def test_a_hundred_followers_on_two_workers_get_every_post() -> None:
    started = time.monotonic()
    run = _bench("--quick", "--json", "--timeout", "90")

    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert (result["subscribers"], result["posts"], result["workers"]) == (100, 50, 2)
    assert result["all_delivered"] and result["missing_deliveries"] == 0
    assert result["deliveries"] == 100 * 50
    assert [w["followers"] for w in result["by_worker"].values()] == [50, 50]
    assert result["latency_p50_ms"] <= result["latency_p99_ms"] <= result["latency_max_ms"]
    assert result["latency_max_ms"] < 5000
    assert time.monotonic() - started < 60


def test_the_bench_without_redis_server_says_how_to_install_it(tmp_path: Path) -> None:
    run = _bench("--quick", env={**os.environ, "PATH": str(tmp_path)})  # no redis-server there

    assert run.returncode == 2
    assert "redis-server is not installed" in run.stderr
    assert "apt-get install redis-server" in run.stderr
