"""A local Letzshop: the app's GraphQL schema served over real HTTP on loopback.

Demos, end-to-end tests and benchmarks need something that speaks the same protocol as Letzshop
(POST JSON to /graphql, Bearer key, Relay paging) without ever touching production, where every
mutation is real. The schema is read from the file the app's documents are validated against, so
the sandbox cannot drift from the contract.

Everything a request can see lives in one ``SandboxState``. The two mutations (confirm/decline
units, set tracking) change it for real and keep a record of every answer applied, so tests can
prove nothing was sent twice. Faults (latency, 429, 503, dropped answers) are ASGI middleware
around the GraphQL app, configured by ``faults.Faults``.
"""

from __future__ import annotations

import hmac
import logging
import signal
import socket
import threading
import time
from importlib.resources import files
from typing import Any

import uvicorn
from ariadne import MutationType, QueryType, UnionType, make_executable_schema
from ariadne.asgi import GraphQL
from ariadne.asgi.handlers import GraphQLHTTPHandler
from graphql import DocumentNode, GraphQLError, GraphQLResolveInfo, GraphQLSchema, parse, validate
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from letzdesk.sandbox.data import generate_shipments
from letzdesk.sandbox.faults import FaultInjection, Faults, QuietDrops
from letzdesk.sandbox.state import UNAUTHORIZED_BODY, SandboxState

logger = logging.getLogger(__name__)

#: Every answer and tracking the sandbox applied, as JSON (behind the same key, never faulted).
RECORD_PATH = "/sandbox/record"


def load_schema_text() -> str:
    """The schema the app relies on, read as data so the sandbox serves exactly the contract."""
    return (files("letzdesk.letzshop") / "schema.graphql").read_text(encoding="utf-8")


#: What ``drift=True`` changes in the served schema: a renamed argument and a renamed field, the
#: kind of change a marketplace makes without notice. The app's schema check must name both.
DRIFT = (
    (
        "shipments(state: ShipmentStateEnum, first: Int, after: String)",
        "shipments(state: ShipmentStateEnum, first: Int, cursor: String)",
    ),
    ("  tradeId: TradeId\n", "  tradeIdentifier: TradeId\n"),
)


def _schema_text(drift: bool) -> str:
    text = load_schema_text()
    if drift:
        for old, new in DRIFT:
            if old not in text:
                raise RuntimeError(f"sandbox drift: {old!r} not found in schema.graphql")
            text = text.replace(old, new)
    return text


def _build_schema(drift: bool = False) -> GraphQLSchema:
    """Bind resolvers to the schema file; everything but paging, mutations and the brand union uses dict keys."""
    query = QueryType()
    brand = UnionType("BrandUnion")

    @query.field("shipments")
    def resolve_shipments(
        _: Any,
        info: GraphQLResolveInfo,
        state: str | None = None,
        first: int | None = None,
        after: str | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        return info.context["sandbox"].page(state, first, after or cursor)

    @brand.type_resolver
    def resolve_brand_type(obj: dict[str, Any], *_: Any) -> str:
        return obj.get("__typename") or ("Brand" if "name" in obj else "BrandUnknown")

    mutation = MutationType()

    @mutation.field("confirmInventoryUnits")
    def resolve_confirm(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        return info.context["sandbox"].confirm_units(input["inventoryUnits"])

    @mutation.field("setShipmentTracking")
    def resolve_tracking(_: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> dict[str, Any]:
        return info.context["sandbox"].set_tracking(input["shipmentId"], input["code"], input["provider"])

    return make_executable_schema(_schema_text(drift), query, mutation, brand)


class _DocumentCache:
    """Parse and validate each distinct query text once.

    Clients send the same few documents over and over (a benchmark pages 100 times with one query),
    and parsing plus validating the shipments document costs about a sixth of serving a page.
    Used from the server's event loop only, so it needs no lock. Validation results are keyed by
    the parsed document's identity and kept alongside it, so a recycled id can never match.
    """

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._documents: dict[str, DocumentNode] = {}
        self._validated: dict[int, tuple[DocumentNode, list[GraphQLError]]] = {}

    def parse(self, _context: Any, data: dict[str, Any]) -> DocumentNode:
        query = data["query"]
        document = self._documents.get(query)
        if document is None:
            document = parse(query)
            if len(self._documents) >= self.size:  # drop the oldest entry (dicts keep insertion order)
                oldest = self._documents.pop(next(iter(self._documents)))
                self._validated.pop(id(oldest), None)
            self._documents[query] = document
        return document

    def validate(self, schema: GraphQLSchema, document: DocumentNode, **kwargs: Any) -> list[GraphQLError]:
        cached = self._validated.get(id(document))
        if cached is not None and cached[0] is document:
            return cached[1]
        errors = validate(schema, document, **kwargs)
        self._validated[id(document)] = (document, errors)  # documents only come from parse(), so this is bounded
        return errors


class _ClientErrorLog(logging.LoggerAdapter):
    """Ariadne logs every GraphQL error at ERROR with a traceback.

    A bad cursor or an invalid query is the sandbox doing its job, so errors that come down to a
    GraphQLError go to DEBUG; errors wrapping an unexpected exception (a sandbox bug) stay at ERROR.
    """

    def error(self, msg: object, *args: Any, **kwargs: Any) -> None:
        cause = kwargs.get("exc_info")
        while isinstance(cause, GraphQLError) and cause.original_error is not None:
            cause = cause.original_error
        level = logging.DEBUG if isinstance(cause, GraphQLError) else logging.ERROR
        self.logger.log(level, msg, *args, **kwargs)


class _AlwaysOkHandler(GraphQLHTTPHandler):
    """Answer executed operations with HTTP 200 even when ``data`` is null.

    Ariadne answers 400 when a resolver error nulls the whole result (our root field is non-null),
    but GraphQL servers in the wild, and what the client is written against, report such failures
    as 200 with an ``errors`` array. Unparseable bodies still get 400 before reaching this method.
    """

    async def create_json_response(self, request: Request, result: dict, success: bool) -> Response:
        return JSONResponse(result, status_code=200)


class BearerAuth:
    """Reject requests without ``Authorization: Bearer <key>`` when the state has a key.

    A plain ASGI middleware (no request body buffering). The key is read per request so a later
    change can rotate it, and it is compared in constant time and never echoed.
    """

    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = self.state.api_key
        if scope["type"] != "http" or key is None:
            await self.app(scope, receive, send)
            return

        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key.encode()):
            await self.app(scope, receive, send)
            return

        response = JSONResponse(UNAUTHORIZED_BODY, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)


def create_app(
    shipments: list[dict[str, Any]], api_key: str | None, *, drift: bool = False, faults: Faults | None = None
) -> Starlette:
    """ASGI app serving the schema at /graphql; its ``SandboxState`` is ``app.state.sandbox``.

    Faults sit inside the key check: a refused key is answered at once, as before.
    """
    state = SandboxState(shipments=shipments, api_key=api_key, faults=faults)
    documents = _DocumentCache()
    graphql_app = GraphQL(
        _build_schema(drift),
        context_value=lambda request, _data: {"request": request, "sandbox": state},
        query_parser=documents.parse,
        query_validator=documents.validate,
        logger=_ClientErrorLog(logger, {}),
        http_handler=_AlwaysOkHandler(),
    )

    async def record(_request: Request) -> JSONResponse:
        """The sandbox's own record, so a sandbox in another process can be checked from outside."""
        faults = state.faults
        injected = None if faults is None else {"calls": faults.calls(), **faults.counts()}
        return JSONResponse({**state.record(), "faults": injected})

    app = Starlette(
        routes=[
            Route("/graphql", graphql_app, methods=["GET", "POST"]),
            Route(RECORD_PATH, record, methods=["GET"]),
        ],
        middleware=[Middleware(BearerAuth, state=state), Middleware(FaultInjection, state=state)],
    )
    app.state.sandbox = state
    return app


class SandboxServer:
    """uvicorn in a daemon thread, for tests, demos and benchmarks inside one process.

    The listening socket is bound here, before the thread starts, so a busy port fails in
    ``start()`` with a clear message and port 0 yields the real port at once. uvicorn only installs
    signal handlers on the main thread, so running it in a worker thread leaves the host's Ctrl-C
    handling alone. While it runs, ``QuietDrops`` keeps injected drops out of uvicorn's error log.
    """

    def __init__(
        self,
        shipments: list[dict[str, Any]],
        *,
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        drift: bool = False,
        faults: Faults | None = None,
    ) -> None:
        self.app = create_app(shipments, api_key, drift=drift, faults=faults)
        self.host = host
        self.port = port
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._failure: BaseException | None = None
        self._quiet_drops = QuietDrops()

    @property
    def state(self) -> SandboxState:
        return self.app.state.sandbox

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/graphql"

    def start(self, timeout: float = 5.0) -> None:
        """Return once uvicorn is accepting connections; raise RuntimeError if it cannot."""
        if self._thread is not None:
            raise RuntimeError("Sandbox server already started")

        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        try:
            listening = socket.create_server((self.host, self.port), family=family)
        except OSError as exc:
            raise RuntimeError(f"Letzshop sandbox cannot listen on {self.host}:{self.port}: {exc}") from exc
        # create_server leaves proto 0, and asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP: without it every answer after a connection's first waited ~40 ms (Nagle).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP, fileno=listening.detach())
        self.port = sock.getsockname()[1]

        config = uvicorn.Config(self.app, log_level="warning", access_log=False, log_config=None, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, args=(sock,), name="letzshop-sandbox", daemon=True)
        self._thread.start()

        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                sock.close()
                raise RuntimeError(f"Letzshop sandbox failed to start on {self.url}: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Letzshop sandbox did not start within {timeout} s on {self.url}")
            time.sleep(0.005)
        logger.info("Letzshop sandbox listening on %s", self.url)

    def _serve(self, sock: socket.socket) -> None:
        """Thread body; uvicorn reports startup failure with SystemExit, which must not vanish."""
        assert self._server is not None
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(self._quiet_drops)
        try:
            self._server.run(sockets=[sock])
        except BaseException as exc:
            self._failure = exc
            logger.exception("Letzshop sandbox stopped with an error")
        finally:
            uvicorn_log.removeFilter(self._quiet_drops)

    def stop(self, timeout: float = 5.0) -> None:
        """Close connections and join the thread; a second call is a no-op."""
        if self._server is None or self._thread is None:
            return

        self._server.should_exit = True
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("Letzshop sandbox did not stop within %s s; forcing", timeout)
            self._server.force_exit = True
            self._thread.join(timeout)
        self._server = None
        self._thread = None

    def __enter__(self) -> SandboxServer:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()


def run(
    host: str = "127.0.0.1",
    port: int = 8765,
    shipments: int = 40,
    seed: int = 7,
    api_key: str | None = None,
    drift: bool = False,
    faults: Faults | None = None,
) -> None:
    """Serve generated shipments until Ctrl-C or SIGTERM, then exit cleanly.

    The server runs in its worker thread while this (main) thread waits for our own signal
    handlers. Letting uvicorn own the signals instead would make it re-raise them after shutdown,
    so Ctrl-C would end in a KeyboardInterrupt traceback and SIGTERM in a killed process.
    """
    server = SandboxServer(
        generate_shipments(shipments, seed), api_key=api_key, host=host, port=port, drift=drift, faults=faults
    )
    stopping = threading.Event()
    previous: dict[int, Any] = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, lambda *_: stopping.set())

    try:
        server.start()
        key_note = ("key required" if api_key else "no key") + (", drifted schema" if drift else "")
        print(f"Letzshop sandbox: {server.url} ({shipments} shipments, seed {seed}, {key_note})", flush=True)
        if faults is not None:
            print(f"Faults: {faults.describe()}", flush=True)
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()
        applied = record_summary(server.state.record())
        if applied:
            print(applied, flush=True)
        if faults is not None and faults.calls():
            injected = ", ".join(f"{kind} x{count}" for kind, count in faults.counts().items())
            print(f"Faults injected in {faults.calls()} calls: {injected}", flush=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def record_summary(record: dict[str, Any]) -> str | None:
    """One line on what was applied, with what was applied more than once; None when nothing was."""
    answers, trackings = record["answers"], record["trackings"]
    if not answers and not trackings:
        return None
    answered = sum(len(applied) for applied in answers.values())
    tracked = sum(len(applied) for applied in trackings.values())
    answered_twice = sum(len(applied) > 1 for applied in answers.values())
    tracked_twice = sum(len(applied) > 1 for applied in trackings.values())
    return (
        f"Applied {answered} answers to {len(answers)} items ({answered_twice} more than once), "
        f"tracking {tracked} times on {len(trackings)} shipments ({tracked_twice} more than once)"
    )
