//! Search columns: the searched texts folded once, in Rust, by [`crate::fold::fold`], so a
//! case-insensitive search is the same on SQLite and PostgreSQL (SQLite's `lower()` folds
//! ASCII only, PostgreSQL's follows the database's locale, and neither folds as Rust did
//! the search text):
//!
//! - `users.email_folded`, `users.name_folded`;
//! - `attachments.filename_folded`;
//! - `deletions.reason_folded` (null when the reason is).
//!
//! The server writes them with the texts; this migration fills them for the rows that
//! exist, batch by batch, in the migration's transaction. A search is `LIKE '%…%'` on them,
//! which no B-tree index serves, so none is added.
//!
//! SQLite alters one column per statement, hence one `alter_table` per column. `down` drops
//! the columns; the texts themselves were never changed.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

use crate::fold::fold;
use crate::rows::rewrite_rows;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    EmailFolded,
    NameFolded,
}

#[derive(DeriveIden)]
enum Attachments {
    Table,
    FilenameFolded,
}

#[derive(DeriveIden)]
enum Deletions {
    Table,
    ReasonFolded,
}

/// `(table, column, folded column)`, for the backfill.
const FOLDED: [(&str, &str, &str); 4] = [
    ("users", "email", "email_folded"),
    ("users", "name", "name_folded"),
    ("attachments", "filename", "filename_folded"),
    ("deletions", "reason", "reason_folded"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// Columns and backfill apply whole or not at all, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Not null with an empty default, so the columns can be added to tables that have
        // rows; the backfill below gives every row its folding.
        let added = [
            Table::alter()
                .table(Users::Table)
                .add_column(text(Users::EmailFolded).default(""))
                .to_owned(),
            Table::alter()
                .table(Users::Table)
                .add_column(text(Users::NameFolded).default(""))
                .to_owned(),
            Table::alter()
                .table(Attachments::Table)
                .add_column(text(Attachments::FilenameFolded).default(""))
                .to_owned(),
            Table::alter()
                .table(Deletions::Table)
                .add_column(text_null(Deletions::ReasonFolded))
                .to_owned(),
        ];
        for alter in added {
            manager.alter_table(alter).await?;
        }
        for (table, column, folded) in FOLDED {
            rewrite_rows(manager, table, &[column], |row| {
                let text: Option<String> = row.try_get("", column)?;
                Ok(vec![(folded, Value::from(text.as_deref().map(fold)))])
            })
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let dropped = [
            Table::alter()
                .table(Deletions::Table)
                .drop_column(Deletions::ReasonFolded)
                .to_owned(),
            Table::alter()
                .table(Attachments::Table)
                .drop_column(Attachments::FilenameFolded)
                .to_owned(),
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::NameFolded)
                .to_owned(),
            Table::alter()
                .table(Users::Table)
                .drop_column(Users::EmailFolded)
                .to_owned(),
        ];
        for alter in dropped {
            manager.alter_table(alter).await?;
        }
        Ok(())
    }
}
