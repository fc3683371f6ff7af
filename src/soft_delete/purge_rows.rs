//! What a purge batch does with the rows it takes: erases them, and copies each to the
//! archive (none of an erased user's), in the batch's transaction (`purge.rs`).

use sea_orm::prelude::DateTimeUtc;
use sea_orm::sea_query::Query;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait as _, DbBackend, DbErr, QueryFilter, Statement,
};

use super::{EntityKind, SoftDeletable, Tx, exec, to_micros};
use crate::entity::{attachment, erasure, user};

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
