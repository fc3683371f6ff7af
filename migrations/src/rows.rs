//! Rewriting the values of existing rows in Rust, batch by batch: what a migration does when
//! the new values cannot be computed in SQL the same way on both databases (folded text,
//! timestamps re-encoded). Shipped migrations call this, so it must keep doing exactly this.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::QueryResult;

/// Rows read and rewritten per statement: two statements per batch, each well under both
/// databases' limits on bound values.
const BATCH: u64 = 500;

/// For every row of `table` (by `id`, ascending), reads `columns` and sets each column named
/// in what `rewrite` returns for the row to the value it gives (other columns and rows keep
/// theirs). One `SELECT` and at most one `UPDATE` per batch of rows.
pub(crate) async fn rewrite_rows<F>(
    manager: &SchemaManager<'_>,
    table: &str,
    columns: &[&str],
    mut rewrite: F,
) -> Result<(), DbErr>
where
    F: FnMut(&QueryResult) -> Result<Vec<(&'static str, Value)>, DbErr>,
{
    let db = manager.get_connection();
    let id = Alias::new("id");
    let mut after = i64::MIN;
    loop {
        let select = Query::select()
            .column(id.clone())
            .columns(columns.iter().map(|c| Alias::new(*c)))
            .from(Alias::new(table))
            .and_where(Expr::col(id.clone()).gt(after))
            .order_by(id.clone(), Order::Asc)
            .limit(BATCH)
            .to_owned();
        let rows = db.query_all(&select).await?;
        let Some(last) = rows.last() else {
            return Ok(());
        };
        let last: i64 = last.try_get("", "id")?;
        // column -> (CASE WHEN id = … THEN … branches, ids it changes)
        let mut changes: Vec<(&'static str, CaseStatement, Vec<i64>)> = Vec::new();
        for row in &rows {
            let row_id: i64 = row.try_get("", "id")?;
            for (column, value) in rewrite(row)? {
                let at = match changes.iter().position(|(c, _, _)| *c == column) {
                    Some(at) => at,
                    None => {
                        changes.push((column, CaseStatement::new(), Vec::new()));
                        changes.len() - 1
                    }
                };
                let (_, case, ids) = &mut changes[at];
                *case = std::mem::take(case).case(Expr::col(id.clone()).eq(row_id), value);
                ids.push(row_id);
            }
        }
        if !changes.is_empty() {
            let mut update = Query::update();
            update.table(Alias::new(table));
            let mut touched = Vec::new();
            for (column, case, ids) in changes {
                let column = Alias::new(column);
                update.value(column.clone(), case.finally(Expr::col(column)));
                touched.extend(ids);
            }
            touched.sort_unstable();
            touched.dedup();
            update.and_where(Expr::col(id.clone()).is_in(touched));
            db.execute(&update).await?;
        }
        after = last;
    }
}
