'use strict';

// A Node `ws` client for the loopback comparison's process-per-client mode, as a reference column:
// the same line protocol as the .NET `client` command (bench/Duplex.Benchmarks/Loopback/ScenarioProtocol.cs),
// the same scenarios written the way a Node application would use `ws` (each text made a string,
// each send awaited through its callback, one round trip at a time). It is never part of a target.
//
// usage: node bench/node-client.js --server ws://127.0.0.1:PORT --size 64 --binary-size 1048576
//
// Prints `ready <pid>`, then answers each command line on stdin with one line on stdout. A reading is
// "<operations> <elapsed-ns> <cpu-ns> <allocated-bytes> <context-switches>"; allocated bytes are -1
// (V8 has no process-wide allocation counter); context switches come from getrusage, like .NET's.

const path = require('path');
const readline = require('readline');
const WebSocket = require(path.join(__dirname, '..', 'tests', 'peers', 'node', 'node_modules', 'ws'));

function option(name) {
  const i = process.argv.indexOf(name);
  if (i < 0 || i + 1 >= process.argv.length) throw new Error(`node-client needs ${name}`);
  return process.argv[i + 1];
}

const server = option('--server').replace(/\/$/, '');
const text = 'x'.repeat(Number(option('--size')));
const binary = Buffer.alloc(Number(option('--binary-size')), 7);
let echo = null;

function switches() {
  const usage = process.resourceUsage();
  return usage.voluntaryContextSwitches + usage.involuntaryContextSwitches;
}

function meter() {
  const started = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  const ctx = switches();
  return (operations) => {
    const elapsed = process.hrtime.bigint() - started;
    const used = process.cpuUsage(cpu);
    const cpuNs = BigInt(used.user + used.system) * 1000n;
    return `${operations} ${elapsed} ${cpuNs} -1 ${switches() - ctx}`;
  };
}

function open(url) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, { perMessageDeflate: false, maxPayload: 64 * 1024 * 1024 });
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

function close(socket) {
  return new Promise((resolve) => {
    if (socket.readyState === WebSocket.CLOSED) return resolve();
    socket.once('close', () => resolve());
    socket.close(1000);
  });
}

function send(socket, data) {
  return new Promise((resolve, reject) => socket.send(data, (error) => (error ? reject(error) : resolve())));
}

// S1: the server pushes `count` texts after the handshake; timed from the connect to the last one.
async function receive(count) {
  const stop = meter();
  const socket = new WebSocket(`${server}/push?count=${count}&size=${text.length}`, { perMessageDeflate: false });
  let seen = 0;
  let chars = 0;
  await new Promise((resolve, reject) => {
    socket.on('message', (data) => {
      chars += data.toString().length;
      if (++seen === count) resolve();
    });
    socket.once('error', reject);
  });
  const reading = stop(count);
  if (chars !== count * text.length) throw new Error(`received ${chars} characters, expected ${count * text.length}`);
  await close(socket);
  return reading;
}

// S2: `count` awaited sends, then "done"; the server's count must match.
async function sendAll(count) {
  const socket = await open(`${server}/sink`);
  const reply = new Promise((resolve) => socket.once('message', (data) => resolve(data.toString())));
  const stop = meter();
  for (let i = 0; i < count; i++) await send(socket, text);
  await send(socket, 'done');
  const counted = Number(await reply);
  const reading = stop(count);
  if (counted !== count) throw new Error(`the server counted ${counted} messages, expected ${count}`);
  await close(socket);
  return reading;
}

function roundTrip(socket, payload, expected) {
  return new Promise((resolve, reject) => {
    socket.once('message', (data, isBinary) => {
      const length = isBinary ? data.length : data.toString().length;
      if (length !== expected) reject(new Error(`an echo came back with ${length}, expected ${expected}`));
      else resolve();
    });
    socket.send(payload, { binary: payload !== text }, (error) => error && reject(error));
  });
}

async function block(socket, payload, expected, count, timed) {
  const times = new Array(count);
  const stop = timed ? meter() : null;
  for (let i = 0; i < count; i++) {
    const sent = process.hrtime.bigint();
    await roundTrip(socket, payload, expected);
    times[i] = process.hrtime.bigint() - sent;
  }
  return timed ? `${stop(count)} ${times.join(',')}` : '';
}

async function warm(received, sent, texts, binaries) {
  if (received > 0) await receive(received);
  if (sent > 0) await sendAll(sent);
  if (texts > 0 || binaries > 0) {
    const socket = await open(`${server}/echo`);
    await block(socket, text, text.length, texts, false);
    await block(socket, binary, binary.length, binaries, false);
    await close(socket);
  }
}

function count(words, i, least = 1) {
  const n = Number(words[i]);
  if (!Number.isInteger(n) || n < least) throw new Error(`'${words[0]}' needs a count of at least ${least} as argument ${i}`);
  return n;
}

async function execute(words) {
  switch (words[0]) {
    case 'warm': await warm(count(words, 1, 0), count(words, 2, 0), count(words, 3, 0), count(words, 4, 0)); return 'ok';
    case 's1': return `ok ${await receive(count(words, 1))}`;
    case 's2': return `ok ${await sendAll(count(words, 1))}`;
    case 'connect':
      if (echo) throw new Error('The echo connection is already open.');
      echo = await open(`${server}/echo`);
      return 'ok';
    case 's3-block': return `ok ${await block(echo, text, text.length, count(words, 1), true)}`;
    case 's4-block': return `ok ${await block(echo, binary, binary.length, count(words, 1), true)}`;
    case 'close':
      if (echo) await close(echo);
      echo = null;
      return 'ok';
    case 'quit': return 'ok';
    default: throw new Error(`Unknown command '${words[0]}'.`);
  }
}

async function main() {
  process.stdout.write(`ready ${process.pid}\n`);
  const lines = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of lines) {
    const words = line.trim().split(/\s+/).filter((w) => w.length > 0);
    if (words.length === 0) continue;
    let reply;
    try {
      reply = await execute(words);
    } catch (error) {
      reply = `error ${error.name}: ${String(error.message).replace(/\s+/g, ' ')}`;
    }
    process.stdout.write(`${reply}\n`);
    if (words[0] === 'quit') break;
  }
  process.exit(0);
}

main();
