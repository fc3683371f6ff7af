// relay-compiler on the fragments an app writes against schema.graphql (the SDL the server
// exports), with relay/relay.config.json: each folder under relay/ is compiled on its own, so
// each failure has one cause.
//   pagination/  @connection on users and User.attachments, @refetchable on Query, User and
//                Attachment (refetched through node(id:)), @deleteEdge after deleteAttachment
//   deletion/    @refetchable on Deletion, which needs Deletion to implement Node
//   backward/    connections paged both ways (first/after and last/before), one @connection
//                to a refetchable fragment
// Also: customScalarTypes names every custom scalar the schema has, and the generated
// TypeScript types the byte count as a number and DateTime as a string. Then relay-runtime runs
// the pagination/ artifacts (compiled again as JavaScript) against the server: the users list,
// a user's attachments paged with the @connection, a user and an attachment refetched through
// node(id:), @deleteEdge dropping a deleted attachment from the connection, the deletion that
// made refetched through node(id:), and (backward/) a user's attachments paged from the end
// with last/before, as loadPrevious does.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { buildSchema, getNamedType, isScalarType, specifiedScalarTypes } from 'graphql';
import RelayRuntime from 'relay-runtime';
import { api, assert, assertEqual, auth, checks, seedAttachments, seedUsers, url } from './common.mjs';

const {
  commitMutation, ConnectionHandler, createOperationDescriptor, Environment, fetchQuery, getRequest, getSelector,
  Network, RecordSource, Store,
} = RelayRuntime;

const here = new URL('.', import.meta.url).pathname;
const schemaPath = process.env.KEEPSAKE_SCHEMA;
const work = process.env.CLIENTS_WORK;
const config = JSON.parse(readFileSync(join(here, 'relay/relay.config.json'), 'utf8'));
const schema = buildSchema(readFileSync(schemaPath, 'utf8'));
const builtIn = new Set(specifiedScalarTypes.map((t) => t.name));
const custom = Object.values(schema.getTypeMap())
  .filter((t) => isScalarType(t) && !builtIn.has(t.name))
  .map((t) => t.name)
  .sort();
const byteScalar = getNamedType(schema.getType('Attachment').getFields().sizeBytes.type).name;

const { check, finish } = checks('relay');

// Compiles relay/<name> into a scratch folder; returns the folder of generated artifacts.
// With `javascript`, the sources and the artifacts are JavaScript modules Node can import.
function compile(name, { javascript = false } = {}) {
  const dir = mkdtempSync(join(work, `relay-${name}-`));
  cpSync(join(here, 'relay', name), join(dir, 'src'), { recursive: true });
  cpSync(schemaPath, join(dir, 'schema.graphql'));
  const settings = javascript ? { ...config, language: 'javascript' } : config;
  if (javascript) {
    writeFileSync(join(dir, 'package.json'), '{"type": "module"}\n');
    for (const file of readdirSync(join(dir, 'src'))) {
      if (file.endsWith('.ts')) cpSync(join(dir, 'src', file), join(dir, 'src', file.replace(/\.ts$/, '.js')));
    }
    spawnSync('sh', ['-c', 'rm -f src/*.ts'], { cwd: dir });
  }
  writeFileSync(join(dir, 'relay.config.json'), JSON.stringify(settings, null, 2));
  const run = spawnSync(process.execPath, [join(here, 'node_modules/relay-compiler/cli.js')], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (run.status !== 0) {
    // The compiler's errors, each with the line it points at, without colours or progress.
    const lines = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').split('\n');
    const errors = lines
      .map((line, i) => {
        if (!/Error: ✖/.test(line)) return null;
        const rest = lines.slice(i + 1);
        const end = rest.findIndex((l) => /^\s*src\/\S+:\d+:\d+/.test(l));
        const bullets = rest.slice(0, end < 0 ? 0 : end).map((l) => l.trim()).filter((l) => l.startsWith('- '));
        const message = [line.replace(/^.*Error: ✖︎?\s*/, ''), ...bullets].join(' ');
        return end < 0 ? message : `${message} (${rest[end].trim()})`;
      })
      .filter(Boolean);
    throw new Error(`relay-compiler exited ${run.status ?? run.signal}: ${errors.join('; ') || lines.join(' | ')}`);
  }
  const out = join(dir, 'src', '__generated__');
  if (javascript) {
    // The artifacts import each other without an extension, as a bundler resolves them; Node
    // needs the `.js`.
    for (const file of readdirSync(out)) {
      const path = join(out, file);
      writeFileSync(path, readFileSync(path, 'utf8').replace(/from '(\.\/[^']+\.graphql)'/g, "from '$1.js'"));
    }
  }
  return out;
}

await check('customScalarTypes names every custom scalar in schema.graphql', async () => {
  const missing = custom.filter((name) => !(name in config.customScalarTypes));
  assert(!missing.length, `relay.config.json has no customScalarTypes entry for ${missing.join(', ')}`);
  return custom.map((name) => `${name}: ${config.customScalarTypes[name]}`).join(', ');
});

await check('every connection field takes last and before (backward paging)', async () => {
  const missing = [];
  let count = 0;
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__') || !('getFields' in type) || !type.getFields) continue;
    for (const field of Object.values(type.getFields())) {
      if (!('args' in field) || !getNamedType(field.type).name.endsWith('Connection')) continue;
      count += 1;
      const args = field.args.map((a) => a.name);
      for (const arg of ['first', 'after', 'last', 'before']) {
        if (!args.includes(arg)) missing.push(`${type.name}.${field.name}(${arg})`);
      }
    }
  }
  assert(!missing.length, `no ${missing.join(', ')}`);
  return `${count} connection fields`;
});

await check('@connection on users and User.attachments, @refetchable on Query, User and Attachment', async () => {
  const out = compile('pagination');
  const files = readdirSync(out).sort();
  for (const name of ['UserCardPaginationQuery.graphql.ts', 'AttachmentRowRefetchQuery.graphql.ts', 'UserListPaginationQuery.graphql.ts']) {
    assert(files.includes(name), `no ${name} among ${files.join(', ')}`);
  }
  const refetch = readFileSync(join(out, 'UserCardPaginationQuery.graphql.ts'), 'utf8');
  assert(/node\(id: \$id\)/.test(refetch), 'the User refetch query reads node(id: $id)');
  const row = readFileSync(join(out, 'AttachmentRow_attachment.graphql.ts'), 'utf8');
  assert(/readonly sizeBytes: number;/.test(row), `sizeBytes (${byteScalar}) is not typed number`);
  assert(/readonly createdAt: string;/.test(row), 'createdAt (DateTime) is not typed string');
  return `${files.length} artifacts; sizeBytes is ${byteScalar}, typed number`;
});

await check('@refetchable on Deletion (Deletion implements Node) and the log as a @connection', async () => {
  const out = compile('deletion');
  const refetch = readFileSync(join(out, 'DeletionRowRefetchQuery.graphql.ts'), 'utf8');
  assert(/node\(id: \$id\)/.test(refetch), 'the Deletion refetch query reads node(id: $id)');
});

await check('connections paged both ways: users, User.attachments and deletions with last/before', async () => {
  compile('backward');
});

// relay-runtime with the network a Relay app sets up: the compiled text and the variables,
// posted as JSON with the bearer token.
const network = Network.create(async (params, variables) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...auth },
    body: JSON.stringify({ query: params.text, variables }),
  });
  return response.json();
});
const environment = new Environment({ network, store: new Store(new RecordSource()) });

let artifacts;
const load = async (name) => (await import(pathToFileURL(join(artifacts, `${name}.graphql.js`)).href)).default;

// Reads what a fragment reference points at, as useFragment does.
const read = (fragment, ref) => environment.lookup(getSelector(fragment, ref)).data;

const owner = (await seedUsers('relay', 1))[0];
const files = await seedAttachments(owner, 12, 'relay');

await check('relay-runtime: the users list, then a user refetched through node(id:) with its attachments paged', async () => {
  artifacts = compile('pagination', { javascript: true });
  const [UserListQuery, UserListFragment, UserCardPaginationQuery, UserCardFragment] = await Promise.all(
    ['UserListQuery', 'UserList_query', 'UserCardPaginationQuery', 'UserCard_user'].map(load),
  );
  await fetchQuery(environment, UserListQuery, {}).toPromise();
  const root = environment.lookup(createOperationDescriptor(getRequest(UserListQuery), {}).fragment).data;
  const list = read(UserListFragment, root);
  assert(list.users.edges.length === Math.min(20, list.users.totalCount), `users: ${list.users.edges.length} of ${list.users.totalCount}`);

  // loadNext, as usePaginationFragment runs it: the refetch query with the cursor.
  let pages = 0;
  let user;
  for (let cursor = null; ; ) {
    const data = await fetchQuery(environment, UserCardPaginationQuery, { id: owner, count: 5, cursor }).toPromise();
    assert(data.node, `node(id: "${owner}") is null`);
    user = read(UserCardFragment, data.node);
    pages += 1;
    const pageInfo = readPageInfo(owner);
    if (!pageInfo.hasNextPage) break;
    cursor = pageInfo.endCursor;
    assert(pages < 10, 'the cursor does not move');
  }
  assertEqual(user.attachments.edges.map((e) => e.node.id), files, 'the connection after paging');
  return `${list.users.edges.length} users; ${files.length} attachments in ${pages} pages`;
});

// The connection's pageInfo, from the store.
function readPageInfo(userId) {
  const source = environment.getStore().getSource();
  const connection = source.get(ConnectionHandler.getConnectionID(userId, 'UserCard_attachments'));
  return source.get(connection.pageInfo.__ref);
}

await check('relay-runtime: an attachment refetched through node(id:)', async () => {
  const [AttachmentRowRefetchQuery, AttachmentRowFragment] = await Promise.all(
    ['AttachmentRowRefetchQuery', 'AttachmentRow_attachment'].map(load),
  );
  const data = await fetchQuery(environment, AttachmentRowRefetchQuery, { id: files[2] }).toPromise();
  assert(data.node, `node(id: "${files[2]}") is null`);
  const attachment = read(AttachmentRowFragment, data.node);
  assertEqual([attachment.id, attachment.filename, attachment.sizeBytes], [files[2], 'relay-2.txt', 2], 'the attachment');
});

await check('relay-runtime: deleteAttachment with @deleteEdge on entityId drops the edge', async () => {
  const [AttachmentRowDeleteMutation, UserCardPaginationQuery, UserCardFragment] = await Promise.all(
    ['AttachmentRowDeleteMutation', 'UserCardPaginationQuery', 'UserCard_user'].map(load),
  );
  const connection = ConnectionHandler.getConnectionID(owner, 'UserCard_attachments');
  await new Promise((resolve, reject) =>
    commitMutation(environment, {
      mutation: AttachmentRowDeleteMutation,
      variables: { id: files[0], connections: [connection] },
      onCompleted: (_, errors) => (errors?.length ? reject(new Error(JSON.stringify(errors))) : resolve()),
      onError: reject,
    }),
  );
  const data = environment.lookup(
    createOperationDescriptor(getRequest(UserCardPaginationQuery), { id: owner, count: 5, cursor: null }).fragment,
  ).data;
  const user = read(UserCardFragment, data.node);
  assertEqual(user.attachments.edges.map((e) => e.node.id), files.slice(1), 'the connection after the delete');
  const fresh = await api(`{ user(id: "${owner}") { attachments { totalCount } } }`);
  assertEqual(fresh.user.attachments.totalCount, 11, "the server's totalCount");
});

await check('relay-runtime: a deletion refetched through node(id:)', async () => {
  const out = compile('deletion', { javascript: true });
  const [DeletionRowRefetchQuery, DeletionRowFragment] = await Promise.all(
    ['DeletionRowRefetchQuery', 'DeletionRow_deletion'].map(
      async (name) => (await import(pathToFileURL(join(out, `${name}.graphql.js`)).href)).default,
    ),
  );
  const log = await api('{ deletions(first: 1) { nodes { id entityId } } }');
  const [latest] = log.deletions.nodes;
  const data = await fetchQuery(environment, DeletionRowRefetchQuery, { id: latest.id }).toPromise();
  assert(data.node, `node(id: "${latest.id}") is null`);
  const deletion = read(DeletionRowFragment, data.node);
  assertEqual([deletion.id, deletion.entity, deletion.entityId], [latest.id, 'ATTACHMENT', files[0]], 'the deletion');
});

await check('relay-runtime: loadPrevious, a user\'s attachments paged from the end with last/before', async () => {
  const out = compile('backward', { javascript: true });
  const [UserFilesPaginationQuery, UserFilesFragment] = await Promise.all(
    ['UserFilesPaginationQuery', 'UserFiles_user'].map(
      async (name) => (await import(pathToFileURL(join(out, `${name}.graphql.js`)).href)).default,
    ),
  );
  const source = () => environment.getStore().getSource();
  let pages = 0;
  let user;
  for (let before = null; ; ) {
    const data = await fetchQuery(environment, UserFilesPaginationQuery, { id: owner, last: 4, before }).toPromise();
    assert(data.node, `node(id: "${owner}") is null`);
    user = read(UserFilesFragment, data.node);
    pages += 1;
    const connection = source().get(ConnectionHandler.getConnectionID(owner, 'UserFiles_attachments'));
    const pageInfo = source().get(connection.pageInfo.__ref);
    if (!pageInfo.hasPreviousPage) break;
    before = pageInfo.startCursor;
    assert(pages < 10, 'the cursor does not move');
  }
  // The first attachment was deleted by the @deleteEdge check above.
  assertEqual(user.attachments.edges.map((e) => e.node.id), files.slice(1), 'the connection after paging backwards');
  return `${files.length - 1} attachments in ${pages} pages`;
});

finish();
