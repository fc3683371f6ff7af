//! A planted violation: `.ci/run` copies this into `examples/` and requires clippy to refuse
//! it. If this ever lints clean, the soft-delete ban has stopped biting.

use keepsake::entity::user;
use sea_orm::EntityTrait;

fn main() {
    // An unfiltered read of a soft-deletable table: must fail `disallowed_methods`.
    let _leak = user::Entity::find();
    // Holding a raw connection: must fail `disallowed_types`.
    let _conn: Option<sea_orm::DatabaseConnection> = None;
    // A raw connection by type inference, no type named: must fail `disallowed_methods`.
    let _inferred = sea_orm::Database::connect("sqlite::memory:");
    // A proof of "may see deleted rows" made outside `auth`: must fail `disallowed_methods`.
    let _forged = keepsake::soft_delete::SeeDeleted::for_role(keepsake::role::Role::Admin);
    // A proof of "may see what deletion 1 hid" made outside `service::undo`: must fail.
    let _narrow = keepsake::soft_delete::SeeHidden::for_undoable(1);
}
