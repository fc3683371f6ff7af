//! Reads per key: the pages and counts of many parents' children at once ([`Scoped`]'s
//! batch reads, which the request's loaders use), each key reading its own `LIMIT`.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait as _, DbBackend, DbErr, QueryFilter, QueryOrder, QuerySelect,
    Statement,
};

use super::kinds::Columns;
use super::scope::{Scoped, Window};
use super::{Handle, SoftDeletable, exec};

impl<E: SoftDeletable> Scoped<E>
where
    E::Model: Sync,
{
    /// For each of `keys`, up to `first + 1` visible rows whose `column` holds it, with ids
    /// past `after`, by ascending id: the pages of many parents' children at once, in one
    /// statement per 100 keys, each key reading its own `LIMIT`, so a parent with 100,000
    /// children costs `first + 1` rows of its index, not 100,000. PostgreSQL runs the scoped
    /// read once per key through `CROSS JOIN LATERAL` over a `VALUES` list of the keys, and
    /// sends each key's page as one row of arrays (a tenth of the rows to receive on a
    /// page of ten children each); SQLite, which has no `LATERAL`, a `UNION ALL` of one read
    /// per key.
    ///
    /// The pages come one vector per key that has rows, in no particular order, and a
    /// page's rows in no promised order either (PostgreSQL's `array_agg` keeps the page's in
    /// practice, not by contract): callers sort them. Only
    /// `columns` are read (with the id and `column`, always): the others hold their type's
    /// default in the models, for the caller to leave alone.
    pub async fn first_rows_per(
        mut self,
        h: &impl Handle,
        column: E::Column,
        keys: &[i64],
        window: Window,
        columns: Columns<E>,
    ) -> Result<Vec<Vec<E::Model>>, DbErr> {
        let columns = columns.with(E::id_column()).with(column);
        if !columns.is_all() {
            self.select = self.select.select_only().columns(columns.iter());
        }
        let backend = exec(h).get_database_backend();
        let mut pages = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            // The statements are the scoped selects built above.
            if backend == DbBackend::Postgres {
                let Some(statement) = self.lateral_pages(column, chunk, window, columns) else {
                    continue;
                };
                for page in exec(h).query_all_raw(statement).await? {
                    let page = E::decode_arrays(&page, columns)?;
                    if !page.is_empty() {
                        pages.push(page);
                    }
                }
            } else {
                let Some(statement) = self.union_pages(backend, column, chunk, window) else {
                    continue;
                };
                let found = exec(h).query_all_raw(statement).await?;
                // One branch per key, one after another: a key's rows are one run.
                let mut run: Vec<E::Model> = Vec::new();
                let mut run_key = None;
                for row in &found {
                    let row = E::decode(row, columns)?;
                    let key = sea_orm::ModelTrait::get(&row, column);
                    if run_key.as_ref() != Some(&key) && !run.is_empty() {
                        pages.push(std::mem::take(&mut run));
                    }
                    run_key = Some(key);
                    run.push(row);
                }
                if !run.is_empty() {
                    pages.push(run);
                }
            }
        }
        Ok(pages)
    }

    /// The scoped read of one key's page, the key being `key_expr`: up to `size + 1` rows
    /// by ascending id past the cursor, or backward by descending id before it.
    fn page_of_key(
        &self,
        column: E::Column,
        key: Expr,
        window: Window,
    ) -> sea_orm::sea_query::SelectStatement {
        use sea_orm::QueryTrait as _;
        let mut branch = self
            .select
            .clone()
            .filter(Expr::col((E::default(), column)).eq(key));
        branch = match (window.cursor, window.backward) {
            (Some(after), false) => branch.filter(E::id_column().gt(after)),
            (Some(before), true) => branch.filter(E::id_column().lt(before)),
            (None, _) => branch,
        };
        let branch = if window.backward {
            branch.order_by_desc(E::id_column())
        } else {
            branch.order_by_asc(E::id_column())
        };
        branch.limit(window.size.saturating_add(1)).into_query()
    }

    /// PostgreSQL: `SELECT p.* FROM (VALUES ($n), …) AS k(key) CROSS JOIN LATERAL (SELECT
    /// array_agg(q.c1) AS c1, … FROM (the scoped page of k.key) AS q) AS p`: one small read
    /// built once, whatever the number of keys, one row of arrays per key. The arrays come
    /// from one aggregate over the same rows, so element `i` of each is row `i` (no
    /// aggregate here may get an `ORDER BY`, `DISTINCT` or `FILTER` of its own).
    fn lateral_pages(
        &self,
        column: E::Column,
        keys: &[i64],
        window: Window,
        columns: Columns<E>,
    ) -> Option<Statement> {
        use sea_orm::sea_query::PostgresQueryBuilder;
        if keys.is_empty() {
            return None;
        }
        let key = Expr::col((Alias::new("k"), Alias::new("key")));
        let page = self.page_of_key(column, key, window);
        let (page_sql, values) = page.build(PostgresQueryBuilder);
        let mut values = values.0;
        let mut sql = String::with_capacity(page_sql.len() + 64 + 8 * keys.len());
        sql.push_str("SELECT p.* FROM (VALUES ");
        for (i, key) in keys.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            values.push((*key).into());
            sql.push_str("(CAST($");
            sql.push_str(itoa::Buffer::new().format(values.len()));
            sql.push_str(" AS bigint))");
        }
        sql.push_str(") AS k(key) CROSS JOIN LATERAL (SELECT ");
        for (i, c) in columns.iter().enumerate() {
            use sea_orm::IdenStatic as _;
            if i > 0 {
                sql.push_str(", ");
            }
            // The entity's own column names: plain identifiers, quoted all the same.
            let name = c.as_str();
            sql.push_str("array_agg(q.\"");
            sql.push_str(name);
            sql.push_str("\") AS \"");
            sql.push_str(name);
            sql.push('"');
        }
        sql.push_str(" FROM (");
        sql.push_str(&page_sql);
        sql.push_str(") AS q) AS p");
        Some(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            values,
        ))
    }

    /// SQLite: a `UNION ALL` of one scoped page per key.
    fn union_pages(
        &self,
        backend: DbBackend,
        column: E::Column,
        keys: &[i64],
        window: Window,
    ) -> Option<Statement> {
        use sea_orm::sea_query::{Asterisk, UnionType};
        let mut union: Option<sea_orm::sea_query::SelectStatement> = None;
        for (i, key) in keys.iter().enumerate() {
            let branch = self.page_of_key(column, Expr::val(*key), window);
            let wrapped = Query::select()
                .column(Asterisk)
                .from_subquery(branch, Alias::new(format!("k{i}")))
                .to_owned();
            union = Some(match union {
                None => wrapped,
                Some(mut all) => {
                    all.union(UnionType::All, wrapped);
                    all
                }
            });
        }
        union.map(|union| backend.build(&union))
    }

    /// For each of `keys`, how many visible rows have it in `column`: one `GROUP BY`.
    pub async fn count_per(
        self,
        h: &impl Handle,
        column: E::Column,
        keys: &[i64],
    ) -> Result<std::collections::HashMap<i64, u64>, DbErr> {
        let counts: Vec<(i64, i64)> = self
            .select
            .select_only()
            .column(column)
            .column_as(Expr::col(column).count(), "n")
            .filter(column.is_in(keys.iter().copied()))
            .group_by(column)
            .into_tuple()
            .all(&exec(h))
            .await?;
        Ok(counts
            .into_iter()
            .map(|(key, n)| (key, u64::try_from(n).unwrap_or(0)))
            .collect())
    }
}
