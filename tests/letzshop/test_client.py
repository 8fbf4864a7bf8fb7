"""LetzshopClient over a mocked transport: every failure is typed, retries and paging behave, the key stays secret."""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest
import respx

from letzdesk.letzshop import documents
from letzdesk.letzshop.client import (
    InsecureEndpointError,
    LetzshopClient,
    check_endpoint,
    classify_errors,
    parse_retry_after,
)
from letzdesk.letzshop.errors import (
    AuthError,
    GraphQLResponseError,
    LetzshopError,
    MalformedResponseError,
    RateLimitedError,
    SchemaDriftError,
    TransientError,
)
from letzdesk.letzshop.records import ShipmentPage
from letzdesk.letzshop.retry import RetryPolicy

ENDPOINT = "https://letzshop.test/graphql"
KEY = "test-key-not-real"


# --- helpers -------------------------------------------------------------------------------


class FakeSleep:
    """Stands in for asyncio.sleep: records the delays, waits for nothing."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


class UpperBoundRng(random.Random):
    """A jitter source that always picks the top of the range, so the exponential bound becomes visible."""

    def uniform(self, a: float, b: float) -> float:
        return b


def policy(attempts: int = 1, **kwargs: Any) -> RetryPolicy:
    kwargs.setdefault("sleep", FakeSleep())
    return RetryPolicy(attempts=attempts, **kwargs)


def node(shipment_id: str) -> dict:
    return {"id": shipment_id, "number": f"H{shipment_id}", "state": "unconfirmed", "inventoryUnits": []}


def page_body(*ids: str, has_next: bool = False, cursor: str | None = None) -> dict:
    return {
        "data": {
            "shipments": {"pageInfo": {"hasNextPage": has_next, "endCursor": cursor}, "nodes": [node(i) for i in ids]}
        }
    }


def assert_key_not_leaked(exc: BaseException) -> None:
    texts = [
        str(exc),
        repr(exc),
        *map(repr, exc.args),
        "".join(traceback.format_exception(exc)),
        getattr(exc, "user_message", ""),
    ]
    for text in texts:
        assert KEY not in text


Call = Callable[[LetzshopClient], Awaitable[Any]]


def fetch_page(client: LetzshopClient) -> Awaitable[ShipmentPage]:
    return client.shipments_page("unconfirmed")


def run_with(
    responder: dict[str, Any], call: Call = fetch_page, *, retry: RetryPolicy | None = None, **client_kwargs: Any
) -> tuple[Any, respx.Route]:
    """Mock the endpoint with ``responder`` (respx's ``return_value=`` / ``side_effect=``) and run ``call``.

    Returns ``(result or raised LetzshopError, route)``.
    """

    async def go() -> Any:
        async with LetzshopClient(ENDPOINT, KEY, retry=retry or policy(), **client_kwargs) as client:
            try:
                return await call(client)
            except LetzshopError as exc:
                return exc

    with respx.mock(assert_all_called=False) as router:
        route = router.post(ENDPOINT).mock(**responder)
        outcome = asyncio.run(go())
    if isinstance(outcome, BaseException):
        assert_key_not_leaked(outcome)
    return outcome, route


def error_for(responder: dict[str, Any], expected: type[LetzshopError], **kwargs: Any) -> Any:
    outcome, _ = run_with(responder, **kwargs)
    assert isinstance(outcome, expected), f"expected {expected.__name__}, got {outcome!r}"
    return outcome


def reply(status: int = 200, **kwargs: Any) -> dict[str, Any]:
    return {"return_value": httpx.Response(status, **kwargs)}


def sent_bodies(route: respx.Route) -> list[dict]:
    return [json.loads(call.request.content) for call in route.calls]


# --- HTTP status and transport failures ----------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
def test_http_401_and_403_are_auth_errors(status):
    exc = error_for(reply(status, json={"error": "nope"}), AuthError)
    assert not exc.retryable


@pytest.mark.parametrize(
    "error",
    [
        {"message": "Unauthorized"},
        {"message": "You are not authenticated"},
        {"message": "Invalid API key"},
        {"message": "Request failed", "extensions": {"code": "UNAUTHENTICATED"}},
        {"message": "Request failed", "extensions": {"code": "FORBIDDEN"}},
    ],
)
def test_http_200_with_auth_error_in_body_is_auth_error(error):
    error_for(reply(json={"errors": [error], "data": None}), AuthError)


def test_http_429_with_retry_after_seconds():
    exc = error_for(reply(429, headers={"Retry-After": "7"}), RateLimitedError)
    assert exc.retry_after == 7
    assert exc.retryable


def test_http_429_with_retry_after_http_date():
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    exc = error_for(reply(429, headers={"Retry-After": when}), RateLimitedError)
    assert 27 <= exc.retry_after <= 30.5


def test_http_429_without_retry_after():
    assert error_for(reply(429), RateLimitedError).retry_after is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("7", 7.0),
        (" 12 ", 12.0),
        ("0", 0.0),
        ("-5", 0.0),
        ("1.5", 1.5),
        ("", None),
        (None, None),
        ("soon", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
    ],
)
def test_parse_retry_after(value, expected):
    assert parse_retry_after(value) == expected


def test_parse_retry_after_http_date_uses_the_given_clock():
    now = datetime(2025, 12, 16, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Tue, 16 Dec 2025 08:01:30 GMT", now=lambda: now) == 90.0


@pytest.mark.parametrize("value", ["nan", "NaN"])
def test_retry_after_nan_is_ignored(value):
    seconds = parse_retry_after(value)
    assert seconds is None or math.isfinite(seconds)
    delay = RetryPolicy().delay(1, RateLimitedError("429", seconds))
    assert math.isfinite(delay)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_http_5xx_is_transient(status):
    exc = error_for(reply(status, text="<html>Bad gateway</html>"), TransientError)
    assert exc.retryable and exc.sent


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout])
def test_connect_failure_is_transient_and_not_sent(error):
    exc = error_for({"side_effect": error}, TransientError)
    assert exc.sent is False


@pytest.mark.parametrize("error", [httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.ReadError])
def test_failure_after_sending_is_transient_and_maybe_sent(error):
    exc = error_for({"side_effect": error}, TransientError)
    assert exc.sent is True


def test_overall_deadline_stops_a_slow_answer():
    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(5)
        return httpx.Response(200, json=page_body("late"))

    started = time.monotonic()
    exc = error_for({"side_effect": slow}, TransientError, deadline=0.2)
    elapsed = time.monotonic() - started
    assert exc.sent is True
    assert elapsed < 1.5


def test_undecodable_compressed_body_is_a_letzshop_error():
    broken = httpx.Response(200, headers={"Content-Encoding": "gzip"}, stream=httpx.ByteStream(b"not gzip"))
    outcome, _ = run_with({"return_value": broken})
    assert isinstance(outcome, LetzshopError)


# --- GraphQL errors and malformed bodies ---------------------------------------------------


@pytest.mark.parametrize("message", ["Invalid cursor token", "Argument 'after' is invalid: not a valid token"])
def test_bad_cursor_error_is_not_an_auth_error(message):
    outcome, _ = run_with(reply(json={"errors": [{"message": message}], "data": None}))
    assert isinstance(outcome, GraphQLResponseError)


def test_errors_with_null_data_is_graphql_response_error():
    body = {"errors": [{"message": "Internal server error", "path": ["shipments"]}], "data": None}
    exc = error_for(reply(json=body), GraphQLResponseError)
    assert type(exc) is GraphQLResponseError
    assert exc.data is None
    assert exc.errors[0].message == "Internal server error"
    assert exc.errors[0].path == ("shipments",)


@pytest.mark.parametrize(
    "error",
    [
        {"message": 'Cannot query field "foo" on type "Shipment".'},
        {"message": "Field 'shipments' doesn't accept argument 'first'", "extensions": {"code": "argumentNotAccepted"}},
        {"message": "whatever", "extensions": {"code": "GRAPHQL_VALIDATION_FAILED"}},
    ],
)
def test_validation_error_is_schema_drift(error):
    exc = error_for(reply(json={"errors": [error]}), SchemaDriftError)
    assert exc.data is None


def test_drift_words_with_partial_data_are_not_schema_drift():
    """A document the server refused yields no data; when data came back, the document was accepted."""
    partial = {"shipments": {"nodes": []}}
    exc = classify_errors([{"message": 'Cannot query field "foo" on type "Shipment"'}], partial)
    assert type(exc) is GraphQLResponseError
    assert exc.data == partial
    assert type(classify_errors([{"message": 'Cannot query field "foo" on type "Shipment"'}], None)) is SchemaDriftError


def test_node_errors_with_data_keep_the_rest_of_the_page():
    body = page_body("S0", "S1", "S2")
    body["errors"] = [{"message": "Cannot return null for total", "path": ["shipments", "nodes", 1, "order", "total"]}]
    page, route = run_with(reply(json=body))
    assert isinstance(page, ShipmentPage)
    assert [s.id for s in page.shipments] == ["S0", "S2"]
    assert page.failed == (("S1", "Cannot return null for total"),)
    assert route.call_count == 1


def test_errors_not_tied_to_nodes_raise_and_keep_the_partial_data():
    body = page_body("S0")
    body["errors"] = [{"message": "pageInfo failed", "path": ["shipments", "pageInfo"]}]
    exc = error_for(reply(json=body), GraphQLResponseError)
    assert exc.data == body["data"]


@pytest.mark.parametrize("path", [["shipments", "nodes"], ["shipments", "nodes", "1"], ["shipments"], []])
def test_errors_not_pointing_at_one_node_raise_even_with_data(path):
    body = page_body("S0", "S1")
    body["errors"] = [{"message": "boom", "path": path}]
    exc = error_for(reply(json=body), GraphQLResponseError)
    assert exc.data == body["data"]


def test_node_errors_without_data_raise():
    body = {"errors": [{"message": "boom", "path": ["shipments", "nodes", 0]}], "data": None}
    error_for(reply(json=body), GraphQLResponseError)


@pytest.mark.parametrize(
    "content",
    [
        b"<html>Maintenance</html>",
        b"",
        b'{"data": ',
        b"\xff\xfe\x00garbage",
        b"[" * 100_000,
    ],
)
def test_body_that_is_not_json_is_malformed(content):
    error_for(reply(content=content), MalformedResponseError)


@pytest.mark.parametrize("body", [[], [{"data": {}}], "data", 42, None, True])
def test_json_that_is_not_an_object_is_malformed(body):
    error_for(reply(content=json.dumps(body).encode()), MalformedResponseError)


@pytest.mark.parametrize("body", [{}, {"data": None}, {"data": []}, {"data": {}}, {"data": {"shipments": None}}])
def test_json_object_without_a_usable_data_object_is_malformed(body):
    error_for(reply(json=body), MalformedResponseError)


@pytest.mark.parametrize("status", [302, 404, 418])
def test_unexpected_http_status_with_json_data_is_malformed(status):
    error_for(reply(status, json=page_body("S0")), MalformedResponseError)


# --- retries -------------------------------------------------------------------------------


def test_transient_twice_then_success_retries_with_full_jitter():
    sleep = FakeSleep()
    retry = RetryPolicy(attempts=4, base=0.5, sleep=sleep, rng=random.Random(20251216))
    responses = [httpx.Response(503), httpx.Response(502), httpx.Response(200, json=page_body("S0"))]
    page, route = run_with({"side_effect": responses}, retry=retry)
    assert isinstance(page, ShipmentPage)
    assert [s.id for s in page.shipments] == ["S0"]
    assert route.call_count == 3
    assert len(sleep.delays) == 2
    for n, delay in enumerate(sleep.delays, start=1):
        assert 0 <= delay <= 0.5 * 2 ** (n - 1)


def test_backoff_bound_doubles_and_is_capped():
    sleep = FakeSleep()
    retry = RetryPolicy(attempts=5, base=1.0, cap=3.0, sleep=sleep, rng=UpperBoundRng())
    exc = error_for({"side_effect": [httpx.ConnectError("down")] * 5}, TransientError, retry=retry)
    assert exc.sent is False
    assert sleep.delays == [1.0, 2.0, 3.0, 3.0]


def test_jittered_delays_are_spread_not_constant():
    retry = RetryPolicy(rng=random.Random(7))
    delays = {round(retry.delay(3, TransientError("x")), 6) for _ in range(50)}
    assert len(delays) > 40
    assert all(0 <= d <= 4.0 for d in delays)


def test_gives_up_after_the_last_attempt_with_the_last_error():
    sleep = FakeSleep()
    retry = RetryPolicy(attempts=3, sleep=sleep, rng=random.Random(1))
    exc = error_for(
        {"side_effect": [httpx.Response(500), httpx.Response(502), httpx.Response(503)]}, TransientError, retry=retry
    )
    assert "503" in str(exc)
    assert len(sleep.delays) == 2


@pytest.mark.parametrize(
    ("responder", "expected"),
    [
        (reply(401), AuthError),
        (reply(json={"errors": [{"message": "Unauthorized"}], "data": None}), AuthError),
        (reply(json={"errors": [{"message": 'Cannot query field "foo" on type "Shipment"'}]}), SchemaDriftError),
        (reply(json={"errors": [{"message": "boom"}], "data": None}), GraphQLResponseError),
        (reply(content=b"<html>"), MalformedResponseError),
    ],
)
def test_non_retryable_errors_are_tried_once(responder, expected):
    sleep = FakeSleep()
    outcome, route = run_with(responder, retry=RetryPolicy(attempts=4, sleep=sleep))
    assert isinstance(outcome, expected)
    # A rejected document is tried once in each form of the shipments query, never repeated.
    assert route.call_count == (len(documents.SHIPMENT_FORMS) if expected is SchemaDriftError else 1)
    assert sleep.delays == []


@pytest.mark.parametrize(("header", "cap", "expected"), [("7", 120.0, 7.0), ("500", 120.0, 120.0), ("90", 60.0, 60.0)])
def test_rate_limit_waits_for_retry_after_capped(header, cap, expected):
    sleep = FakeSleep()
    retry = RetryPolicy(attempts=3, retry_after_cap=cap, sleep=sleep, budget=1000)
    responses = [httpx.Response(429, headers={"Retry-After": header}), httpx.Response(200, json=page_body("S0"))]
    page, route = run_with({"side_effect": responses}, retry=retry)
    assert isinstance(page, ShipmentPage)
    assert route.call_count == 2
    assert sleep.delays == [expected]


def test_rate_limit_with_http_date_waits_about_that_long():
    sleep = FakeSleep()
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=45), usegmt=True)
    responses = [httpx.Response(429, headers={"Retry-After": when}), httpx.Response(200, json=page_body("S0"))]
    page, _ = run_with({"side_effect": responses}, retry=RetryPolicy(attempts=2, sleep=sleep))
    assert isinstance(page, ShipmentPage)
    (delay,) = sleep.delays
    assert 42 <= delay <= 45.5


def test_rate_limit_without_retry_after_uses_backoff():
    sleep = FakeSleep()
    retry = RetryPolicy(attempts=2, base=2.0, sleep=sleep, rng=UpperBoundRng())
    responses = [httpx.Response(429), httpx.Response(200, json=page_body("S0"))]
    run_with({"side_effect": responses}, retry=retry)
    assert sleep.delays == [2.0]


# --- the request itself --------------------------------------------------------------------


def test_request_carries_key_operation_document_and_variables():
    _, route = run_with(reply(json=page_body("S0")))
    request = route.calls.last.request
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers["Content-Type"].startswith("application/json")
    assert request.method == "POST"
    (body,) = sent_bodies(route)
    assert body["operationName"] == "Shipments"
    assert body["query"] == documents.load("shipments")
    assert body["variables"] == {"state": "unconfirmed", "first": 50, "after": None}


def test_page_size_and_state_are_sent():
    async def call(client: LetzshopClient) -> ShipmentPage:
        return await client.shipments_page("confirmed", after="Y3Vyc29y", first=7)

    _, route = run_with(reply(json=page_body("S0")), call)
    assert sent_bodies(route)[0]["variables"] == {"state": "confirmed", "first": 7, "after": "Y3Vyc29y"}


def test_no_redirect_is_followed():
    responder = reply(307, headers={"Location": "https://elsewhere.test/graphql"})
    error_for(responder, MalformedResponseError)


# --- paging --------------------------------------------------------------------------------


def collect_pages(state: str = "unconfirmed") -> Call:
    async def call(client: LetzshopClient) -> list[ShipmentPage]:
        return [page async for page in client.iter_shipment_pages(state)]

    return call


def test_iter_shipment_pages_follows_end_cursor_until_no_next_page():
    pages = {
        None: page_body("S1", "S2", has_next=True, cursor="c1"),
        "c1": page_body("S3", "S4", has_next=True, cursor="c2"),
        "c2": page_body("S5", has_next=False, cursor="c3"),
    }

    def serve(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=pages[json.loads(request.content)["variables"]["after"]])

    result, route = run_with({"side_effect": serve}, collect_pages(), page_size=2)
    assert [[s.id for s in page.shipments] for page in result] == [["S1", "S2"], ["S3", "S4"], ["S5"]]
    assert [body["variables"] for body in sent_bodies(route)] == [
        {"state": "unconfirmed", "first": 2, "after": None},
        {"state": "unconfirmed", "first": 2, "after": "c1"},
        {"state": "unconfirmed", "first": 2, "after": "c2"},
    ]
    assert all(body["operationName"] == "Shipments" for body in sent_bodies(route))


def test_iter_shipment_pages_stops_after_a_single_page():
    result, route = run_with(reply(json=page_body("S1", has_next=False, cursor="c1")), collect_pages("confirmed"))
    assert len(result) == 1
    assert route.call_count == 1
    assert sent_bodies(route)[0]["variables"]["state"] == "confirmed"


def test_iter_shipment_pages_refuses_a_repeated_cursor():
    def serve(request: httpx.Request) -> httpx.Response:
        if len(route.calls) > 10:  # guard: fail the test rather than loop forever
            raise AssertionError("client kept asking for the same page")
        return httpx.Response(200, json=page_body("S1", has_next=True, cursor="same"))

    with respx.mock() as router:
        route = router.post(ENDPOINT).mock(side_effect=serve)
        seen: list[ShipmentPage] = []

        async def go() -> None:
            async with LetzshopClient(ENDPOINT, KEY, retry=policy()) as client:
                async for page in client.iter_shipment_pages():
                    seen.append(page)

        with pytest.raises(MalformedResponseError) as info:
            asyncio.run(go())
    assert route.call_count == 2
    assert len(seen) == 2
    assert_key_not_leaked(info.value)


def test_iter_shipment_pages_refuses_a_cursor_cycle():
    cursors = {None: "a", "a": "b", "b": "a"}

    def serve(request: httpx.Request) -> httpx.Response:
        after = json.loads(request.content)["variables"]["after"]
        return httpx.Response(200, json=page_body(f"S-{after}", has_next=True, cursor=cursors[after]))

    outcome, route = run_with({"side_effect": serve}, collect_pages())
    assert isinstance(outcome, MalformedResponseError)
    assert route.call_count == 3


# --- endpoint checks -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://letzshop.lu/graphql",
        "https://letzshop.test/graphql",
        "HTTPS://letzshop.lu/graphql",
        "http://127.0.0.1:8765/graphql",
        "http://127.0.0.2/graphql",
        "http://localhost/graphql",
        "http://localhost:8000/graphql",
        "http://[::1]:8000/graphql",
    ],
)
def test_check_endpoint_accepts_https_and_loopback_http(url):
    assert check_endpoint(url) == url


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/graphql",
        "http://letzshop.lu/graphql",
        "http://localhost.example.com/graphql",
        "http://10.0.0.1/graphql",
        "http://0.0.0.0/graphql",
        "ftp://letzshop.lu/graphql",
        "letzshop.lu/graphql",
        "https:///graphql",
        "",
        "file:///etc/passwd",
        "ws://127.0.0.1/graphql",
    ],
)
def test_check_endpoint_refuses_plain_http_to_other_hosts_and_other_schemes(url):
    with pytest.raises(InsecureEndpointError):
        check_endpoint(url)


@pytest.mark.parametrize("url", ["http://example.com/graphql", "ftp://letzshop.lu/graphql"])
def test_client_refuses_insecure_endpoint_without_leaking_the_key(url):
    async def build() -> None:
        LetzshopClient(url, KEY)

    with pytest.raises(InsecureEndpointError) as info:
        asyncio.run(build())
    assert_key_not_leaked(info.value)


# --- keys and paging guards -------------------------------------------------------------------


@pytest.mark.parametrize("key", ["test-key-not-real\n", " test-key-not-real", "clé-test-not-real", "a b", ""])
def test_an_unsendable_key_is_refused_without_showing_it(key):
    with pytest.raises(ValueError) as caught:
        LetzshopClient("https://letzshop.test/graphql", key)
    assert key.strip() == "" or key.strip() not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__context__ is None


def test_access_denied_on_one_field_keeps_the_page():
    body = page_body("a", "b")
    path = ["shipments", "nodes", 1, "order", "email"]
    body["errors"] = [{"message": "Access denied to customer email", "path": path}]
    outcome, _ = run_with(reply(json=body))
    assert not isinstance(outcome, Exception)
    assert [s.id for s in outcome.shipments] == ["a"] and outcome.failed[0][0] == "b"


def test_more_pages_without_a_cursor_is_malformed():
    body = page_body("a")
    body["data"]["shipments"]["pageInfo"] = {"hasNextPage": True, "endCursor": None}

    async def scenario():
        with respx.mock:
            respx.post(ENDPOINT).mock(return_value=httpx.Response(200, json=body))
            async with LetzshopClient(ENDPOINT, KEY, retry=RetryPolicy(attempts=1)) as client:
                return [page async for page in client.iter_shipment_pages()]

    with pytest.raises(MalformedResponseError, match="no cursor"):
        asyncio.run(scenario())


def test_no_retry_starts_that_would_end_past_the_budget():
    now = [0.0]

    class ClockSleep(FakeSleep):
        async def __call__(self, seconds: float) -> None:
            await super().__call__(seconds)
            now[0] += seconds

    sleep = ClockSleep()
    retry = RetryPolicy(attempts=4, sleep=sleep, budget=100, retry_after_cap=1000, clock=lambda: now[0])
    responses = [httpx.Response(429, headers={"Retry-After": "30"}), httpx.Response(429, headers={"Retry-After": "80"})]
    outcome, route = run_with({"side_effect": responses}, retry=retry)
    assert isinstance(outcome, RateLimitedError)
    assert route.call_count == 2 and sleep.delays == [30.0]  # 30 + 80 > 100: the second wait is not started


def test_an_endless_answer_is_cut_off(monkeypatch):
    from letzdesk.letzshop import client as client_module

    monkeypatch.setattr(client_module, "MAX_BODY_BYTES", 1000)
    outcome, _ = run_with(reply(content=b"{" + b" " * 5000 + b"}"))
    assert isinstance(outcome, MalformedResponseError) and "larger than" in str(outcome)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:99999/",
        "http://127.0.0.1:1:80/graphql",
        "http://[::1]evil.com/",
        "https://letzshop.lu/graph ql",
        "https://letzshop.lu/\ngraphql",
        "https://letzshop.lu/" + "a" * 3000,
    ],
)
def test_unusable_endpoints_are_refused(url):
    with pytest.raises(InsecureEndpointError):
        check_endpoint(url)
