// A real subscription client against two servers on one PostgreSQL database: graphql-ws (the
// npm package Apollo Client, urql and GraphiQL use) subscribes to `deletionEvents` over
// `/graphql/ws` (docs/events.md) on one server while the deletions go through the other
// server's `/graphql`. It checks that
//   1. an admin subscribed on server A receives a deletion made through server B;
//   2. a subscription resumed with `after` = an event's id receives exactly the events after
//      it, in order, none twice, also where the replay meets the live stream;
//   3. a member receives the events of her own deletions only, not another member's;
//   4. when an admin deletes that member, her subscription receives one error with
//      extensions.code UNAUTHENTICATED and completes.
// A database of its own (created with psql, dropped at the end whatever happens), `keepsake
// migrate`, users made with `keepsake user add`, tokens from `keepsake token`, and two
// `keepsake serve` on free ports, stopped at the end. Prints `ok: …` per check; the first
// failure prints `FAIL: …` and exits 1; the whole run is bounded by 60 s.
//
//   node .ci/events_client.mjs [path/to/keepsake]   (default: target/debug/keepsake)
//
// Needs `npm ci` in .ci/ first, psql, and PostgreSQL on 127.0.0.1:5432 (user postgres, trust
// auth, as .ci/run's PostgreSQL part; EVENTS_PG_HOST to change it). Node 22 has a global
// WebSocket; on Node 20 the script runs itself again with --experimental-websocket.

import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

if (typeof globalThis.WebSocket !== 'function') {
  const again = spawnSync(process.execPath, ['--experimental-websocket', ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(again.status ?? 1);
}

const { createClient } = await import('graphql-ws');

const binary = resolve(process.argv[2] ?? 'target/debug/keepsake');
const host = process.env.EVENTS_PG_HOST ?? '127.0.0.1:5432';
const database = `keepsake_events_client_${process.pid}`;
const adminUrl = `postgres://postgres@${host}/postgres`;
const dbUrl = `postgres://postgres@${host}/${database}`;
const work = mkdtempSync(join(tmpdir(), 'keepsake-events-client-'));
const env = { ...process.env, DATABASE_URL: dbUrl, KEEPSAKE_STORAGE: `file://${work}/blobs`, NO_COLOR: '1' };

const servers = [];
const clients = [];
let databaseMade = false;
let cleaned = false;

async function cleanup() {
  if (cleaned) return;
  cleaned = true;
  for (const client of clients) {
    await Promise.race([client.dispose(), new Promise((r) => setTimeout(r, 1000))]).catch(() => {});
  }
  await Promise.all(
    servers.map(
      (server) =>
        new Promise((done) => {
          if (server.exitCode !== null || server.signalCode !== null) return done();
          const hard = setTimeout(() => server.kill('SIGKILL'), 10_000);
          server.once('exit', () => {
            clearTimeout(hard);
            done();
          });
          server.kill('SIGTERM');
        }),
    ),
  );
  if (databaseMade) {
    spawnSync('psql', [adminUrl, '-X', '-qc', `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`], {
      stdio: 'ignore',
    });
  }
  rmSync(work, { recursive: true, force: true });
}

async function fail(message) {
  console.error(`FAIL: ${message}`);
  await cleanup();
  process.exit(1);
}
const ok = (message) => console.log(`ok: ${message}`);

const timer = setTimeout(() => fail('timed out: the run took more than 60 s'), 60_000);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => fail(`stopped by ${signal}`));

// keepsake's last line of standard output (a user's id, a token).
function ks(...args) {
  try {
    const out = execFileSync(binary, args, { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split('\n').pop().trim();
  } catch (err) {
    throw new Error(`keepsake ${args.join(' ')}: ${err.stderr?.toString().trim().split('\n').slice(-3).join(' | ')}`);
  }
}

// `keepsake serve` on a free port; resolves with the address its start-up line names.
function serve(name) {
  const server = spawn(binary, ['serve', '--bind', '127.0.0.1:0'], {
    env: { ...env, RUST_LOG: 'info', KEEPSAKE_LOG_FORMAT: 'text' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  servers.push(server);
  let log = '';
  return new Promise((found, failed) => {
    const timeout = setTimeout(() => failed(new Error(`server ${name}: no "Keepsake is serving" line within 30 s`)), 30_000);
    const read = (chunk) => {
      log += chunk.toString();
      const line = log.split('\n').find((l) => l.includes('Keepsake is serving'));
      const match = line && /address=(\S+)/.exec(line.replace(/\x1b\[[0-9;]*m/g, ''));
      if (match) {
        clearTimeout(timeout);
        found(match[1].replace(/^"|"$/g, ''));
      }
    };
    server.stdout.on('data', read);
    server.stderr.on('data', read);
    server.on('exit', (code) => {
      clearTimeout(timeout);
      failed(new Error(`server ${name} exited (${code}) before serving:\n${log.slice(-2000)}`));
    });
  });
}

// One GraphQL request over HTTP; throws on any error in the answer.
async function api(address, token, query, variables = {}) {
  const response = await fetch(`http://${address}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`HTTP ${response.status}, not JSON: ${text.slice(0, 300)}`);
  }
  if (body.errors?.length) throw new Error(`HTTP ${response.status}: ${JSON.stringify(body.errors)}`);
  return body.data;
}

const EVENTS = `subscription ($after: ID) {
  deletionEvents(after: $after) {
    id
    type
    occurredAt
    deletion { id entity entityId cascadeCount actorId }
  }
}`;

// A graphql-ws subscription to deletionEvents whose messages wait in a queue: `take()` gives
// the next (`{ event }`, `{ errors }` or `{ complete: true }`) within a time limit.
async function subscribe(label, address, token, after) {
  let connected;
  const ready = new Promise((r) => (connected = r));
  const client = createClient({
    url: `ws://${address}/graphql/ws`,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    on: { connected: () => connected() },
  });
  clients.push(client);
  const queue = [];
  let wake = () => {};
  const push = (item) => {
    queue.push(item);
    wake();
  };
  client.subscribe(
    { query: EVENTS, variables: after === undefined ? {} : { after } },
    {
      next: (result) =>
        push(result.errors?.length ? { errors: result.errors } : { event: result.data.deletionEvents }),
      error: (error) => push({ errors: Array.isArray(error) ? error : [{ message: String(error?.reason ?? error?.message ?? error) }] }),
      complete: () => push({ complete: true }),
    },
  );
  await Promise.race([
    ready,
    new Promise((_, no) => setTimeout(() => no(new Error(`${label}: no connection_ack within 10 s`)), 10_000)),
  ]);
  return {
    async take(ms = 5000) {
      const deadline = Date.now() + ms;
      while (!queue.length) {
        const left = deadline - Date.now();
        if (left <= 0) return null;
        await new Promise((r) => {
          wake = r;
          setTimeout(r, left);
        });
      }
      return queue.shift();
    },
    // The next message, which must be an event.
    async event(ms = 5000) {
      const item = await this.take(ms);
      if (!item) throw new Error(`${label}: no event within ${ms} ms`);
      if (!item.event) throw new Error(`${label}: expected an event, got ${JSON.stringify(item)}`);
      return item.event;
    },
    // Nothing more arrives for `ms`.
    async quiet(ms) {
      const item = await this.take(ms);
      if (item) throw new Error(`${label}: expected nothing more, got ${JSON.stringify(item)}`);
    },
  };
}

function expectEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e}, got ${a}`);
}

try {
  // The database, its schema, three users and their tokens.
  try {
    execFileSync('psql', [adminUrl, '-X', '-qc', `CREATE DATABASE ${database}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    throw new Error(`psql could not create ${database} on ${host}: ${err.stderr ?? err.message}`);
  }
  databaseMade = true;
  ks('migrate');
  const adminId = ks('user', 'add', '--email', 'events-admin@example.test', '--name', 'Events admin', '--role', 'admin');
  const adaId = ks('user', 'add', '--email', 'ada@example.test', '--name', 'Ada', '--role', 'member');
  const bobId = ks('user', 'add', '--email', 'bob@example.test', '--name', 'Bob', '--role', 'member');
  const adminToken = ks('token', '--email', 'events-admin@example.test');
  const adaToken = ks('token', '--email', 'ada@example.test');
  const bobToken = ks('token', '--email', 'bob@example.test');
  ok(`database ${database} migrated; an admin, Ada and Bob (members) made with keepsake user add, their tokens with keepsake token`);

  const [a, b] = await Promise.all([serve('A'), serve('B')]);
  ok(`two keepsake serve on one database: A at ${a}, B at ${b}`);

  // Each member records attachments of her or his own through B.
  const attach = async (token, ownerId, names) => {
    const fields = names.map(
      (n, i) => `a${i}: createAttachment(input: {ownerId: "${ownerId}", filename: "${n}.txt", contentType: "text/plain", sizeBytes: ${i}}) { id }`,
    );
    const data = await api(b, token, `mutation { ${fields.join(' ')} }`);
    return names.map((_, i) => data[`a${i}`].id);
  };
  const ada = await attach(adaToken, adaId, ['ada-1', 'ada-2', 'ada-3', 'ada-4']);
  const bob = await attach(bobToken, bobId, ['bob-1', 'bob-2']);
  const remove = async (token, id) =>
    (await api(b, token, 'mutation ($id: ID!) { deleteAttachment(id: $id, reason: "events client") { id } }', { id })).deleteAttachment.id;

  // 1. An admin on A, a deletion through B.
  const adminSub = await subscribe('the admin on A', a, adminToken);
  await adminSub.quiet(300); // an empty outbox: nothing to replay
  const sent = Date.now();
  const d1 = await remove(adaToken, ada[0]);
  const e1 = await adminSub.event();
  expectEqual(
    [e1.type, e1.deletion.id, e1.deletion.entity, e1.deletion.entityId, e1.deletion.actorId],
    ['deletion.created', d1, 'ATTACHMENT', ada[0], adaId],
    'the first event',
  );
  ok(`the admin subscribed on A received event ${e1.id} (deletion.created of Ada's attachment) ${Date.now() - sent} ms after it was deleted through B`);

  // More deletions through B, the admin sees each in order.
  const d2 = await remove(bobToken, bob[0]);
  const d3 = await remove(adaToken, ada[1]);
  const e2 = await adminSub.event();
  const e3 = await adminSub.event();
  expectEqual([e2.deletion.id, e3.deletion.id], [d2, d3], "the admin's next events' deletions");
  if (!(Number(e1.id) < Number(e2.id) && Number(e2.id) < Number(e3.id))) {
    throw new Error(`event ids do not grow: ${e1.id}, ${e2.id}, ${e3.id}`);
  }
  ok(`the admin received Bob's and Ada's next deletions as events ${e2.id} and ${e3.id}, in order`);

  // 2. Resume after the first event, on B this time: the two after it, then live, none twice.
  const resumed = await subscribe('the admin resuming on B', b, adminToken, e1.id);
  expectEqual([(await resumed.event()).id, (await resumed.event()).id], [e2.id, e3.id], `the events replayed after ${e1.id}`);
  await resumed.quiet(1500);
  const d4 = await remove(adaToken, ada[2]);
  const e4 = await resumed.event();
  expectEqual(e4.deletion.id, d4, 'the live event after the replay');
  await resumed.quiet(1500);
  expectEqual((await adminSub.event()).id, e4.id, "the first subscription's next event");
  ok(`resumed with after=${e1.id}: received exactly ${e2.id}, ${e3.id}, then live ${e4.id}, no duplicate (nothing more within 1.5 s after each)`);

  // 3. Ada, subscribed on A, receives her own deletions only: replayed, then live.
  const adaSub = await subscribe('Ada on A', a, adaToken);
  const replayed = [await adaSub.event(), await adaSub.event(), await adaSub.event()].map((e) => e.id);
  expectEqual(replayed, [e1.id, e3.id, e4.id], "Ada's replay (her deletions, not Bob's)");
  const d5 = await remove(bobToken, bob[1]);
  const d6 = await remove(adaToken, ada[3]);
  const e6 = await adaSub.event();
  expectEqual([e6.deletion.id, e6.deletion.actorId], [d6, adaId], "Ada's next event");
  await adaSub.quiet(1500);
  const e5 = await adminSub.event();
  expectEqual([e5.deletion.id, (await adminSub.event()).id], [d5, e6.id], "the admin's events for Bob's and Ada's last deletions");
  ok(`Ada received only her own deletions (${[...replayed, e6.id].join(', ')}), not Bob's (${e2.id}, ${e5.id})`);

  // 4. The admin deletes Ada through B: her subscription on A ends with UNAUTHENTICATED.
  const d7 = (await api(b, adminToken, 'mutation ($id: ID!) { deleteUser(id: $id, reason: "events client") { id } }', { id: adaId })).deleteUser.id;
  const end = await adaSub.take(5000);
  if (!end?.errors) throw new Error(`Ada's subscription after her deletion: expected an error, got ${JSON.stringify(end)}`);
  const codes = end.errors.map((e) => e.extensions?.code);
  expectEqual(codes, ['UNAUTHENTICATED'], "the error's extensions.code");
  const after = await adaSub.take(5000);
  if (!after?.complete) throw new Error(`Ada's subscription after the error: expected complete, got ${JSON.stringify(after)}`);
  const e7 = await adminSub.event();
  expectEqual([e7.deletion.id, e7.deletion.entity, e7.deletion.entityId], [d7, 'USER', adaId], "the admin's event for Ada's deletion");
  ok(`deleted by the admin, Ada's subscription received one error (UNAUTHENTICATED: "${end.errors[0].message}") and completed; the admin received event ${e7.id}`);
  console.log('events client: every check passed');
} catch (err) {
  await fail(err?.message ?? String(err));
}
clearTimeout(timer);
await cleanup();
process.exit(0);
