// The cluster soak (.ci/cluster.sh starts PgBouncer and HAProxy, then this): three
// `keepsake serve` behind HAProxy, all reaching PostgreSQL through PgBouncer in transaction
// mode (KEEPSAKE_PG_POOLER=transaction), each running the retention job every second. For
// SOAK_SECONDS (30) workers send a mix through the balancer: users and attachments created,
// files uploaded and read back, attachments and users deleted (a user's deletion cascades),
// deletions restored, lists read, while the retention job purges what was deleted over 3 s
// ago. Mid-soak one server is SIGKILLed (then started again) and another restarted with
// SIGTERM. Then it checks:
//   - a start through PgBouncer without the setting fails with one line naming it;
//   - the SIGKILL failed at most the requests in flight (the balancer's 502s, counted, all
//     right after the kill, no more than the workers);
//   - the SIGTERM restart failed none, and the server exited 0;
//   - nothing else answered non-2xx, no error is INTERNAL;
//   - `keepsake check` (through the pooler) is clean, but for orphan blobs (what a SIGKILL
//     between a blob's write and its row's commit leaves), which `check --fix` then removes;
//   - every deletion acknowledged is in the log, each deletion in the log has its
//     `deletion.created` event exactly once, and uploads read back byte for byte.
// Prints the figures as one JSON line (`figures: {...}`) and `ok: …` per check; the first
// failure prints `FAIL: …` and exits 1.
//
//   node .ci/cluster_soak.mjs   (environment: see .ci/cluster.sh)

import { spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';

const env = (name) => {
  const value = process.env[name];
  if (!value) fail(`${name} is not set (run .ci/cluster.sh)`);
  return value;
};
const binary = env('KEEPSAKE_BIN');
const pooled = env('POOLED_URL');
const direct = env('DIRECT_URL');
const balancer = env('BALANCER_URL');
const ports = env('SERVER_PORTS').split(',');
const work = env('WORK_DIR');
const soakMs = Number(process.env.SOAK_SECONDS ?? 30) * 1000;
const WORKERS = Number(process.env.SOAK_WORKERS ?? 12);
const KILL_AT = soakMs / 3;
const TERM_AT = (soakMs * 3) / 5;

const baseEnv = {
  ...process.env,
  NO_COLOR: '1',
  RUST_LOG: 'warn',
  DATABASE_URL: pooled,
  KEEPSAKE_PG_POOLER: 'transaction',
  KEEPSAKE_DIRECT_DATABASE_URL: direct,
  KEEPSAKE_JWT_SECRET: 'cluster-soak-secret-0123456789abcdef',
  KEEPSAKE_STORAGE: `file://${work}/blobs`,
  KEEPSAKE_RETENTION: '3s',
  KEEPSAKE_RETENTION_INTERVAL: '1s',
  KEEPSAKE_MAX_CONCURRENT: '1000',
};

const servers = new Map();

function fail(message) {
  console.error(`FAIL: ${message}`);
  for (const server of servers.values()) server.kill('SIGKILL');
  process.exit(1);
}
function ok(message) {
  console.log(`ok: ${message}`);
}

// --- a start through the pooler without the setting says what to set -------------------
{
  const { KEEPSAKE_PG_POOLER, KEEPSAKE_DIRECT_DATABASE_URL, ...without } = baseEnv;
  const run = spawnSync(binary, ['migrate'], { env: without, encoding: 'utf8', timeout: 30_000 });
  const lines = run.stderr.split('\n').filter((l) => l.trim() !== '');
  if (run.status === 0) fail('a start through PgBouncer without KEEPSAKE_PG_POOLER succeeded');
  if (lines.length !== 1 || !lines[0].includes('KEEPSAKE_PG_POOLER=transaction')) {
    fail(`the failed start does not name KEEPSAKE_PG_POOLER=transaction in one line:\n${run.stderr}`);
  }
  if (/at line \d|src\/|\.rs:/.test(run.stderr)) fail(`the failed start shows internal locations: ${run.stderr}`);
  ok(`without the setting, the start fails in one line: ${lines[0]}`);
}

// --- migrations (on the direct connection), then three servers ---------------------------
{
  const run = spawnSync(binary, ['migrate'], { env: baseEnv, encoding: 'utf8', timeout: 60_000 });
  if (run.status !== 0) fail(`keepsake migrate: ${run.stderr}`);
}

/** Starts server `index` on its port; resolves with the admin token when it printed one. */
function start(index) {
  const child = spawn(binary, ['serve', '--bind', `127.0.0.1:${ports[index]}`], {
    env: baseEnv,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.set(index, child);
  let token = null;
  createInterface({ input: child.stdout }).on('line', (line) => {
    const match = line.match(/^\s*token:\s+(\S+)/);
    if (match) token = match[1];
  });
  const log = [];
  createInterface({ input: child.stderr }).on('line', (line) => {
    log.push(line);
    if (process.env.CLUSTER_VERBOSE) console.error(`[k${index + 1}] ${line}`);
  });
  child.log = log;
  return (async () => {
    for (let i = 0; i < 600; i++) {
      if (child.exitCode !== null) fail(`server k${index + 1} exited at start: ${log.join('\n')}`);
      try {
        const res = await fetch(`http://127.0.0.1:${ports[index]}/healthz`);
        if (res.status === 200) return token;
      } catch {}
      await sleep(100);
    }
    fail(`server k${index + 1} never answered /healthz`);
  })();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const token = await start(0);
if (!token) fail('the first server printed no admin token');
await Promise.all([start(1), start(2)]);
// The balancer's checks (every 300 ms, up after 2) see all three.
await sleep(1500);
ok('three servers up behind the balancer, through PgBouncer in transaction mode');

// --- the soak --------------------------------------------------------------------------
const figures = { operations: 0, byKind: {}, refused: {}, samples: {}, failures: [], internal: [] };
const users = [];
const attachments = [];
const keepers = []; // uploads never deleted: read back byte for byte
const deletions = []; // { id, gid }
const t0 = Date.now();
const now = () => Date.now() - t0;

async function graphql(kind, query, variables, init = {}) {
  const started = now();
  let res;
  try {
    res = await fetch(`${balancer}/graphql`, {
      method: 'POST',
      headers: init.body
        ? { authorization: `Bearer ${token}` }
        : { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: init.body ?? JSON.stringify({ query, variables }),
    });
  } catch (err) {
    figures.failures.push({ kind, at: started, end: now(), status: `cut: ${err.cause?.code ?? err.message}` });
    return null;
  }
  const text = await res.text().catch(() => '');
  figures.operations++;
  figures.byKind[kind] = (figures.byKind[kind] ?? 0) + 1;
  if (res.status < 200 || res.status > 299) {
    figures.failures.push({ kind, at: started, end: now(), status: res.status, body: text.slice(0, 200) });
    return null;
  }
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    figures.failures.push({ kind, at: started, end: now(), status: 'not JSON', body: text.slice(0, 200) });
    return null;
  }
  for (const error of body.errors ?? []) {
    const code = error.extensions?.code ?? 'NO CODE';
    if (code === 'INTERNAL' || code === 'NO CODE') figures.internal.push({ kind, error });
    figures.refused[code] = (figures.refused[code] ?? 0) + 1;
    figures.samples[code] ??= `${kind}: ${error.message}`.slice(0, 160);
  }
  return body;
}

const pick = (list) => list[Math.floor(Math.random() * list.length)];
let serial = 0;

async function createUser() {
  const n = serial++;
  const body = await graphql('createUser', 'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }', {
    i: { email: `soak${n}-${process.pid}@example.com`, name: `Soak ${n}`, role: 'MEMBER' },
  });
  const id = body?.data?.createUser?.id;
  if (id) users.push(id);
}

async function createAttachment() {
  if (users.length === 0) return createUser();
  const body = await graphql(
    'createAttachment',
    'mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { id } }',
    { i: { ownerId: pick(users), filename: `f${serial++}.txt`, contentType: 'text/plain', sizeBytes: 10 } },
  );
  const id = body?.data?.createAttachment?.id;
  if (id) attachments.push(id);
}

async function upload(owner, keep) {
  const bytes = `soak upload ${serial++} ${'x'.repeat(Math.floor(Math.random() * 2000))}\n`;
  const form = new FormData();
  form.append(
    'operations',
    JSON.stringify({
      query: 'mutation($i: CreateAttachmentInput!) { createAttachment(input: $i) { id } }',
      variables: { i: { ownerId: owner, file: null } },
    }),
  );
  form.append('map', JSON.stringify({ 0: ['variables.i.file'] }));
  form.append('0', new Blob([bytes], { type: 'text/plain' }), 'soak.txt');
  const body = await graphql('upload', null, null, { body: form });
  const id = body?.data?.createAttachment?.id;
  if (id && keep) keepers.push({ id, bytes });
  else if (id) attachments.push(id);
}

async function readBack() {
  if (keepers.length === 0) return;
  const { id, bytes } = pick(keepers);
  const started = now();
  let res;
  try {
    res = await fetch(`${balancer}/attachments/${id}/content`, { headers: { authorization: `Bearer ${token}` } });
  } catch (err) {
    figures.failures.push({ kind: 'readBack', at: started, end: now(), status: `cut: ${err.cause?.code ?? err.message}` });
    return;
  }
  const text = await res.text().catch(() => null);
  figures.operations++;
  figures.byKind.readBack = (figures.byKind.readBack ?? 0) + 1;
  if (res.status !== 200) {
    figures.failures.push({ kind: 'readBack', at: started, end: now(), status: res.status, body: String(text).slice(0, 200) });
  } else if (text !== bytes) {
    figures.internal.push({ kind: 'readBack', error: 'the bytes read back differ from those uploaded' });
  }
}

const DELETED = '{ id }';
async function deleteAttachment() {
  if (attachments.length === 0) return createAttachment();
  const id = attachments.splice(Math.floor(Math.random() * attachments.length), 1)[0];
  const body = await graphql('deleteAttachment', `mutation($id: ID!) { deleteAttachment(id: $id, reason: "soak") ${DELETED} }`, { id });
  const gid = body?.data?.deleteAttachment?.id;
  if (gid) deletions.push(gid);
}

async function deleteUser() {
  if (users.length < 3) return createUser();
  const id = users.splice(Math.floor(Math.random() * users.length), 1)[0];
  const body = await graphql('deleteUser', `mutation($id: ID!) { deleteUser(id: $id, reason: "soak cascade") ${DELETED} }`, { id });
  const gid = body?.data?.deleteUser?.id;
  if (gid) deletions.push(gid);
}

async function restore() {
  if (deletions.length === 0) return deleteAttachment();
  await graphql('restore', 'mutation($d: ID!) { restore(deletionId: $d, reason: "soak") { id } }', { d: pick(deletions) });
}

async function list() {
  await graphql('read', '{ users(first: 20) { nodes { id name attachments(first: 10) { nodes { id filename sizeBytes } } } } }', {});
}

const mix = [
  [createUser, 2],
  [createAttachment, 4],
  [() => (users.length ? upload(pick(users), false) : createUser()), 2],
  [readBack, 3],
  [deleteAttachment, 3],
  [deleteUser, 1],
  [restore, 2],
  [list, 5],
];
const weights = mix.reduce((sum, [, w]) => sum + w, 0);
function nextOp() {
  let r = Math.random() * weights;
  for (const [op, w] of mix) {
    if ((r -= w) < 0) return op;
  }
  return list;
}

// Keepers: a user of their own, never deleted, with uploads read back all along.
const keeperOwner = (await graphql('createUser', 'mutation($i: CreateUserInput!) { createUser(input: $i) { id } }', {
  i: { email: `keeper-${process.pid}@example.com`, name: 'Keeper', role: 'MEMBER' },
}))?.data?.createUser?.id;
if (!keeperOwner) fail('could not create the keepers\' owner');
for (let i = 0; i < 5; i++) await upload(keeperOwner, true);
if (keepers.length !== 5) fail(`uploads failed before the soak: ${JSON.stringify(figures)}`);

let killedAt = null;
let termAt = null;
let termExit = null;
let restartedAt = null;
const chaos = (async () => {
  await sleep(KILL_AT);
  killedAt = now();
  servers.get(1).kill('SIGKILL');
  console.log(`k2 SIGKILLed at ${killedAt} ms`);
  await sleep(2000);
  await start(1);
  console.log(`k2 started again at ${now()} ms`);
  await sleep(Math.max(0, TERM_AT - now()));
  termAt = now();
  const k3 = servers.get(2);
  const exited = new Promise((r) => k3.once('exit', (code, signal) => r({ code, signal })));
  k3.kill('SIGTERM');
  console.log(`k3 sent SIGTERM at ${termAt} ms`);
  termExit = await exited;
  console.log(`k3 exited at ${now()} ms: ${JSON.stringify(termExit)}`);
  await start(2);
  restartedAt = now();
  console.log(`k3 started again at ${restartedAt} ms`);
})();

async function worker() {
  while (now() < soakMs) {
    await nextOp()();
  }
}
await Promise.all([...Array(WORKERS)].map(worker));
await chaos;
figures.seconds = soakMs / 1000;
figures.workers = WORKERS;
figures.deletionsAcknowledged = deletions.length;
figures.uploadsKept = keepers.length;

// --- what went wrong, and when ---------------------------------------------------------
// A request fails by the SIGKILL when it was in flight at the kill (sent before it, answered
// after it), or sent in the moment before the balancer's checks saw the server gone.
const KILL_WINDOW_MS = 3000;
const afterKill = figures.failures.filter(
  (f) => killedAt !== null && f.end >= killedAt && f.at <= killedAt + KILL_WINDOW_MS,
);
const elsewhere = figures.failures.filter((f) => !afterKill.includes(f));
figures.failedBySigkill = afterKill.length;
figures.failedBySigkillKinds = afterKill.map((f) => f.kind);
figures.failedElsewhere = elsewhere.length;
console.log(`figures: ${JSON.stringify({ ...figures, failures: undefined, internal: figures.internal.length })}`);
if (figures.internal.length > 0) fail(`INTERNAL errors: ${JSON.stringify(figures.internal.slice(0, 5))}`);
ok('no INTERNAL error, no error without a code');
if (elsewhere.length > 0) fail(`failures outside the SIGKILL (the SIGTERM restart must fail none): ${JSON.stringify(elsewhere.slice(0, 10))}`);
ok('the SIGTERM restart failed no request; nothing failed but at the SIGKILL');
// The balancer answers 502 for a request the dead server never answered, or cuts the
// client's connection when the server died mid-answer.
const cut = (f) => f.status === 502 || String(f.status).startsWith('cut:');
if (!afterKill.every(cut)) fail(`the SIGKILL failed requests other than with the balancer's 502 or a cut connection: ${JSON.stringify(afterKill)}`);
if (afterKill.length > WORKERS) fail(`the SIGKILL failed ${afterKill.length} requests, more than the ${WORKERS} that can be in flight`);
figures.sigkill502 = afterKill.filter((f) => f.status === 502).length;
figures.sigkillCut = afterKill.length - figures.sigkill502;
ok(`the SIGKILL failed ${afterKill.length} request(s) in flight on that server (${figures.sigkill502} answered 502 by the balancer, ${figures.sigkillCut} cut), at most the ${WORKERS} that can be in flight`);
if (!termExit || termExit.code !== 0) fail(`the SIGTERMed server exited with ${JSON.stringify(termExit)}`);
ok('the SIGTERMed server exited 0');
if (figures.operations < 300) fail(`only ${figures.operations} operations in ${soakMs / 1000} s`);

// --- the database afterwards -------------------------------------------------------------
for (const server of servers.values()) {
  const exited = new Promise((r) => server.once('exit', r));
  server.kill('SIGTERM');
  await Promise.race([exited, sleep(20_000)]);
}
servers.clear();
// A SIGKILL between a blob's write and its row's commit (an upload in flight), or between a
// purge's commit and its erasure of the blobs it freed, leaves a blob no row refers to: the one
// residue a crash is designed to leave (never a row without its bytes). `check` reports it and
// `check --fix` removes it; any other finding fails.
const check = spawnSync(binary, ['check', '--json'], { env: baseEnv, encoding: 'utf8', timeout: 120_000 });
let found;
try {
  found = JSON.parse(check.stdout);
} catch {
  fail(`keepsake check --json: ${check.stdout}${check.stderr}`);
}
const others = found.violations.filter((v) => v.kind !== 'orphan-blob');
if (others.length) fail(`keepsake check: ${others.map((v) => `${v.kind}: ${v.message}`).join('; ')}`);
figures.orphanBlobs = found.violations.length;
if (found.violations.length) {
  const fixed = spawnSync(binary, ['check', '--fix'], { env: baseEnv, encoding: 'utf8', timeout: 120_000 });
  if (fixed.status !== 0) fail(`keepsake check --fix: ${fixed.stdout}${fixed.stderr}`);
  ok(`keepsake check found only ${found.violations.length} orphan blob(s), the SIGKILL's residue; --fix removed them and the check is clean`);
} else {
  ok('keepsake check is clean');
}

function psql(sql) {
  const run = spawnSync('psql', [direct, '-Atc', sql], { encoding: 'utf8' });
  if (run.status !== 0) fail(`psql: ${run.stderr}`);
  return run.stdout.trim();
}
const rowIds = deletions.map((gid) => {
  const [kind, n] = Buffer.from(gid, 'base64url').toString().split(':');
  if (kind !== 'Deletion') fail(`not a deletion id: ${gid}`);
  return Number(n);
});
const logged = new Set(psql('SELECT id FROM deletions').split('\n').filter(Boolean).map(Number));
const missing = rowIds.filter((id) => !logged.has(id));
if (missing.length) fail(`acknowledged deletions missing from the log: ${missing.slice(0, 10)}`);
if (new Set(rowIds).size !== rowIds.length) fail('one deletion id was acknowledged twice');
const notOnce = psql(
  "SELECT d.id || ':' || count(e.id) FROM deletions d LEFT JOIN events e ON e.deletion_id = d.id AND e.type = 'deletion.created' GROUP BY d.id HAVING count(e.id) <> 1",
);
if (notOnce) fail(`deletions whose deletion.created event is not there exactly once: ${notOnce.split('\n').slice(0, 10)}`);
const purged = psql("SELECT count(DISTINCT deletion_id) FROM events WHERE type = 'deletion.purged'");
figures.deletionsLogged = logged.size;
figures.deletionsPurged = Number(purged);
if (figures.deletionsPurged === 0) fail('the retention job purged nothing during the soak');
ok(`${rowIds.length} acknowledged deletions in the log, ${logged.size} logged, each with its event exactly once; ${purged} purged by the retention job`);
console.log(`figures: ${JSON.stringify({ ...figures, failures: undefined, internal: figures.internal.length })}`);
process.exit(0);
