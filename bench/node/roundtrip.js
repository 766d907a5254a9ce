'use strict';

// The Node `ws` client as a reference for the round-trip account (Duplex.Benchmarks hops): 64-byte
// text round trips to an echo URL, one at a time, after a warm-up; prints wall and CPU time (user +
// system, the whole process) per round trip as Markdown. Usage: node roundtrip.js <ws path> <url> <round trips>
const [wsPath, url, count] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const WebSocket = require(wsPath);
const version = require(require('path').join(wsPath, 'package.json')).version;

const text = 'x'.repeat(64);
const warmUp = 50000;
const socket = new WebSocket(url, { perMessageDeflate: false });
let remaining = warmUp + count;
let cpuStart;
let wallStart;

socket.on('open', () => socket.send(text));
socket.on('message', (data) => {
  if (data.toString().length !== text.length) {
    throw new Error('an echo came back with the wrong length');
  }

  remaining--;
  if (remaining === count) {
    cpuStart = process.cpuUsage();
    wallStart = process.hrtime.bigint();
  }

  if (remaining > 0) {
    socket.send(text);
    return;
  }

  const cpu = process.cpuUsage(cpuStart);
  const wall = Number(process.hrtime.bigint() - wallStart) / 1000;
  console.log(`#### Node ws ${version} (reference)\n`);
  console.log(`- Warm-up: ${warmUp} round trips`);
  console.log(`- ${count} round trips: wall ${(wall / count).toFixed(1)} µs, CPU ${((cpu.user + cpu.system) / count).toFixed(1)} µs; one thread runs the event loop, the read, the callback and the write`);
  socket.close();
});
socket.on('error', (error) => {
  console.error(error.message);
  process.exit(1);
});
