// Runs the graphql-http audit suite (GraphQL over HTTP, MUST and SHOULD) against the real
// keepsake binary on a fresh SQLite database, without a token. Prints every audit and exits
// non-zero unless every one passes (an error, a warning or even a notice fails the run).
//
//   node .ci/graphql-http-audit.mjs [path/to/keepsake]   (default: target/debug/keepsake)
//
// Needs `npm ci` in .ci/ first.

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { serverAudits } from 'graphql-http';

const binary = resolve(process.argv[2] ?? 'target/debug/keepsake');
const dir = mkdtempSync(join(tmpdir(), 'keepsake-audit-'));

const server = spawn(binary, ['serve', '--bind', '127.0.0.1:0'], {
  env: {
    ...process.env,
    DATABASE_URL: `sqlite://${dir}/k.db?mode=rwc`,
    RUST_LOG: 'info',
    NO_COLOR: '1',
  },
  stdio: ['ignore', 'pipe', 'pipe'],
});

let log = '';
function cleanUp() {
  server.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

// The address from the start-up line: `Keepsake is serving … address=127.0.0.1:PORT`.
const address = await new Promise((found, failed) => {
  const timer = setTimeout(() => failed(new Error('no "Keepsake is serving" line within 60 s')), 60_000);
  const read = (chunk) => {
    log += chunk.toString();
    const line = log.split('\n').find((l) => l.includes('Keepsake is serving'));
    const match = line && /address=(\S+)/.exec(line.replace(/\x1b\[[0-9;]*m/g, ''));
    if (match) {
      clearTimeout(timer);
      found(match[1].replace(/^"|"$/g, ''));
    }
  };
  server.stdout.on('data', read);
  server.stderr.on('data', read);
  server.on('exit', (code) => {
    clearTimeout(timer);
    failed(new Error(`keepsake exited (${code}) before serving`));
  });
}).catch((err) => {
  console.error(`FAIL: ${err.message}\n${log}`);
  cleanUp();
  process.exit(1);
});

const url = `http://${address}/graphql`;
console.log(`auditing ${url}`);

const counts = { ok: 0, notice: 0, warn: 0, error: 0 };
try {
  for (const audit of serverAudits({ url, fetchFn: fetch })) {
    const result = await audit.fn();
    counts[result.status] += 1;
    const mark = { ok: 'ok    ', notice: 'NOTICE', warn: 'WARN  ', error: 'ERROR ' }[result.status];
    console.log(`${mark} ${result.id} ${result.name}`);
    if (result.status !== 'ok') {
      console.log(`      ${result.reason}`);
      if (result.response) {
        const body = await result.response.text().catch(() => '');
        console.log(
          `      got ${result.response.status} ${result.response.headers.get('content-type') ?? '(no content-type)'} ${body.slice(0, 300)}`,
        );
      }
    }
  }
} finally {
  cleanUp();
}

console.log(
  `\n${counts.ok} ok, ${counts.notice} notices, ${counts.warn} warnings, ${counts.error} errors`,
);
if (counts.ok !== Object.values(counts).reduce((a, b) => a + b)) {
  console.error('FAIL: every graphql-http audit must pass (MUST, SHOULD and MAY)');
  process.exit(1);
}
