// A graphql-inspector diff rule: introspection carries a scalar's @specifiedBy as the field
// specifiedByURL, not as a directive, so a schema read by introspection never has the directive
// and `diff schema.graphql <url>` reports it removed from every scalar that has one. This rule
// drops those reports; inspector.mjs compares the URLs themselves.
module.exports = ({ changes }) =>
  changes.filter(
    (change) =>
      !(change.type === 'DIRECTIVE_USAGE_SCALAR_REMOVED' && change.meta?.removedDirectiveName === 'specifiedBy'),
  );
