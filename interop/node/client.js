#!/usr/bin/env node
// An echo client built on Node `ws` for resock's server-role interop tests.
//
// It connects to --url, prints one line `EXTENSIONS <value>` (the server's
// Sec-WebSocket-Extensions answer, empty if none), then sends back every message it receives
// (text as text, binary as binary) until the server closes, and prints `CLOSED <code>`. Behaves
// exactly like ../python/client.py; see ../README.md. Exits with 0 after a close frame from the
// server, 1 on any other end, and at end of stdin (so that a client whose parent died goes away).
'use strict';

const { parseArgs } = require('node:util');
const WebSocket = require('ws');

const MAX_MESSAGE = 17 * 1024 * 1024;
const DEFLATE_MODES = new Map([
  ['off', false],
  ['on', true],
  ['no-context-takeover', { serverNoContextTakeover: true, clientNoContextTakeover: true }],
]);

function usage(message) {
  process.stderr.write(`client.js: ${message}\nusage: client.js --url URL [--deflate on|off|no-context-takeover]\n`);
  process.exit(2);
}

function options() {
  let parsed;
  try {
    parsed = parseArgs({
      options: { url: { type: 'string' }, deflate: { type: 'string', default: 'on' } },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (error) {
    usage(error.message);
  }
  if (!parsed.url) usage('--url is required');
  if (!DEFLATE_MODES.has(parsed.deflate)) usage(`bad --deflate ${parsed.deflate}`);
  return parsed;
}

function main() {
  const opts = options();
  const ws = new WebSocket(opts.url, {
    perMessageDeflate: DEFLATE_MODES.get(opts.deflate),
    maxPayload: MAX_MESSAGE,
    handshakeTimeout: 10000,
  });
  let agreed = '';
  ws.on('upgrade', (response) => {
    agreed = response.headers['sec-websocket-extensions'] || '';
  });
  ws.on('open', () => process.stdout.write(`EXTENSIONS ${agreed}\n`));
  ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
  ws.on('error', (error) => process.stderr.write(`client error: ${error.message}\n`));
  ws.on('close', (code) => {
    process.stdout.write(`CLOSED ${code}\n`, () => process.exit(code === 1006 ? 1 : 0));
  });
  process.stdin.on('data', () => {});
  process.stdin.on('end', () => {
    process.stderr.write('stopping: stdin closed\n');
    process.exit(1);
  });
}

main();
