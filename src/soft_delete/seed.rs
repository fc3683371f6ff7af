//! Synthetic data in bulk, for demos and benchmarks.

use sea_orm::prelude::DateTimeUtc;
use sea_orm::{ColumnTrait, ConnectionTrait as _, DbErr, EntityTrait, QueryFilter, Set};

use super::{Db, EntityKind, RowCounts, Stored as _, exec};
use crate::entity::{attachment, deletion, user};

/// One synthetic user for [`seed_batch`].
#[derive(Clone, Debug)]
pub struct SeedUser {
    pub email: String,
    pub name: String,
    pub created_at: DateTimeUtc,
    /// When set, the user is deleted (with their attachments) as a real deletion:
    /// (deleted at, reason).
    pub deleted: Option<(DateTimeUtc, String)>,
}

/// Inserts `users`, `attachments_per_user` attachments each, and the deletions of those
/// marked deleted, with multi-row statements in one transaction. Deleted users become real
/// deletions (logged, stamped, cascaded), so `restore` works on them. Returns rows written.
pub async fn seed_batch(
    db: &Db,
    users: &[SeedUser],
    attachments_per_user: u64,
) -> Result<RowCounts, DbErr> {
    const ROWS_PER_STATEMENT: usize = 3_000;
    let tx = db.begin().await?;
    let rows: Vec<user::ActiveModel> = users
        .iter()
        .map(|u| {
            user::ActiveModel {
                email: Set(u.email.clone()),
                name: Set(u.name.clone()),
                role: Set("member".to_owned()),
                created_at: Set(u.created_at),
                updated_at: Set(u.created_at),
                ..Default::default()
            }
            .stored()
        })
        .collect();
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        user::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&exec(&tx))
            .await?;
    }
    // The ids the database gave them, by email (unique among live users).
    #[allow(clippy::disallowed_methods)] // seeding reads back the rows it just wrote
    let inserted = user::Entity::find()
        .filter(user::Column::Email.is_in(users.iter().map(|u| u.email.clone())))
        .filter(user::Column::DeletedAt.is_null())
        .all(&exec(&tx))
        .await?;
    let id_of: std::collections::HashMap<&str, i64> =
        inserted.iter().map(|u| (u.email.as_str(), u.id)).collect();
    let kinds = [
        ("report.pdf", "application/pdf"),
        ("photo.jpg", "image/jpeg"),
        ("notes.txt", "text/plain"),
        ("data.csv", "text/csv"),
    ];
    let mut attachments = Vec::new();
    for (i, u) in users.iter().enumerate() {
        let owner = id_of[u.email.as_str()];
        for j in 0..attachments_per_user {
            let (name, content_type) = kinds[(i + j as usize) % kinds.len()];
            attachments.push(attachment::ActiveModel {
                owner_id: Set(owner),
                filename: Set(format!("{j}-{name}")),
                content_type: Set(content_type.to_owned()),
                size_bytes: Set(1_024 * (1 + ((i as i64 * 7919 + j as i64 * 104_729) % 10_000))),
                created_at: Set(u.created_at),
                ..Default::default()
            }
            .stored());
        }
    }
    for chunk in attachments.chunks(ROWS_PER_STATEMENT) {
        attachment::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&exec(&tx))
            .await?;
    }
    let deleted: Vec<(i64, &DateTimeUtc, &String)> = users
        .iter()
        .filter_map(|u| {
            u.deleted
                .as_ref()
                .map(|(at, reason)| (id_of[u.email.as_str()], at, reason))
        })
        .collect();
    if !deleted.is_empty() {
        let log: Vec<deletion::ActiveModel> = deleted
            .iter()
            .map(|(id, at, reason)| {
                deletion::ActiveModel {
                    entity: Set(EntityKind::User.as_str().to_owned()),
                    entity_id: Set(*id),
                    actor_id: Set(Some(*id)),
                    reason: Set(Some((*reason).clone())),
                    deleted_at: Set(**at),
                    cascade_count: Set(attachments_per_user as i64),
                    ..Default::default()
                }
                .stored()
            })
            .collect();
        for chunk in log.chunks(ROWS_PER_STATEMENT) {
            deletion::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&exec(&tx))
                .await?;
        }
        // Stamp users, then their attachments, from their deletions: set-based, portable SQL.
        let ids = deleted
            .iter()
            .map(|(id, _, _)| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let from_log = |column: &str| {
            format!(
                "(SELECT d.{column} FROM deletions d WHERE d.entity = 'user' \
                 AND d.entity_id = users.id AND d.restored_at IS NULL ORDER BY d.id DESC LIMIT 1)"
            )
        };
        let stamp_users = format!(
            "UPDATE users SET deleted_at = {}, deleted_by = {}, deletion_id = {} WHERE id IN ({ids})",
            from_log("deleted_at"),
            from_log("actor_id"),
            from_log("id"),
        );
        let from_owner = |column: &str| {
            format!("(SELECT u.{column} FROM users u WHERE u.id = attachments.owner_id)")
        };
        let stamp_attachments = format!(
            "UPDATE attachments SET deleted_at = {}, deleted_by = {}, deletion_id = {} \
             WHERE owner_id IN ({ids}) AND deleted_at IS NULL",
            from_owner("deleted_at"),
            from_owner("deleted_by"),
            from_owner("deletion_id"),
        );
        let backend = db.backend();
        for sql in [stamp_users, stamp_attachments] {
            tx.txn
                .execute_raw(sea_orm::Statement::from_string(backend, sql))
                .await?;
        }
    }
    tx.commit().await?;
    Ok(RowCounts {
        users: users.len() as u64,
        attachments: attachments.len() as u64,
    })
}

/// Up to `limit` attachments, live or deleted, with no content yet and ids past `after`, by
/// id: what `keepsake seed --content-bytes` fills next.
pub async fn attachments_without_content(
    h: &impl super::Handle,
    after: i64,
    limit: u64,
) -> Result<Vec<i64>, DbErr> {
    use sea_orm::{QueryOrder as _, QuerySelect as _};
    #[allow(clippy::disallowed_methods)] // seeding fills deleted rows too, by definition
    let select = attachment::Entity::find();
    let rows = select
        .select_only()
        .column(attachment::Column::Id)
        .filter(attachment::Column::Sha256.is_null())
        .filter(attachment::Column::Id.gt(after))
        .order_by_asc(attachment::Column::Id)
        .limit(limit)
        .into_tuple::<i64>()
        .all(&exec(h))
        .await?;
    Ok(rows)
}

/// Points seeded attachments (`id`, `sha256`, `size`), live or deleted, at their bytes, in
/// one transaction. Seeding only: the bytes are already in storage.
pub async fn set_seeded_content(db: &Db, rows: &[(i64, String, i64)]) -> Result<(), DbErr> {
    let tx = db.begin().await?;
    for (id, sha256, size) in rows {
        #[allow(clippy::disallowed_methods)] // seeding fills deleted rows too, by definition
        let update = attachment::Entity::update_many();
        update
            .col_expr(
                attachment::Column::Sha256,
                sea_orm::sea_query::Expr::value(sha256.clone()),
            )
            .col_expr(
                attachment::Column::SizeBytes,
                sea_orm::sea_query::Expr::value(*size),
            )
            .filter(attachment::Column::Id.eq(*id))
            .exec(&exec(&tx))
            .await?;
    }
    tx.commit().await
}
