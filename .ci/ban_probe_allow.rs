//! A planted dodge: an `allow` of the ban outside the soft-delete core. `.ci/ban-bites.sh`
//! copies this into `examples/` and requires its source scan to refuse it.

use keepsake::entity::user;
use sea_orm::EntityTrait;

#[allow(clippy::disallowed_methods)]
fn main() {
    let _leak = user::Entity::find();
}
