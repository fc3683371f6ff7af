// PostGraphile v5 serving Keepsake's tables for bench/head_to_head.sh: the Amber preset with
// simplified names, the soft-delete plugin beside this file, and the primary key kept as `id`.
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { PgSimplifyInflectionPreset } from "@graphile/simplify-inflection";
import { SoftDeletePlugin } from "./soft-delete-plugin.mjs";

// Amber renames a column called `id` to `rowId` (it keeps `id` for Relay's node ids, which are
// turned off below); keep it `id`, as Keepsake's tables call it.
const KeepIdPlugin = {
  name: "KeepIdPlugin",
  version: "0.1.0",
  inflection: {
    replace: {
      _attributeName(previous, _options, details) {
        return previous({ ...details, skipRowId: true });
      },
    },
  },
};

/** @type {GraphileConfig.Preset} */
export default {
  extends: [PostGraphileAmberPreset, PgSimplifyInflectionPreset],
  plugins: [SoftDeletePlugin, KeepIdPlugin],
  disablePlugins: ["NodePlugin"],
  pgServices: [
    makePgService({
      connectionString: process.env.DATABASE_URL,
      schemas: ["public"],
      poolConfig: { max: Number(process.env.PG_POOL_MAX ?? 10) },
    }),
  ],
  grafast: {
    explain: false,
    // An admin sends "Authorization: Bearer $ADMIN_TOKEN" (the soft-delete plugin reads it).
    context(requestContext) {
      const auth = requestContext.node?.req?.headers?.authorization ?? "";
      return { isAdmin: auth === `Bearer ${process.env.ADMIN_TOKEN ?? "admin-secret"}` };
    },
  },
  grafserv: {
    host: "127.0.0.1",
    port: Number(process.env.PORT ?? 5678),
    graphqlPath: "/graphql",
    graphiql: false,
    watch: false,
  },
};
