// The CORS preflights a browser sends before the requests of the clients above, judged as the
// browser judges them (run.sh starts the server with KEEPSAKE_CORS_ORIGINS=http://localhost:5173):
// Apollo Client with a name and version (apollographql-client-name/-version), an upload with
// apollo-require-preflight, urql's GET; then the request itself, a header outside the safe list,
// and another origin. Node's fetch sends no preflight of its own, so these are sent by hand.
import { assert, checks, token, url } from './common.mjs';

const origin = 'http://localhost:5173';
const { check, finish } = checks('cors');

async function preflight(method, headers, from = origin) {
  const response = await fetch(url, {
    method: 'OPTIONS',
    headers: {
      origin: from,
      'access-control-request-method': method,
      'access-control-request-headers': headers.join(','),
    },
  });
  const list = (name) =>
    (response.headers.get(name) ?? '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
  return {
    status: response.status,
    allowOrigin: response.headers.get('access-control-allow-origin'),
    methods: list('access-control-allow-methods'),
    headers: list('access-control-allow-headers'),
  };
}

// What a browser requires of a preflight's answer before it sends a request without credentials.
function judge(answer, method, headers) {
  assert(answer.status >= 200 && answer.status < 300, `preflight answered ${answer.status}`);
  assert(answer.allowOrigin === origin || answer.allowOrigin === '*', `Access-Control-Allow-Origin: ${answer.allowOrigin}`);
  const simple = ['GET', 'HEAD', 'POST'].includes(method);
  assert(simple || answer.methods.includes(method.toLowerCase()) || answer.methods.includes('*'), `method ${method} not allowed: ${answer.methods}`);
  const refused = headers.filter(
    (h) => !answer.headers.includes(h) && !(answer.headers.includes('*') && h !== 'authorization'),
  );
  assert(!refused.length, `not allowed: ${refused.join(', ')} (Access-Control-Allow-Headers: ${answer.headers.join(', ')})`);
  return `allows ${headers.join(', ')}`;
}

// Browsers send the header names lower-case and sorted.
const apollo = ['apollographql-client-name', 'apollographql-client-version', 'authorization', 'content-type'];

await check("Apollo Client's POST with its client name and version headers", async () => {
  return judge(await preflight('POST', apollo), 'POST', apollo);
});

await check('an upload with apollo-require-preflight', async () => {
  const headers = ['apollo-require-preflight', 'apollographql-client-name', 'apollographql-client-version', 'authorization'];
  return judge(await preflight('POST', headers), 'POST', headers);
});

await check("urql's GET with a bearer token", async () => {
  return judge(await preflight('GET', ['authorization']), 'GET', ['authorization']);
});

await check('the request after the preflight carries Access-Control-Allow-Origin', async () => {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      origin,
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      'apollographql-client-name': 'web',
      'apollographql-client-version': '1.0.0',
    },
    body: JSON.stringify({ query: '{ me { id } }' }),
  });
  assert(response.ok, `HTTP ${response.status}`);
  assert(response.headers.get('access-control-allow-origin') === origin, `Access-Control-Allow-Origin: ${response.headers.get('access-control-allow-origin')}`);
});

await check('a header outside the safe list is not allowed', async () => {
  const answer = await preflight('POST', ['authorization', 'x-keepsake-probe']);
  assert(!answer.headers.includes('x-keepsake-probe') && !answer.headers.includes('*'), `allowed: ${answer.headers.join(', ')}`);
});

await check('another origin gets no CORS headers', async () => {
  const answer = await preflight('POST', apollo, 'https://elsewhere.example');
  assert(answer.allowOrigin === null, `Access-Control-Allow-Origin: ${answer.allowOrigin}`);
});

finish();
