// graphql-inspector diff's completion handler: writes what it found to $CLIENTS_WORK so that
// inspector.mjs can judge it (the default handler fails on breaking changes only).
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');

module.exports = ({ breakingChanges, dangerousChanges, nonBreakingChanges }) => {
  const messages = (changes) => changes.map((change) => change.message);
  writeFileSync(
    join(process.env.CLIENTS_WORK, 'inspector-diff.json'),
    JSON.stringify({
      breaking: messages(breakingChanges),
      dangerous: messages(dangerousChanges),
      safe: messages(nonBreakingChanges),
    }),
  );
};
