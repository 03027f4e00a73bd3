#!/usr/bin/env python3
"""A WebSocket server built on Python `websockets` (asyncio API) for resock's interop tests.

It behaves exactly like ../node/server.js; see ../README.md for the paths, the log format and the
command line. On startup it prints one line, `LISTENING <port>`, to stdout. It exits on SIGTERM,
SIGINT, or end of stdin (so that a server whose parent died goes away too).
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import json
import os
import signal
import ssl
import sys
import threading
from http import HTTPStatus

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ServerPerMessageDeflateFactory

MAX_MESSAGE = 17 * 1024 * 1024
SUBPROTOCOLS = ("chat.v2", "chat.v1")
# The close codes both libraries let a server send (RFC 6455 section 7.4).
SENDABLE_CODES = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
STOP_GRACE_SECONDS = 2.0
EXIT_ADDR_IN_USE = 98


def route(raw_path: str) -> tuple[str, int | None] | None:
    """The behaviour a request path selects, or None for an unknown path (answered with 404)."""
    path = raw_path.split("?", 1)[0]
    if path in ("/echo", "/headers", "/subprotocol", "/closed-by-client", "/count", "/extensions"):
        return path[1:], None
    if path.startswith("/close/"):
        digits = path[len("/close/") :]
        if digits.isascii() and digits.isdigit() and len(digits) <= 4:
            code = int(digits)
            if code in SENDABLE_CODES or 3000 <= code <= 4999:
                return "close", code
    return None


def escape(text: str) -> str:
    """One log line per event: backslash, CR and LF are escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")


class Log:
    def __init__(self, path: str | None) -> None:
        self.file = open(path, "a", encoding="utf-8") if path else None

    def line(self, text: str) -> None:
        if self.file is not None:
            self.file.write(text + "\n")
            self.file.flush()


def select_subprotocol(_connection: ServerConnection, offered: list[str]) -> str | None:
    """The first subprotocol the client offers that the server supports."""
    for name in offered:
        if name in SUBPROTOCOLS:
            return name
    return None


def process_request(connection: ServerConnection, request):
    if route(request.path) is None:
        return connection.respond(HTTPStatus.NOT_FOUND, "unknown path\n")
    return None


def headers_json(connection: ServerConnection) -> str:
    headers: dict[str, str] = {}
    for name, value in connection.request.headers.raw_items():
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return json.dumps(headers, separators=(",", ":"), ensure_ascii=False)


def make_handler(log: Log, state: dict):
    async def handler(connection: ServerConnection) -> None:
        kind, code = route(connection.request.path)
        server_closing = False
        try:
            if kind == "headers":
                await connection.send(headers_json(connection))
            elif kind == "subprotocol":
                await connection.send(connection.subprotocol or "")
            elif kind == "extensions":
                await connection.send(connection.response.headers.get("Sec-WebSocket-Extensions", ""))
            while True:
                message = await connection.recv()
                if kind == "close":
                    server_closing = True
                    await connection.close(code, "bye")
                    return
                if kind == "count" and isinstance(message, str):
                    log.line(f"msg {escape(message)}")
                await connection.send(message)
        except ConnectionClosed as closed:
            if server_closing or state["stopping"]:
                return
            if closed.rcvd is not None:
                log.line(f"close {int(closed.rcvd.code)} {escape(closed.rcvd.reason)}")
            else:
                log.line("close 1006 ")

    return handler


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Future) -> None:
    """Runs in a daemon thread: end of stdin (the parent went away) stops the server."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result("stdin closed"))


async def main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future = loop.create_future()
    state = {"stopping": False}
    log = Log(args.log)

    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    # permessage-deflate (RFC 7692): off unless --deflate asks for it.
    compression = None
    extensions = None
    if args.deflate == "on":
        compression = "deflate"  # websockets' defaults: 12-bit windows, context takeover
    elif args.deflate == "no-context-takeover":
        extensions = [
            ServerPerMessageDeflateFactory(server_no_context_takeover=True, client_no_context_takeover=True)
        ]

    try:
        server = await serve(
            make_handler(log, state),
            args.host,
            args.port,
            subprotocols=list(SUBPROTOCOLS),
            select_subprotocol=select_subprotocol,
            process_request=process_request,
            compression=compression,
            extensions=extensions,
            ping_interval=None,
            max_size=MAX_MESSAGE,
            ssl=tls,
            reuse_address=True,
        )
    except OSError as error:
        print(f"cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr, flush=True)
        return EXIT_ADDR_IN_USE if error.errno == errno.EADDRINUSE else 1

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, lambda s=sig: stop.done() or stop.set_result(s.name))
    if not args.ignore_stdin:
        threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()

    port = server.sockets[0].getsockname()[1]
    print(f"LISTENING {port}", flush=True)

    why = await stop
    print(f"stopping: {why}", file=sys.stderr, flush=True)
    state["stopping"] = True
    # Close open connections with 1001 (going away), but never wait long for a peer's answer.
    server.close()
    try:
        await asyncio.wait_for(server.wait_closed(), STOP_GRACE_SECONDS)
    except TimeoutError:
        pass
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: the OS picks a free port")
    parser.add_argument("--log", help="append `msg` and `close` lines to this file")
    parser.add_argument("--tls-cert", help="PEM certificate chain: serve wss://")
    parser.add_argument("--tls-key", help="PEM private key for --tls-cert")
    parser.add_argument(
        "--deflate",
        choices=("off", "on", "no-context-takeover"),
        default="off",
        help="permessage-deflate: off (default), on (websockets' defaults), or on with both no_context_takeover",
    )
    parser.add_argument("--ignore-stdin", action="store_true", help="do not exit at end of stdin")
    args = parser.parse_args()
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    return args


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
