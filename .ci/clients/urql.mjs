// urql (@urql/core 6) as an app uses it: the default exchanges (document cache, fetch), the
// bearer token in fetchOptions, queries sent as GET (urql's default within the URL limit), a
// mutation over POST, and the document cache refetching a query whose typename the mutation
// touched. Run by run.sh, which starts the server.
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { adminId, assert, assertEqual, checks, token, url } from './common.mjs';

const sent = [];
const client = new Client({
  url,
  exchanges: [cacheExchange, fetchExchange],
  fetchOptions: () => ({ headers: { authorization: `Bearer ${token}` } }),
  fetch: (input, init) => {
    sent.push({ method: init?.method ?? 'GET', url: String(input) });
    return fetch(input, init);
  },
});

const ME = gql`
  query Me { me { id name role } }
`;
const RENAME = gql`
  mutation Rename($id: ID!, $name: String!) { updateUser(id: $id, input: {name: $name}) { id name } }
`;

const { check, finish } = checks('urql');

await check('a query (GET, as urql sends it within the URL limit)', async () => {
  sent.length = 0;
  const result = await client.query(ME, {}).toPromise();
  if (result.error) throw result.error;
  assertEqual([result.data.me.id, result.data.me.role], [adminId, 'ADMIN'], 'me');
  assertEqual(sent.map((r) => r.method), ['GET'], 'requests');
  const cached = await client.query(ME, {}).toPromise();
  assertEqual(sent.length, 1, 'requests after asking again (the document cache answers)');
  assertEqual(cached.data.me.id, adminId, 'me.id from the cache');
});

await check('a mutation (POST); the document cache then refetches the query it touched', async () => {
  sent.length = 0;
  const name = `Admin ${Date.now()}`;
  const result = await client.mutation(RENAME, { id: adminId, name }).toPromise();
  if (result.error) throw result.error;
  assertEqual(result.data.updateUser.name, name, 'updateUser.name');
  const again = await client.query(ME, {}).toPromise();
  if (again.error) throw again.error;
  assertEqual(again.data.me.name, name, 'me.name after the mutation');
  assertEqual(sent.map((r) => r.method), ['POST', 'GET'], 'requests');
  assert(!again.stale, 'the answer is not stale');
});

finish();
