// relay-compiler on the fragments an app writes against schema.graphql (the SDL the server
// exports), with relay/relay.config.json: each folder under relay/ is compiled on its own, so
// each failure has one cause.
//   pagination/  @connection on users and User.attachments, @refetchable on Query, User and
//                Attachment (refetched through node(id:)), @deleteEdge after deleteAttachment
//   deletion/    @refetchable on Deletion, which needs Deletion to implement Node
//   backward/    connections paged both ways (first/after and last/before)
// Also: customScalarTypes names every custom scalar the schema has, and the generated
// TypeScript types the byte count as a number and DateTime as a string.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getNamedType, isScalarType, specifiedScalarTypes } from 'graphql';
import { assert, checks } from './common.mjs';

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
function compile(name) {
  const dir = mkdtempSync(join(work, `relay-${name}-`));
  cpSync(join(here, 'relay', name), join(dir, 'src'), { recursive: true });
  cpSync(schemaPath, join(dir, 'schema.graphql'));
  writeFileSync(join(dir, 'relay.config.json'), JSON.stringify(config, null, 2));
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
  return join(dir, 'src', '__generated__');
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

finish();
