// What the client checks share: the server's address and the admin's token (run.sh starts the
// server and passes both), a plain fetch for seeding, and `check`, which runs one check, prints
// `ok: …` or `FAIL: …`, and goes on, so that one run names every check that fails.

export const url = process.env.KEEPSAKE_URL;
export const token = process.env.KEEPSAKE_TOKEN;
export const adminId = process.env.KEEPSAKE_ADMIN_ID;
export const memberToken = process.env.KEEPSAKE_MEMBER_TOKEN;
export const memberId = process.env.KEEPSAKE_MEMBER_ID;
if (!url || !token || !adminId || !memberToken || !memberId) {
  console.error('FAIL: KEEPSAKE_URL, KEEPSAKE_TOKEN, KEEPSAKE_ADMIN_ID, KEEPSAKE_MEMBER_TOKEN and KEEPSAKE_MEMBER_ID must be set (run .ci/clients/run.sh)');
  process.exit(1);
}
export const origin = new URL(url).origin;
export const auth = { authorization: `Bearer ${token}` };

// One GraphQL request, as the admin unless told; throws on any error in the answer.
export async function api(query, variables = {}, headers = auth) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
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

// Creates `count` users named `${prefix}-N` (ten to a request) and returns their ids in order.
export async function seedUsers(prefix, count) {
  const ids = [];
  for (let start = 0; start < count; start += 10) {
    const n = Math.min(10, count - start);
    const fields = Array.from({ length: n }, (_, i) => {
      const k = start + i;
      return `u${k}: createUser(input: {email: "${prefix}-${k}@example.com", name: "${prefix} ${k}"}) { id }`;
    });
    const data = await api(`mutation { ${fields.join(' ')} }`);
    for (let i = 0; i < n; i++) ids.push(data[`u${start + i}`].id);
  }
  return ids;
}

// Records `count` attachments (metadata only, no bytes) for `ownerId`; returns their ids in order.
export async function seedAttachments(ownerId, count, prefix = 'file') {
  const ids = [];
  for (let start = 0; start < count; start += 10) {
    const n = Math.min(10, count - start);
    const fields = Array.from({ length: n }, (_, i) => {
      const k = start + i;
      return `a${k}: createAttachment(input: {ownerId: "${ownerId}", filename: "${prefix}-${k}.txt", contentType: "text/plain", sizeBytes: ${k}}) { id }`;
    });
    const data = await api(`mutation { ${fields.join(' ')} }`);
    for (let i = 0; i < n; i++) ids.push(data[`a${start + i}`].id);
  }
  return ids;
}

export function assert(condition, message) {
  if (!condition) throw new Error(message);
}

export function assertEqual(actual, expected, what) {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: expected ${e.slice(0, 400)}, got ${a.slice(0, 400)}`);
}

// A member's bearer header (run.sh makes the member with `keepsake user add` and `keepsake token`).
export const memberAuth = { authorization: `Bearer ${memberToken}` };

// The checks of one client: `await check('what it shows', async () => 'detail')` prints
// `ok: <client>: what it shows (detail)` or `FAIL: <client>: what it shows: <error>`.
// `finish()` exits non-zero when any failed.
export function checks(client) {
  let failed = 0;
  return {
    async check(name, fn) {
      try {
        const detail = await fn();
        console.log(`ok: ${client}: ${name}${detail ? ` (${detail})` : ''}`);
        return true;
      } catch (err) {
        failed += 1;
        const message = err?.message ?? String(err);
        console.log(`FAIL: ${client}: ${name}: ${message.replace(/\s+/g, ' ').slice(0, 1500)}`);
        if (process.env.CLIENTS_DEBUG) console.error(err);
        return false;
      }
    },
    finish() {
      process.exit(failed ? 1 : 0);
    },
  };
}

// The ids Keepsake makes are unpadded base64 of `Type:N`; `btoa` pads them, as a client that
// builds an id itself does.
export const paddedId = (type, n) => btoa(`${type}:${n}`);
export const unpadded = (id) => id.replace(/=+$/, '');
