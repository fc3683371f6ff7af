// graphql-inspector, pinned, as a schema check in CI uses it: `diff` between schema.graphql
// and the live server's introspection (no breaking and no dangerous change; @specifiedBy, which
// introspection carries as specifiedByURL, is compared here instead, see inspector-rules.cjs),
// and `validate` of the operations the Apollo Client and urql checks send against
// schema.graphql. Run by run.sh, which starts the server.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, getIntrospectionQuery, isScalarType } from 'graphql';
import { api, assert, assertEqual, checks, url } from './common.mjs';

const here = new URL('.', import.meta.url).pathname;
const schema = process.env.KEEPSAKE_SCHEMA;
const work = process.env.CLIENTS_WORK;
const { check, finish } = checks('graphql-inspector');

function inspector(...args) {
  const run = spawnSync(process.execPath, [join(here, 'node_modules/@graphql-inspector/cli/cjs/index.js'), ...args], {
    cwd: here,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1' },
  });
  const output = `${run.stdout}\n${run.stderr}`.replace(/\x1b\[[0-9;]*m/g, '').replace(/\[log\]\s*/g, '').trim();
  return { status: run.status ?? run.signal, output };
}

await check('diff schema.graphql against the live introspection: no breaking, no dangerous change', async () => {
  const report = join(work, 'inspector-diff.json');
  const run = inspector(
    'diff', schema, url,
    '--rule', join(here, 'inspector-rules.cjs'),
    '--onComplete', join(here, 'inspector-on-complete.cjs'),
  );
  assert(run.status === 0, `graphql-inspector diff exited ${run.status}: ${run.output}`);
  if (!existsSync(report)) {
    assert(/No changes detected/.test(run.output), `no report and no "No changes detected": ${run.output}`);
    return 'no changes at all';
  }
  const { breaking, dangerous, safe } = JSON.parse(readFileSync(report, 'utf8'));
  assert(!breaking.length && !dangerous.length, `breaking: ${breaking.join('; ') || 'none'}; dangerous: ${dangerous.join('; ') || 'none'}`);
  return `${safe.length} safe changes: ${safe.join('; ')}`;
});

await check('every scalar has the same specifiedByURL in schema.graphql and in the introspection', async () => {
  const sdl = buildSchema(readFileSync(schema, 'utf8'));
  const live = await api(getIntrospectionQuery({ specifiedByUrl: true }), {}, {});
  const urls = (types) => Object.fromEntries(types.map((t) => [t.name, t.specifiedByURL ?? null]));
  const fromSdl = urls(Object.values(sdl.getTypeMap()).filter((t) => isScalarType(t)).sort((a, b) => a.name.localeCompare(b.name)));
  const fromLive = urls(live.__schema.types.filter((t) => t.kind === 'SCALAR').sort((a, b) => a.name.localeCompare(b.name)));
  assertEqual(fromLive, fromSdl, 'specifiedByURL per scalar (introspection vs schema.graphql)');
  return Object.entries(fromSdl).filter(([, u]) => u).map(([name]) => name).join(', ');
});

await check("validate the operations of apollo.mjs and urql.mjs against schema.graphql", async () => {
  const run = inspector('validate', '{apollo,urql}.mjs', schema, '--apollo');
  assert(run.status === 0, `graphql-inspector validate exited ${run.status}: ${run.output}`);
  const summary = run.output.split('\n').filter((line) => line.trim()).pop();
  return summary;
});

finish();
