'use strict';

// Interop peer: a WebSocket server built on the Node `ws` package.
//
// Binds 127.0.0.1 on an OS-chosen port and prints exactly one line, `PORT <number>`, once it listens.
// Exits when its standard input reaches end of file (so it dies with the test process that started it) or on
// SIGTERM. No keepalive pings, no compression (`--deflate`: permessage-deflate with the package's defaults),
// messages up to 64 MiB.
//
// Paths:
//   /echo                                echo every message with the same type
//   /headers                             send a JSON object of the request headers (lower-cased names), then echo
//   /close?code=4001&reason=bye          close with that code and reason right after the handshake
//   /close?code=4001&reason=bye&after=1  ... or after the first message received
//   /ping                                send a Ping with payload "hello", then echo; when the Pong arrives,
//                                        write the line "PONG hello" to stderr
//   anything else                        echo

const { WebSocketServer } = require('ws');

const MAX_MESSAGE_BYTES = 64 * 1024 * 1024;

function echo(socket) {
  socket.on('message', (data, isBinary) => socket.send(data, { binary: isBinary }));
}

function headersAsJson(rawHeaders) {
  const result = {};
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = rawHeaders[i].toLowerCase();
    const value = rawHeaders[i + 1];
    result[name] = name in result ? `${result[name]}, ${value}` : value;
  }
  return JSON.stringify(result);
}

function closeWith(socket, code, reason) {
  try {
    socket.close(code, reason);
  } catch {
    // ws refuses codes a server may not send; drop the connection instead.
    socket.terminate();
  }
}

const server = new WebSocketServer({
  host: '127.0.0.1',
  port: 0,
  maxPayload: MAX_MESSAGE_BYTES,
  perMessageDeflate: process.argv.slice(2).includes('--deflate'),
  clientTracking: true,
});

server.on('connection', (socket, request) => {
  socket.on('error', () => {});
  const url = new URL(request.url, 'ws://127.0.0.1');
  switch (url.pathname) {
    case '/headers':
      socket.send(headersAsJson(request.rawHeaders));
      echo(socket);
      break;
    case '/close': {
      const code = Number.parseInt(url.searchParams.get('code') ?? '1000', 10);
      const reason = url.searchParams.get('reason') ?? '';
      if (url.searchParams.get('after') === '1') {
        socket.once('message', () => closeWith(socket, code, reason));
      } else {
        closeWith(socket, code, reason);
      }
      break;
    }
    case '/ping':
      // Tests cannot see a Pong from the client side, so the peer says on stderr that it arrived.
      socket.once('pong', (data) => process.stderr.write(`PONG ${data.toString('utf8')}\n`));
      socket.ping('hello');
      echo(socket);
      break;
    default:
      echo(socket);
      break;
  }
});

server.on('listening', () => {
  process.stdout.write(`PORT ${server.address().port}\n`);
});

function shutdown() {
  for (const socket of server.clients) {
    socket.terminate();
  }
  server.close();
  process.exit(0);
}

process.on('SIGTERM', shutdown);
process.stdin.on('end', shutdown);
process.stdin.on('error', shutdown);
process.stdin.resume();
