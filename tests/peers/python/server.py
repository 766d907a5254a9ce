"""Interop peer: a WebSocket server built on the Python `websockets` package.

Binds 127.0.0.1 on an OS-chosen port and prints exactly one line, ``PORT <number>``, once it listens.
Exits when its standard input reaches end of file (so it dies with the test process that started it) or on
SIGTERM. No keepalive pings, no compression (``--deflate``: permessage-deflate with the package's default
settings), messages up to 64 MiB.

Paths:
  /echo                              echo every message with the same type
  /headers                           send a JSON object of the request headers (lower-cased names), then echo
  /close?code=4001&reason=bye        close with that code and reason right after the handshake
  /close?code=4001&reason=bye&after=1  ... or after the first message received
  /ping                              send a Ping with payload "hello", then echo; when the Pong arrives,
                                     write the line "PONG hello" to stderr
  anything else                      echo

Works with websockets >= 13 (``websockets.asyncio.server``) and with the legacy API of older releases such as
the 10.4 that Debian 12 ships.
"""

import asyncio
import json
import os
import signal
import sys
import threading
from urllib.parse import parse_qs, urlsplit

try:  # websockets >= 13: the new asyncio implementation
    from websockets.asyncio.server import serve

    def request_of(connection):
        return connection.request.path, connection.request.headers

except ImportError:  # older releases: the legacy implementation
    from websockets import serve

    def request_of(connection):
        return connection.path, connection.request_headers


MAX_MESSAGE_BYTES = 64 * 1024 * 1024


async def echo(connection):
    async for message in connection:
        # str goes back as a text frame, bytes as a binary frame.
        await connection.send(message)


def headers_as_json(headers):
    result = {}
    for name, value in headers.raw_items():
        key = name.lower()
        result[key] = f"{result[key]}, {value}" if key in result else value
    return json.dumps(result)


async def report_pong(pong_waiter):
    # Tests cannot see a Pong from the client side, so the peer says on stderr that it arrived.
    try:
        await pong_waiter
    except (asyncio.CancelledError, Exception):
        return
    print("PONG hello", file=sys.stderr, flush=True)


async def handle(connection, *_legacy_path):
    target, headers = request_of(connection)
    parts = urlsplit(target)
    path = parts.path
    query = parse_qs(parts.query)

    if path == "/headers":
        await connection.send(headers_as_json(headers))
        await echo(connection)
    elif path == "/close":
        code = int(query.get("code", ["1000"])[0])
        reason = query.get("reason", [""])[0]
        if query.get("after", ["0"])[0] == "1":
            await connection.recv()
        await connection.close(code=code, reason=reason)
    elif path == "/ping":
        pong_waiter = await connection.ping(b"hello")
        report = asyncio.ensure_future(report_pong(pong_waiter))
        try:
            await echo(connection)
        finally:
            report.cancel()
    else:
        await echo(connection)


def stop_on_stdin_eof(loop, stop):
    def wait_for_eof():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        finally:
            loop.call_soon_threadsafe(lambda: stop.done() or stop.set_result(None))

    threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()


async def main():
    loop = asyncio.get_running_loop()
    stop = loop.create_future()
    loop.add_signal_handler(signal.SIGTERM, lambda: stop.done() or stop.set_result(None))
    stop_on_stdin_eof(loop, stop)

    async with serve(
        handle,
        "127.0.0.1",
        0,
        max_size=MAX_MESSAGE_BYTES,
        ping_interval=None,
        compression="deflate" if "--deflate" in sys.argv[1:] else None,
    ) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
    sys.stdout.flush()
    # The stdin reader thread may still hold the stdin lock; a normal interpreter shutdown would abort on it.
    os._exit(0)
