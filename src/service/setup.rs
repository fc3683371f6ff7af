//! First start and demo data: an admin when there is none, and a small demo data set whose
//! attachments hold real bytes (`demo_bytes` makes them).

mod demo_bytes;

use crate::auth::Role;
use crate::entity::user;
use crate::error::{Error, Result};
use crate::service::attachments::{self, NewAttachment};
use crate::service::users::{self, NewUser};
use crate::soft_delete::{self, Db};
use crate::storage::Storage;

/// The email of the admin created at first start.
pub const FIRST_ADMIN_EMAIL: &str = "admin@localhost";

/// Creates an admin when no live admin exists and returns it: `admin@localhost`, or the
/// first free `admin+N@localhost` when a user already has that address.
pub async fn ensure_admin(db: &Db) -> Result<Option<user::Model>> {
    if soft_delete::live_user_with_role_exists(db, Role::Admin).await? {
        return Ok(None);
    }
    let mut n = 0;
    loop {
        let email = match n {
            0 => FIRST_ADMIN_EMAIL.to_owned(),
            n => format!("admin+{n}@localhost"),
        };
        let created = users::insert(
            db,
            NewUser {
                email,
                name: "Administrator".into(),
                role: Role::Admin,
            },
        )
        .await;
        match created {
            Ok(admin) => return Ok(Some(admin)),
            // Taken (by a member, or a deleted user): try the next address.
            Err(Error::Conflict(_)) if n < 100 => n += 1,
            Err(err) => return Err(err),
        }
    }
}

/// A demo attachment: filename, content type, about how many bytes.
type DemoFile = (&'static str, &'static str, usize);

/// The demo users: email, name, role, attachments.
const DEMO: &[(&str, &str, Role, &[DemoFile])] = &[
    (
        "ada@example.com",
        "Ada Lovelace",
        Role::Member,
        &[
            ("notes-on-the-engine.pdf", "application/pdf", 482_113),
            ("bernoulli.png", "image/png", 90_211),
        ],
    ),
    (
        "grace@example.com",
        "Grace Hopper",
        Role::Support,
        &[("first-bug.png", "image/png", 1_204_551)],
    ),
    (
        "alan@example.com",
        "Alan Turing",
        Role::Member,
        &[
            ("on-computable-numbers.pdf", "application/pdf", 371_002),
            ("bombe-wiring.txt", "text/plain", 4_096),
            ("morphogenesis.csv", "text/csv", 77_760),
        ],
    ),
];

/// Loads the demo data set, each user with their attachments in one transaction, the
/// attachments' bytes put in `storage` first (`sizeBytes` and `sha256` are theirs).
/// Idempotent: users that already exist are left as they are.
/// Returns how many users it created.
pub async fn load_demo(db: &Db, storage: &Storage) -> Result<usize> {
    let mut created = 0;
    for (email, name, role, files) in DEMO {
        if users::find_by_email(db, email).await?.is_some() {
            continue;
        }
        let mut kept = Vec::with_capacity(files.len());
        for (filename, content_type, about) in *files {
            let content = demo_bytes::demo_file(filename, content_type, *about);
            let body =
                futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(content))]);
            let staged = storage
                .stage(body, u64::MAX)
                .await
                .map_err(|err| Error::Internal(err.into()))?;
            storage
                .keep(&staged)
                .await
                .map_err(|err| Error::Internal(err.into()))?;
            kept.push((staged.sha256, staged.size));
        }
        let tx = db.begin().await?;
        let user = users::insert(
            &tx,
            NewUser {
                email: (*email).into(),
                name: (*name).into(),
                role: *role,
            },
        )
        .await?;
        for ((filename, content_type, _), (sha256, size)) in files.iter().zip(kept) {
            attachments::insert(
                &tx,
                NewAttachment {
                    owner_id: user.id,
                    filename: (*filename).into(),
                    content_type: (*content_type).into(),
                    size_bytes: i64::try_from(size).map_err(|err| Error::Internal(err.into()))?,
                    sha256: Some(sha256),
                },
            )
            .await?;
        }
        tx.commit().await?;
        created += 1;
    }
    Ok(created)
}
