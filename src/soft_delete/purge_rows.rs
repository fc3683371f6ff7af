//! What a purge batch does with the rows it takes: erases them, and copies each to the
//! archive (none of an erased user's), in the batch's transaction (`purge.rs`).

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::{PostgresQueryBuilder, Query};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait as _, DbBackend, DbErr, QueryFilter, Statement, Value,
};

use super::{EntityKind, SoftDeletable, Tx, exec, to_micros};
use crate::entity::{attachment, erasure, user};

/// What a purge batch took: what it counts, marks and frees once it commits.
pub(super) struct Taken {
    /// Rows erased (and archived, but for an erased user's).
    pub rows: u64,
    /// The distinct deletions that hid them, in ascending order.
    pub deletions: Vec<i64>,
    /// The distinct blobs they held, in ascending order.
    pub blobs: Vec<String>,
}

impl Taken {
    fn sorted(rows: u64, deletions: Vec<i64>, blobs: Vec<String>) -> Taken {
        Taken {
            rows,
            deletions: distinct(deletions),
            blobs: distinct(blobs),
        }
    }
}

/// Erases the rows of `E` that `wanted` selects (of those `found`) and archives each, none of
/// an erased user's (their tombstone is the record), in `tx`; returns them in id order.
pub(super) async fn take_rows<E>(
    tx: &Tx,
    wanted: Condition,
    found: &[i64],
    now: DateTimeUtc,
) -> Result<Taken, DbErr>
where
    E: SoftDeletable,
    E::Model: serde::Serialize,
{
    if exec(tx).get_database_backend() == DbBackend::Postgres {
        return take_in_one_statement::<E>(tx, wanted, now).await;
    }
    let erased = erased_rows::<E>(tx, found.iter().copied()).await?;
    let rows = erase_rows::<E>(tx, wanted).await?;
    let kept: Vec<&E::Model> = rows
        .iter()
        .filter(|row| !erased.contains(&E::id_of(row)))
        .collect();
    for chunk in kept.chunks(ARCHIVE_CHUNK) {
        archive_rows::<E>(tx, chunk, now).await?;
    }
    Ok(Taken::sorted(
        rows.len() as u64,
        rows.iter().filter_map(E::deletion_id_of).collect(),
        rows.iter().filter_map(E::blob_of).collect(),
    ))
}

/// Rows archived per insert on SQLite: a batch of several thousand rows stays under its
/// limit on the values one statement may bind.
const ARCHIVE_CHUNK: usize = 1_000;

/// PostgreSQL: erases, archives and returns the rows in one statement. The archive's copy is
/// built by the database from the row it deleted (`archived_json`), so no row travels to
/// Keepsake and back; the copy is the same text Keepsake would have written (a test compares
/// them byte for byte).
async fn take_in_one_statement<E: SoftDeletable>(
    tx: &Tx,
    wanted: Condition,
    now: DateTimeUtc,
) -> Result<Taken, DbErr> {
    let (delete, mut values) = Query::delete()
        .from_table(E::default())
        .cond_where(wanted)
        .to_owned()
        .build(PostgresQueryBuilder);
    values.0.push(Value::from(to_micros(now)));
    let now_param = values.0.len();
    let (owner, blob) = match E::KIND {
        EntityKind::User => ("id", "NULL::text"),
        EntityKind::Attachment => ("owner_id", r#"g."sha256""#),
    };
    let sql = format!(
        r#"WITH gone AS ({delete} RETURNING *),
kept AS (
  INSERT INTO "archive" ("entity", "entity_id", "row", "deletion_id", "deleted_at", "archived_at")
  SELECT '{entity}', g."id", {json}, g."deletion_id", g."deleted_at", ${now_param}::timestamptz
  FROM gone g
  WHERE NOT EXISTS (SELECT 1 FROM "erasures" e WHERE e."user_id" = g."{owner}")
  ORDER BY g."id"
)
SELECT count(*) AS "rows",
  coalesce(json_agg(DISTINCT g."deletion_id") FILTER (WHERE g."deletion_id" IS NOT NULL), '[]')::text AS "deletions",
  coalesce(json_agg(DISTINCT {blob}) FILTER (WHERE {blob} IS NOT NULL), '[]')::text AS "blobs"
FROM gone g"#,
        entity = E::KIND.as_str(),
        json = archived_json(E::KIND),
    );
    let conn = exec(tx);
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("purging: the batch's statement returned no row".into()))?;
    let json = |column: &str| -> Result<String, DbErr> { row.try_get("", column) };
    let parse = |e: serde_json::Error| DbErr::Custom(format!("purging: {e}"));
    let rows: i64 = row.try_get("", "rows")?;
    Ok(Taken::sorted(
        u64::try_from(rows).unwrap_or(0),
        serde_json::from_str(&json("deletions")?).map_err(parse)?,
        serde_json::from_str(&json("blobs")?).map_err(parse)?,
    ))
}

/// How a column of an archived row is written in its JSON.
#[derive(Clone, Copy)]
enum Json {
    /// A number (or null).
    Number(&'static str),
    /// A string (or null), escaped as JSON.
    Text(&'static str),
    /// A moment (or null), as `serde` writes a `DateTime<Utc>`: RFC 3339 in UTC with `Z`, the
    /// fraction of a second in 0, 3 or 6 digits, as few as hold it.
    Moment(&'static str),
}

/// The archived columns of each entity, in the order of its model's fields (the model's
/// `Serialize` writes the archive on SQLite; the folded search columns are left out).
fn archived_columns(kind: EntityKind) -> &'static [Json] {
    use Json::{Moment, Number, Text};
    match kind {
        EntityKind::User => &[
            Number("id"),
            Text("email"),
            Text("name"),
            Text("role"),
            Moment("created_at"),
            Moment("updated_at"),
            Moment("deleted_at"),
            Number("deleted_by"),
            Number("deletion_id"),
        ],
        EntityKind::Attachment => &[
            Number("id"),
            Number("owner_id"),
            Text("filename"),
            Text("content_type"),
            Number("size_bytes"),
            Moment("created_at"),
            Moment("deleted_at"),
            Number("deleted_by"),
            Number("deletion_id"),
            Text("sha256"),
        ],
    }
}

/// PostgreSQL: the SQL that writes row `g` of `kind` as the compact JSON `serde_json` writes
/// of its model (same keys, order, escapes and moments), by concatenation.
fn archived_json(kind: EntityKind) -> String {
    let fields = archived_columns(kind).iter().map(|&column| {
        let (name, value) = match column {
            Json::Number(c) => (c, format!(r#"g."{c}"::text"#)),
            Json::Text(c) => (c, format!(r#"to_json(g."{c}")::text"#)),
            Json::Moment(c) => (
                c,
                format!(
                    r#"'"' || to_char(g."{c}" AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN extract(microseconds FROM g."{c}")::bigint % 1000000 = 0 THEN '' WHEN extract(microseconds FROM g."{c}")::bigint % 1000 = 0 THEN to_char(g."{c}" AT TIME ZONE 'UTC', '.MS') ELSE to_char(g."{c}" AT TIME ZONE 'UTC', '.US') END || 'Z"'"#
                ),
            ),
        };
        format!(r#"'"{name}":' || coalesce({value}, 'null')"#)
    });
    format!(
        "'{{' || {} || '}}'",
        fields.collect::<Vec<_>>().join(" || ',' || ")
    )
}

/// Erases the rows of `E` that `wanted` selects and returns them, in id order, for the
/// archive (written next, in the same transaction). PostgreSQL locks, erases and returns them
/// in one statement (`DELETE … RETURNING`); SQLite, whose transactions write one at a time so
/// that nothing can change them between two statements, reads them, then erases them.
pub(super) async fn erase_rows<E>(tx: &Tx, wanted: Condition) -> Result<Vec<E::Model>, DbErr>
where
    E: SoftDeletable,
{
    let conn = exec(tx);
    let mut rows = if conn.get_database_backend() == DbBackend::Postgres {
        #[allow(clippy::disallowed_methods)] // the purge: erasing what it archives next
        let erase = E::delete_many();
        erase.filter(wanted).exec_with_returning(&conn).await?
    } else {
        #[allow(clippy::disallowed_methods)] // purge reads deleted rows by definition
        let rows = E::find().filter(wanted).all(&conn).await?;
        if !rows.is_empty() {
            #[allow(clippy::disallowed_methods)] // the purge: erasing what it archives next
            let erase = E::delete_many();
            erase
                .filter(E::id_column().is_in(rows.iter().map(E::id_of)))
                .exec(&conn)
                .await?;
        }
        rows
    };
    rows.sort_unstable_by_key(E::id_of);
    Ok(rows)
}

/// Copies `rows` of `E` to the archive, each as the JSON of its columns, in one statement
/// with one parameter: the batch as a JSON array the database unpacks (`json_to_recordset`
/// on PostgreSQL, `json_each` on SQLite). Binding six values a row, a thousand rows a
/// statement, cost the purge more than the archiving itself.
pub(super) async fn archive_rows<E>(
    tx: &Tx,
    rows: &[&E::Model],
    now: DateTimeUtc,
) -> Result<(), DbErr>
where
    E: SoftDeletable,
    E::Model: serde::Serialize,
{
    let backend = exec(tx).get_database_backend();
    // As each database keeps a timestamp written through a bound value, so the archive's
    // columns compare and sort as before (SQLite compares the text).
    let stamp = |at: DateTimeUtc| {
        to_micros(at).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, backend != DbBackend::Sqlite)
    };
    let entity = E::KIND.as_str();
    let batch = rows
        .iter()
        .map(|row| {
            let json =
                serde_json::to_string(row).map_err(|e| DbErr::Custom(format!("archiving: {e}")))?;
            Ok(serde_json::json!({
                "entity": entity,
                "entity_id": E::id_of(row),
                "row": json,
                "deletion_id": E::deletion_id_of(row),
                "deleted_at": E::deleted_at_of(row).map(stamp),
                "archived_at": stamp(now),
            }))
        })
        .collect::<Result<Vec<_>, DbErr>>()?;
    let batch = serde_json::Value::Array(batch).to_string();
    let sql = match backend {
        DbBackend::Postgres => {
            r#"INSERT INTO "archive" ("entity", "entity_id", "row", "deletion_id", "deleted_at", "archived_at")
SELECT x."entity", x."entity_id", x."row", x."deletion_id", x."deleted_at", x."archived_at"
FROM json_to_recordset($1::json) AS x("entity" text, "entity_id" bigint, "row" text,
  "deletion_id" bigint, "deleted_at" timestamptz, "archived_at" timestamptz)"#
        }
        _ => {
            r#"INSERT INTO "archive" ("entity", "entity_id", "row", "deletion_id", "deleted_at", "archived_at")
SELECT json_extract(value, '$.entity'), json_extract(value, '$.entity_id'),
  json_extract(value, '$.row'), json_extract(value, '$.deletion_id'),
  json_extract(value, '$.deleted_at'), json_extract(value, '$.archived_at')
FROM json_each(?) ORDER BY key"#
        }
    };
    exec(tx)
        .execute_raw(Statement::from_sql_and_values(backend, sql, [batch.into()]))
        .await?;
    Ok(())
}

/// Those of the rows `ids` of `E` that belong to an erased user: the user, or their
/// attachments.
pub(super) async fn erased_rows<E: SoftDeletable>(
    tx: &Tx,
    ids: impl Iterator<Item = i64>,
) -> Result<Vec<i64>, DbErr> {
    let erased = Query::select()
        .column(erasure::Column::UserId)
        .from(erasure::Entity)
        .to_owned();
    let query = match E::KIND {
        EntityKind::User => Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(user::Column::Id.is_in(ids))
            .and_where(user::Column::Id.in_subquery(erased))
            .to_owned(),
        EntityKind::Attachment => Query::select()
            .column(attachment::Column::Id)
            .from(attachment::Entity)
            .and_where(attachment::Column::Id.is_in(ids))
            .and_where(attachment::Column::OwnerId.in_subquery(erased))
            .to_owned(),
    };
    let conn = exec(tx);
    let found = conn
        .query_all_raw(conn.get_database_backend().build(&query))
        .await?;
    found
        .iter()
        .map(|row| row.try_get::<i64>("", "id"))
        .collect()
}

/// The distinct values of `items`, in ascending order.
pub(super) fn distinct<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut items: Vec<T> = items.into_iter().collect();
    items.sort_unstable();
    items.dedup();
    items
}
