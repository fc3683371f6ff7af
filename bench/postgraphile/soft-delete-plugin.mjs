// PostGraphile v5 plugin: soft delete the way Keepsake does it, so the head-to-head compares
// like with like. Written for postgraphile 5.1.5 (graphile-build-pg 5.1, grafast 1.x).
//
// Tables with a `deleted_at` column:
//  - collections (the root connections and the `User.attachments` relation) get an
//    `includeDeleted: Boolean = false` argument; unless it is true their SQL gets
//    `WHERE <alias>.deleted_at IS NULL`, which the partial indexes serve. Only an admin
//    (`context.isAdmin`, set in graphile.config.mjs) may pass true; anyone else gets an error.
//  - single rows (`user(id:)`, `attachment(id:)`, `Attachment.owner`) never show deleted rows.
//
// @graphile-contrib/pg-omit-archived does this for v4; its v5 beta does not load on 5.1.
import { context, lambda, SafeError } from "postgraphile/grafast";
import { sql } from "postgraphile/pg-sql2";

const DELETED_AT = "deleted_at";
const softDeletable = (codec) => Boolean(codec?.attributes?.[DELETED_AT]);

// At run time, the argument's value becomes a query-builder callback (or none).
function hideDeleted($select, arg) {
  const $include = arg.getRaw();
  const $isAdmin = context().get("isAdmin");
  $select.apply(
    lambda([$include, $isAdmin], ([include, isAdmin]) => {
      if (!include) {
        return (qb) => qb.where(sql`${qb.alias}.${sql.identifier(DELETED_AT)} is null`);
      }
      if (!isAdmin) {
        throw new SafeError("includeDeleted: true is for admins", { code: "FORBIDDEN" });
      }
      return null;
    }),
  );
}

export const SoftDeletePlugin = {
  name: "KeepsakeSoftDeletePlugin",
  version: "0.1.0",
  description: "Hides rows whose deleted_at is set unless an admin asks for them",
  schema: {
    hooks: {
      GraphQLObjectType_fields_field_args(args, build, ctx) {
        const { isPgFieldConnection, isPgFieldSimpleCollection, pgFieldResource, pgFieldCodec, fieldName } =
          ctx.scope;
        if (!(isPgFieldConnection || isPgFieldSimpleCollection)) return args;
        if (!softDeletable(pgFieldCodec ?? pgFieldResource?.codec) || args.includeDeleted) return args;
        return build.extend(
          args,
          {
            includeDeleted: {
              type: build.graphql.GraphQLBoolean,
              defaultValue: false,
              description: "Also rows whose deleted_at is set (admins only).",
              applyPlan: isPgFieldConnection
                ? (_$parent, $connection, arg) => hideDeleted($connection.getSubplan(), arg)
                : (_$parent, $select, arg) => hideDeleted($select, arg),
            },
          },
          `KeepsakeSoftDeletePlugin: includeDeleted on ${ctx.Self.name}.${fieldName}`,
        );
      },
      GraphQLObjectType_fields_field(field, build, ctx) {
        const { scope } = ctx;
        let codec = null;
        if (scope.isPgRowByUniqueConstraintField) {
          codec = scope.pgFieldResource?.codec;
        } else if (scope.isPgSingleRelationField && scope.pgRelationDetails) {
          const { registry, codec: from, relationName } = scope.pgRelationDetails;
          codec = registry.pgRelations[from.name]?.[relationName]?.remoteResource?.codec;
        }
        if (!softDeletable(codec) || typeof field.plan !== "function") return field;
        const plan = field.plan;
        return {
          ...field,
          plan(...planArgs) {
            const $row = plan.apply(this, planArgs);
            const $select = $row?.getClassStep?.();
            $select?.where(sql`${$select.alias}.${sql.identifier(DELETED_AT)} is null`);
            return $row;
          },
        };
      },
    },
  },
};

export default SoftDeletePlugin;
