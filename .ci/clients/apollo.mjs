// Apollo Client 3 as an app uses it: an InMemoryCache with relayStylePagination on `users` and
// `User.attachments`, both paged to the end with fetchMore (and both backwards with
// `last`/`before`); a delete whose `update` evicts the row and fixes the count, and a restore
// that evicts the list so it is read again; automatic persisted queries (createPersistedQueryLink
// with a sha256 function, over POST and over GET); uploads through apollo-upload-client's
// createUploadLink (one file, and two in one request); an id a client builds itself with btoa;
// and byte counts past 2^32. Run by run.sh, which starts the server.
import { createHash } from 'node:crypto';
import { ApolloClient, InMemoryCache, gql } from '@apollo/client/core/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';
import { relayStylePagination } from '@apollo/client/utilities/index.js';
import createUploadLink from 'apollo-upload-client/createUploadLink.mjs';
import {
  adminId, api, assert, assertEqual, auth, checks, memberAuth, memberId, paddedId, seedAttachments, seedUsers,
  unpadded, url,
} from './common.mjs';

// Apollo Client 3.14 warns about APIs that change in 4.0; these checks use the 3.x APIs on purpose.
globalThis[Symbol.for('apollo.deprecations')] = true;

// The hash for persisted queries, with Web Crypto (browsers and Node alike).
async function sha256(text) {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
}
const sha256Sync = (text) => createHash('sha256').update(text).digest('hex');

// Every request Apollo sends, as the server saw it.
const sent = [];
async function recordingFetch(input, init = {}) {
  const body = init.body;
  sent.push({
    method: init.method ?? 'GET',
    url: String(input),
    headers: Object.fromEntries(new Headers(init.headers).entries()),
    body: typeof body === 'string' ? JSON.parse(body) : body instanceof FormData ? body : undefined,
  });
  return fetch(input, init);
}

// The cache the guide shows: both connections paged Relay-style, each list kept per filter.
function newCache() {
  return new InMemoryCache({
    typePolicies: {
      Query: {
        fields: {
          users: relayStylePagination(['includeDeleted', 'onlyDeleted']),
          deletions: relayStylePagination(['entity', 'actorId', 'actor', 'since', 'until', 'reason', 'search']),
        },
      },
      User: {
        fields: {
          attachments: relayStylePagination(['includeDeleted', 'onlyDeleted']),
        },
      },
    },
  });
}

function newClient({ persisted = false, useGET = false, headers = auth } = {}) {
  let link = createUploadLink({ uri: url, headers, fetch: recordingFetch });
  if (persisted) link = createPersistedQueryLink({ sha256, useGETForHashedQueries: useGET }).concat(link);
  return new ApolloClient({ link, cache: newCache(), name: 'keepsake-ci', version: '1.0.0' });
}

const USERS = gql`
  query Users($first: Int, $after: String) {
    users(first: $first, after: $after) {
      totalCount
      edges { cursor node { id name } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

const USERS_BACKWARDS = gql`
  query UsersBackwards($last: Int, $before: String) {
    users(last: $last, before: $before) {
      totalCount
      edges { cursor node { id name } }
      pageInfo { hasPreviousPage startCursor }
    }
  }
`;

const ATTACHMENTS = gql`
  query UserAttachments($id: ID!, $first: Int, $after: String) {
    user(id: $id) {
      id
      attachments(first: $first, after: $after) {
        totalCount
        edges { cursor node { id filename sizeBytes } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`;

const ATTACHMENTS_BACKWARDS = gql`
  query UserAttachmentsBackwards($id: ID!, $last: Int, $before: String) {
    user(id: $id) {
      id
      attachments(last: $last, before: $before) {
        totalCount
        edges { cursor node { id filename sizeBytes } }
        pageInfo { hasPreviousPage startCursor }
      }
    }
  }
`;

const DELETE_ATTACHMENT = gql`
  mutation DeleteAttachment($id: ID!, $reason: String) {
    deleteAttachment(id: $id, reason: $reason) { id entity entityId deletedAt }
  }
`;

const DELETE_USER = gql`
  mutation DeleteUser($id: ID!, $reason: String) {
    deleteUser(id: $id, reason: $reason) { id entity entityId cascadeCount deletedAt }
  }
`;

const RESTORE = gql`
  mutation Restore($deletionId: ID!) {
    restore(deletionId: $deletionId) { id restoredAt }
  }
`;

const UPLOAD = gql`
  mutation Upload($ownerId: ID!, $file: Upload!) {
    createAttachment(input: {ownerId: $ownerId, file: $file}) { id filename contentType sizeBytes sha256 }
  }
`;

const UPLOAD_TWO = gql`
  mutation UploadTwo($ownerId: ID!, $a: Upload!, $b: Upload!) {
    a: createAttachment(input: {ownerId: $ownerId, file: $a}) { id filename sizeBytes sha256 }
    b: createAttachment(input: {ownerId: $ownerId, file: $b}) { id filename sizeBytes sha256 }
  }
`;

const ME = gql`
  query Me { me { id name role } }
`;

// Pages a watched query forwards (or backwards) with fetchMore until the server says the end.
async function pageToEnd(client, query, variables, select, { backwards = false } = {}) {
  const watch = client.watchQuery({ query, variables });
  let result = await watch.result();
  let pages = 1;
  for (;;) {
    const { pageInfo } = select(result.data);
    if (backwards ? !pageInfo.hasPreviousPage : !pageInfo.hasNextPage) break;
    assert(pages < 100, 'more than 100 pages: the cursor does not move');
    await watch.fetchMore({
      variables: backwards ? { before: pageInfo.startCursor } : { after: pageInfo.endCursor },
    });
    result = watch.getCurrentResult();
    pages += 1;
  }
  return { connection: select(watch.getCurrentResult().data), pages, watch };
}

const { check, finish } = checks('apollo');

// Rows for the checks below: 25 users and one of them with 23 attachments.
const userIds = await seedUsers('apollo', 25);
const owner = userIds[0];
const attachmentIds = await seedAttachments(owner, 23, 'apollo');
const client = newClient();

await check('relayStylePagination pages users(first: 7) to the end with fetchMore', async () => {
  sent.length = 0;
  const { connection, pages } = await pageToEnd(client, USERS, { first: 7 }, (d) => d.users);
  const ids = connection.edges.map((e) => e.node.id);
  assertEqual(ids.length, connection.totalCount, 'users merged in the cache vs totalCount');
  assertEqual(new Set(ids).size, ids.length, 'distinct users');
  for (const id of userIds) assert(ids.includes(id), `seeded user ${id} missing from the merged list`);
  assertEqual(pages, Math.ceil(connection.totalCount / 7), 'pages');
  assertEqual(sent.length, pages, 'requests sent');
  assert(sent.every((r) => r.headers['apollographql-client-name'] === 'keepsake-ci'), 'client name header sent');
  return `${ids.length} users in ${pages} pages`;
});

await check('relayStylePagination pages User.attachments(first: 5) to the end with fetchMore', async () => {
  const { connection, pages } = await pageToEnd(client, ATTACHMENTS, { id: owner, first: 5 }, (d) => d.user.attachments);
  assertEqual(connection.edges.map((e) => e.node.id), attachmentIds, 'attachments merged in the cache, oldest first');
  assertEqual(connection.totalCount, 23, 'totalCount');
  return `23 attachments in ${pages} pages`;
});

await check('deleteAttachment with an update that evicts the row and fixes totalCount', async () => {
  const victim = attachmentIds[3];
  const { data } = await client.mutate({
    mutation: DELETE_ATTACHMENT,
    variables: { id: victim, reason: 'apollo cache check' },
    update(cache, { data: { deleteAttachment } }) {
      // deleteAttachment answers the Deletion; its entityId is the attachment it hid.
      cache.evict({ id: cache.identify({ __typename: 'Attachment', id: deleteAttachment.entityId }) });
      cache.modify({
        id: cache.identify({ __typename: 'User', id: owner }),
        fields: {
          attachments(existing) {
            return existing && { ...existing, totalCount: existing.totalCount - 1 };
          },
        },
      });
      cache.gc();
    },
  });
  assertEqual(data.deleteAttachment.entity, 'ATTACHMENT', 'deletion entity');
  assertEqual(data.deleteAttachment.entityId, victim, 'deletion entityId');
  const cached = client.readQuery({ query: ATTACHMENTS, variables: { id: owner, first: 5 } });
  const ids = cached.user.attachments.edges.map((e) => e.node.id);
  assertEqual(ids, attachmentIds.filter((id) => id !== victim), 'the cached list after the eviction');
  assertEqual(cached.user.attachments.totalCount, 22, 'cached totalCount');
  const fresh = await api(`{ user(id: "${owner}") { attachments { totalCount } } }`);
  assertEqual(fresh.user.attachments.totalCount, 22, "the server's totalCount");
  globalThis.attachmentDeletion = data.deleteAttachment.id;
  return `deletion ${data.deleteAttachment.id}`;
});

await check('restore, then evicting User.attachments reads the whole list again', async () => {
  assert(globalThis.attachmentDeletion, 'no deletion from the check before');
  const { data } = await client.mutate({
    mutation: RESTORE,
    variables: { deletionId: globalThis.attachmentDeletion },
    update(cache) {
      // restore answers the Deletion, not the rows: drop the list and let it be fetched again.
      cache.evict({ id: cache.identify({ __typename: 'User', id: owner }), fieldName: 'attachments' });
      cache.gc();
    },
  });
  assert(data.restore.restoredAt, 'restoredAt is set');
  const { connection } = await pageToEnd(client, ATTACHMENTS, { id: owner, first: 10 }, (d) => d.user.attachments);
  assertEqual(connection.edges.map((e) => e.node.id), attachmentIds, 'the list read again');
  assertEqual(connection.totalCount, 23, 'totalCount');
});

await check('deleteUser with an update that evicts the user from the users list', async () => {
  const victim = userIds[24];
  await pageToEnd(client, USERS, { first: 50 }, (d) => d.users);
  const before = client.readQuery({ query: USERS, variables: { first: 50 } }).users;
  const { data } = await client.mutate({
    mutation: DELETE_USER,
    variables: { id: victim, reason: 'apollo cache check' },
    update(cache, { data: { deleteUser } }) {
      cache.evict({ id: cache.identify({ __typename: 'User', id: deleteUser.entityId }) });
      cache.modify({
        fields: {
          users(existing) {
            return existing && { ...existing, totalCount: existing.totalCount - 1 };
          },
        },
      });
      cache.gc();
    },
  });
  assertEqual(data.deleteUser.entity, 'USER', 'deletion entity');
  const after = client.readQuery({ query: USERS, variables: { first: 50 } }).users;
  assertEqual(after.edges.length, before.edges.length - 1, 'users in the cached list');
  assert(!after.edges.some((e) => e.node.id === victim), 'the deleted user is gone from the cached list');
  assertEqual(after.totalCount, before.totalCount - 1, 'cached totalCount');
});

await check('relayStylePagination pages users(last: 7) backwards to the start with fetchMore', async () => {
  const backwards = newClient();
  const { connection, pages } = await pageToEnd(
    backwards, USERS_BACKWARDS, { last: 7 }, (d) => d.users, { backwards: true },
  );
  const forwards = await pageToEnd(newClient(), USERS, { first: 100 }, (d) => d.users);
  assertEqual(
    connection.edges.map((e) => e.node.id),
    forwards.connection.edges.map((e) => e.node.id),
    'users paged backwards, in the cache, vs forwards',
  );
  return `${connection.edges.length} users in ${pages} pages`;
});

await check('relayStylePagination pages User.attachments(last: 5) backwards to the start with fetchMore', async () => {
  const { connection, pages } = await pageToEnd(
    newClient(), ATTACHMENTS_BACKWARDS, { id: owner, last: 5 }, (d) => d.user.attachments, { backwards: true },
  );
  assertEqual(connection.edges.map((e) => e.node.id), attachmentIds, 'attachments paged backwards, in the cache');
  return `23 attachments in ${pages} pages`;
});

await check('createUploadLink uploads a File to createAttachment(input: {ownerId, file})', async () => {
  const text = 'hello from apollo-upload-client\n';
  const file = new File([text], 'apollo.txt', { type: 'text/plain' });
  sent.length = 0;
  const { data } = await client.mutate({ mutation: UPLOAD, variables: { ownerId: owner, file } });
  assert(sent[0].body instanceof FormData, 'the request was multipart');
  const got = data.createAttachment;
  assertEqual(
    [got.filename, got.contentType, got.sizeBytes, got.sha256],
    ['apollo.txt', 'text/plain', Buffer.byteLength(text), sha256Sync(text)],
    'filename, contentType, sizeBytes, sha256',
  );
  const back = await fetch(`${new URL(url).origin}/attachments/${got.id}/content`, { headers: auth });
  assertEqual(await back.text(), text, 'the bytes downloaded back');
  return `${got.id}, ${got.sizeBytes} bytes`;
});

await check('createUploadLink sends two files in one request, each to its own variable', async () => {
  const a = new File(['first file\n'], 'a.txt', { type: 'text/plain' });
  const b = new Blob([new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0])], { type: 'image/png' });
  sent.length = 0;
  const { data } = await client.mutate({ mutation: UPLOAD_TWO, variables: { ownerId: owner, a, b } });
  assertEqual(sent.length, 1, 'requests');
  assertEqual(JSON.parse(sent[0].body.get('map')), { 1: ['variables.a'], 2: ['variables.b'] }, 'map');
  assertEqual([data.a.filename, data.a.sizeBytes], ['a.txt', 11], 'first file');
  assertEqual([data.b.filename, data.b.sizeBytes], ['blob', 12], 'second file (a Blob: FormData names it "blob")');
});

await check('persisted queries over POST: the hash alone, the query once when asked', async () => {
  const apq = newClient({ persisted: true });
  sent.length = 0;
  const first = await apq.query({ query: ME, fetchPolicy: 'network-only' });
  assertEqual(first.data.me.id, adminId, 'me.id');
  // First the hash alone (PersistedQueryNotFound), then the hash with the query.
  assertEqual(sent.map((r) => [r.method, 'query' in r.body]), [['POST', false], ['POST', true]], 'first requests');
  const hash = sha256Sync(sent[1].body.query);
  assertEqual(sent[0].body.extensions.persistedQuery, { version: 1, sha256Hash: hash }, 'extension');
  const again = newClient({ persisted: true });
  sent.length = 0;
  const second = await again.query({ query: ME, fetchPolicy: 'network-only' });
  assertEqual(second.data.me.id, adminId, 'me.id from the hash alone');
  assertEqual(sent.map((r) => [r.method, 'query' in r.body]), [['POST', false]], 'a new client sends the hash alone');
  return `sha256 ${hash.slice(0, 12)}…`;
});

await check("persisted queries are per role: a member's first use of the admin's hash sends the query", async () => {
  const member = newClient({ persisted: true, headers: memberAuth });
  sent.length = 0;
  const { data } = await member.query({ query: ME, fetchPolicy: 'network-only' });
  assertEqual(data.me.id, memberId, 'me.id');
  assertEqual(sent.map((r) => 'query' in r.body), [false, true], 'hash alone, then with the query');
});

await check('persisted queries over GET (useGETForHashedQueries)', async () => {
  const apq = newClient({ persisted: true, useGET: true });
  const USERS_COUNT = gql`query UsersCount { users(first: 1) { totalCount } }`;
  sent.length = 0;
  const first = await apq.query({ query: USERS_COUNT });
  assert(first.data.users.totalCount >= 25, 'totalCount');
  const again = newClient({ persisted: true, useGET: true });
  const second = await again.query({ query: USERS_COUNT });
  assertEqual(second.data.users.totalCount, first.data.users.totalCount, 'the same answer');
  // The hash alone over GET; the link resends the query over POST when the server lacks it.
  const methods = sent.map((r) => `${r.method}${new URL(r.url).searchParams.has('query') || r.body?.query ? '+query' : ''}`);
  assertEqual(methods, ['GET', 'POST+query', 'GET'], 'requests');
});

await check('persisted queries with uploads: createPersistedQueryLink before createUploadLink', async () => {
  const apq = newClient({ persisted: true });
  const upload = async (name, text) => {
    sent.length = 0;
    const { data } = await apq.mutate({ mutation: UPLOAD, variables: { ownerId: owner, file: new File([text], name, { type: 'text/plain' }) } });
    assertEqual([data.createAttachment.filename, data.createAttachment.sizeBytes], [name, text.length], 'the attachment');
    assert(sent.every((r) => r.body instanceof FormData), 'multipart requests');
    return sent.map((r) => (JSON.parse(r.body.get('operations')).query ? 'hash+query' : 'hash'));
  };
  // The first upload sends the hash alone, then (PersistedQueryNotFound) the hash with the
  // query, the file with each; the second upload sends the hash alone.
  assertEqual(await upload('apq-1.txt', 'persisted upload\n'), ['hash', 'hash+query'], 'the first upload');
  assertEqual(await upload('apq-2.txt', 'persisted again\n'), ['hash'], 'the second upload');
});

await check('an id built with btoa (base64 padding) is the same id', async () => {
  // The tenth user exists: the admin is User:1 and 25 users were seeded above.
  const padded = paddedId('User', 10);
  assert(padded.endsWith('='), `${padded} has padding`);
  const { data } = await client.query({
    query: gql`query NodeById($id: ID!) { node(id: $id) { id ... on User { name } } user(id: $id) { id } }`,
    variables: { id: padded },
    fetchPolicy: 'network-only',
  });
  assertEqual(data.node?.id, unpadded(padded), 'node(id:).id');
  assertEqual(data.user?.id, unpadded(padded), 'user(id:).id');
  return `${padded} -> ${data.node.id}`;
});

await check('sizeBytes of 2^53 - 1 round-trips through Apollo as a JSON number', async () => {
  const { data } = await client.mutate({
    mutation: gql`mutation BigFile($o: ID!) {
      createAttachment(input: {ownerId: $o, filename: "big.bin", contentType: "application/octet-stream", sizeBytes: 9007199254740991}) { id sizeBytes }
    }`,
    variables: { o: owner },
  });
  assertEqual(data.createAttachment.sizeBytes, 2 ** 53 - 1, 'sizeBytes');
  return `sizeBytes ${data.createAttachment.sizeBytes}`;
});

finish();
