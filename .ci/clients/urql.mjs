// urql (@urql/core 6) as an app uses it, signed in as a member: the default exchanges (document
// cache, fetch), the bearer token in fetchOptions, queries sent as GET (urql's default within the
// URL limit), mutations over POST, and the document cache refetching what a mutation touched:
// a query on the typename the mutation answers, and a list that names `Deletion` in
// additionalTypenames (deleteAttachment answers a Deletion, not the attachment). Run by run.sh,
// which starts the server and makes the member.
import { Client, cacheExchange, fetchExchange, gql } from '@urql/core';
import { assert, assertEqual, checks, memberId, memberToken, url } from './common.mjs';

const sent = [];
const client = new Client({
  url,
  exchanges: [cacheExchange, fetchExchange],
  fetchOptions: () => ({ headers: { authorization: `Bearer ${memberToken}` } }),
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
const ADD = gql`
  mutation Add($ownerId: ID!, $filename: String!) {
    createAttachment(input: {ownerId: $ownerId, filename: $filename, contentType: "text/plain", sizeBytes: 0}) { id }
  }
`;
const FILES = gql`
  query Files { attachments(first: 100) { totalCount nodes { id filename } } }
`;
const FILE_NAMES = gql`
  query FileNames { attachments(first: 100) { nodes { id } } }
`;
const DELETE = gql`
  mutation Delete($id: ID!) { deleteAttachment(id: $id, reason: "urql check") { id entityId } }
`;

async function run(operation) {
  const result = await operation.toPromise();
  if (result.error) throw result.error;
  return result.data;
}

const { check, finish } = checks('urql');

await check('a query (GET, as urql sends it within the URL limit)', async () => {
  sent.length = 0;
  const data = await run(client.query(ME, {}));
  assertEqual([data.me.id, data.me.role], [memberId, 'MEMBER'], 'me');
  assertEqual(sent.map((r) => r.method), ['GET'], 'requests');
  const cached = await run(client.query(ME, {}));
  assertEqual(sent.length, 1, 'requests after asking again (the document cache answers)');
  assertEqual(cached.me.id, memberId, 'me.id from the cache');
});

await check('a mutation (POST); the document cache then refetches the query it touched', async () => {
  sent.length = 0;
  const name = `Member ${Date.now()}`;
  const data = await run(client.mutation(RENAME, { id: memberId, name }));
  assertEqual(data.updateUser.name, name, 'updateUser.name');
  const again = await run(client.query(ME, {}));
  assertEqual(again.me.name, name, 'me.name after the mutation');
  assertEqual(sent.map((r) => r.method), ['POST', 'GET'], 'requests');
});

await check("deleteAttachment refetches a list that names 'Deletion' in additionalTypenames", async () => {
  const ids = [];
  for (const filename of ['urql-a.txt', 'urql-b.txt']) {
    ids.push((await run(client.mutation(ADD, { ownerId: memberId, filename }))).createAttachment.id);
  }
  const context = { additionalTypenames: ['Deletion'] };
  const before = await run(client.query(FILES, {}, context));
  assertEqual(before.attachments.nodes.map((n) => n.id), ids, 'the list before');
  const plain = await run(client.query(FILE_NAMES, {}));
  assertEqual(plain.attachments.nodes.length, 2, 'the list without additionalTypenames');
  sent.length = 0;
  const deleted = await run(client.mutation(DELETE, { id: ids[0] }));
  assertEqual(deleted.deleteAttachment.entityId, ids[0], 'deleteAttachment.entityId');
  const after = await run(client.query(FILES, {}, context));
  assertEqual(after.attachments.nodes.map((n) => n.id), [ids[1]], 'the list after');
  assertEqual(after.attachments.totalCount, 1, 'totalCount after');
  assertEqual(sent.map((r) => r.method), ['POST', 'GET'], 'requests');
  // Without it the document cache cannot know: the answer names no Attachment.
  const stale = await run(client.query(FILE_NAMES, {}));
  assertEqual(stale.attachments.nodes.length, 2, 'the list without additionalTypenames (still cached)');
  assert(sent.length === 2, 'no request for the list without additionalTypenames');
});

finish();
