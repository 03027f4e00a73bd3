#!/usr/bin/env node
// A WebSocket server built on Node `ws` for resock's interop tests.
//
// It behaves exactly like ../python/server.py; see ../README.md for the paths, the log format and
// the command line. On startup it prints one line, `LISTENING <port>`, to stdout. It exits on
// SIGTERM, SIGINT, or end of stdin (so that a server whose parent died goes away too).
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const { parseArgs } = require('node:util');
const { WebSocketServer } = require('ws');

const MAX_MESSAGE = 17 * 1024 * 1024;
const SUBPROTOCOLS = ['chat.v2', 'chat.v1'];
// The close codes both libraries let a server send (RFC 6455 section 7.4).
const SENDABLE_CODES = new Set([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014]);
const STOP_GRACE_MS = 2000;
const EXIT_ADDR_IN_USE = 98;
// permessage-deflate (RFC 7692) by --deflate: off (the default), on with ws's defaults, or on with
// both no_context_takeover parameters.
const DEFLATE_MODES = new Map([
  ['off', false],
  ['on', true],
  ['no-context-takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
]);

function usage(message) {
  process.stderr.write(`server.js: ${message}\n`);
  process.stderr.write(
    'usage: server.js [--host H] [--port P] [--log FILE] [--tls-cert PEM --tls-key PEM] [--deflate MODE] [--ignore-stdin]\n',
  );
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '0' },
        log: { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'ignore-stdin': { type: 'boolean', default: false },
        deflate: { type: 'string', default: 'off' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    usage(error.message);
  }
  const port = Number(parsed.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) usage(`bad --port ${parsed.port}`);
  if (Boolean(parsed['tls-cert']) !== Boolean(parsed['tls-key'])) usage('--tls-cert and --tls-key go together');
  if (!DEFLATE_MODES.has(parsed.deflate)) usage(`bad --deflate ${parsed.deflate} (off, on, no-context-takeover)`);
  return { ...parsed, port };
}

// The behaviour a request path selects, or null for an unknown path (answered with 404).
function route(rawPath) {
  const path = (rawPath || '').split('?', 1)[0];
  if (['/echo', '/headers', '/subprotocol', '/closed-by-client', '/count', '/extensions'].includes(path)) {
    return { kind: path.slice(1), code: null };
  }
  const match = /^\/close\/([0-9]{1,4})$/.exec(path);
  if (match) {
    const code = Number(match[1]);
    if (SENDABLE_CODES.has(code) || (code >= 3000 && code <= 4999)) return { kind: 'close', code };
  }
  return null;
}

// One log line per event: backslash, CR and LF are escaped.
function escape(text) {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r');
}

function makeLog(path) {
  return (line) => {
    if (path) fs.appendFileSync(path, `${line}\n`, 'utf8');
  };
}

function headersJson(request) {
  const headers = {};
  const raw = request.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const key = raw[i].toLowerCase();
    headers[key] = Object.prototype.hasOwnProperty.call(headers, key) ? `${headers[key]}, ${raw[i + 1]}` : raw[i + 1];
  }
  return JSON.stringify(headers);
}

function main() {
  const opts = options();
  const log = makeLog(opts.log);
  let stopping = false;

  const server = opts['tls-cert']
    ? https.createServer({ cert: fs.readFileSync(opts['tls-cert']), key: fs.readFileSync(opts['tls-key']) })
    : http.createServer();

  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: MAX_MESSAGE,
    perMessageDeflate: DEFLATE_MODES.get(opts.deflate),
    // The first subprotocol the client offers that the server supports.
    handleProtocols: (offered) => [...offered].find((name) => SUBPROTOCOLS.includes(name)) || false,
  });

  // The Sec-WebSocket-Extensions value of each 101 answer, for the /extensions path.
  wss.on('headers', (headers, request) => {
    const line = headers.find((h) => /^sec-websocket-extensions:/i.test(h));
    request.resockExtensions = line ? line.slice(line.indexOf(':') + 1).trim() : '';
  });

  server.on('request', (request, response) => {
    response.writeHead(426, { 'Content-Type': 'text/plain', Connection: 'close' });
    response.end('a WebSocket server: send an upgrade request\n');
  });

  server.on('upgrade', (request, socket, head) => {
    const selected = route(request.url);
    if (selected === null || stopping) {
      const [status, body] = stopping ? ['503 Service Unavailable', 'stopping\n'] : ['404 Not Found', 'unknown path\n'];
      socket.end(
        `HTTP/1.1 ${status}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(request, socket, head, (ws) => serveConnection(ws, request, selected));
  });

  function serveConnection(ws, request, { kind, code }) {
    let serverClosing = false;
    ws.on('error', (error) => process.stderr.write(`connection error: ${error.message}\n`));
    ws.on('message', (data, isBinary) => {
      if (serverClosing || ws.readyState !== ws.OPEN) return;
      if (kind === 'close') {
        serverClosing = true;
        ws.close(code, 'bye');
        return;
      }
      if (kind === 'count' && !isBinary) log(`msg ${escape(data.toString('utf8'))}`);
      ws.send(data, { binary: isBinary });
    });
    ws.on('close', (closeCode, reason) => {
      if (serverClosing || stopping) return;
      log(`close ${closeCode} ${escape(reason.toString('utf8'))}`);
    });
    if (kind === 'headers') ws.send(headersJson(request));
    else if (kind === 'subprotocol') ws.send(ws.protocol || '');
    else if (kind === 'extensions') ws.send(request.resockExtensions || '');
  }

  server.on('error', (error) => {
    process.stderr.write(`cannot listen on ${opts.host}:${opts.port}: ${error.message}\n`);
    process.exit(error.code === 'EADDRINUSE' ? EXIT_ADDR_IN_USE : 1);
  });

  // Node sets SO_REUSEADDR on listening sockets, so a restart on the same port is not blocked by
  // connections of the previous server in TIME_WAIT.
  server.listen(opts.port, opts.host, () => {
    process.stdout.write(`LISTENING ${server.address().port}\n`);
  });

  function stop(why) {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`stopping: ${why}\n`);
    server.close();
    // Close open connections with 1001 (going away), but never wait long for a peer's answer.
    for (const ws of wss.clients) ws.close(1001);
    const done = () => process.exit(0);
    const timer = setTimeout(done, STOP_GRACE_MS);
    const poll = setInterval(() => {
      if (wss.clients.size === 0) {
        clearInterval(poll);
        clearTimeout(timer);
        done();
      }
    }, 10);
  }

  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  if (!opts['ignore-stdin']) {
    process.stdin.on('data', () => {});
    process.stdin.on('end', () => stop('stdin closed'));
    process.stdin.on('error', () => stop('stdin closed'));
  }
}

main();
