#!/usr/bin/env node
// An example `chargespec conform` adapter in Node.js: the JSON-lines protocol, one object per
// line each way (hello, reset, event, bye).  This one relays every request to a charge-point
// implementation started as a child process (by default the reference model); a firmware team
// replaces `forward` with calls into its own simulator or device.
//
//   CHARGESPEC_PYTHON=.venv/bin/python \
//     chargespec conform vectors/stop_modes.json --adapter "stdio:node examples/adapters/relay.js"
'use strict';
const { spawn } = require('child_process');
const readline = require('readline');

const python = process.env.CHARGESPEC_PYTHON || 'python3';
const child = spawn(python, ['-m', 'chargespec.models.stdio'], { stdio: ['pipe', 'pipe', 'inherit'] });
child.on('exit', (code) => process.exit(code === null ? 1 : code));
const answers = readline.createInterface({ input: child.stdout });
const pending = [];
answers.on('line', (line) => {
  const reply = pending.shift();
  if (reply) reply(line);
});

function forward(request) {
  return new Promise((resolve) => {
    pending.push(resolve);
    child.stdin.write(JSON.stringify(request) + '\n');
  });
}

const requests = readline.createInterface({ input: process.stdin });
requests.on('line', async (line) => {
  const request = JSON.parse(line);
  if (request.type === 'bye') {
    child.stdin.end();
    process.exit(0);
  }
  const answer = JSON.parse(await forward(request));
  if (request.type === 'hello') answer.name = `node relay to ${answer.name}`;
  process.stdout.write(JSON.stringify(answer) + '\n');
});
requests.on('close', () => child.stdin.end());
