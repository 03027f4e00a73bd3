#!/usr/bin/env python3
"""An echo client built on Python `websockets` (asyncio API) for resock's server-role interop tests.

It connects to --url, prints one line `EXTENSIONS <value>` (the server's Sec-WebSocket-Extensions
answer, empty if none), then sends back every message it receives (text as text, binary as binary)
until the server closes, and prints `CLOSED <code>`. Behaves exactly like ../node/client.js; see
../README.md. Exits with 0 after a close frame from the server, 1 on any other end, and at end of
stdin (so that a client whose parent died goes away too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory

MAX_MESSAGE = 17 * 1024 * 1024


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Future) -> None:
    """Runs in a daemon thread: end of stdin (the parent went away) stops the client."""
    try:
        while os.read(0, 4096):
            pass
    except OSError:
        pass
    loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result("stdin closed"))


async def echo(args: argparse.Namespace) -> int:
    compression = None
    extensions = None
    if args.deflate == "on":
        compression = "deflate"  # websockets' defaults: context takeover both ways
    elif args.deflate == "no-context-takeover":
        extensions = [
            ClientPerMessageDeflateFactory(
                server_no_context_takeover=True,
                client_no_context_takeover=True,
                client_max_window_bits=True,
            )
        ]
    async with connect(
        args.url,
        compression=compression,
        extensions=extensions,
        max_size=MAX_MESSAGE,
        ping_interval=None,
        open_timeout=10,
    ) as connection:
        agreed = connection.response.headers.get("Sec-WebSocket-Extensions", "")
        print(f"EXTENSIONS {agreed}", flush=True)
        try:
            async for message in connection:
                await connection.send(message)
        except ConnectionClosed:
            pass
        rcvd = connection.protocol.close_rcvd
        print(f"CLOSED {int(rcvd.code) if rcvd else 1006}", flush=True)
        return 0 if rcvd is not None else 1


async def main(args: argparse.Namespace) -> int:
    loop = asyncio.get_running_loop()
    stop: asyncio.Future = loop.create_future()
    threading.Thread(target=watch_stdin, args=(loop, stop), daemon=True).start()
    run = asyncio.ensure_future(echo(args))
    done, _ = await asyncio.wait({run, stop}, return_when=asyncio.FIRST_COMPLETED)
    if run in done:
        return run.result()
    run.cancel()
    print(f"stopping: {stop.result()}", file=sys.stderr, flush=True)
    return 1


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="ws://127.0.0.1:<port>/<path>")
    parser.add_argument(
        "--deflate",
        choices=("off", "on", "no-context-takeover"),
        default="on",
        help="permessage-deflate: on (websockets' default), off, or on with both no_context_takeover",
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
