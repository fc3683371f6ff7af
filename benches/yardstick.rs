//! The yardstick query executed against the schema, without HTTP: where a change to the
//! resolvers, the loaders or the response shaping shows in seconds.
//!
//!     cargo bench --bench yardstick                       # SQLite, seeded in a temp dir
//!     BENCH_DATABASE_URL=postgres://…/db cargo bench --bench yardstick   # an existing, seeded database
//!
//! SQLite is seeded with 2,000 users × 10 attachments, 20% deleted; a PostgreSQL database
//! named by `BENCH_DATABASE_URL` is used as it is (seed it with `keepsake seed`). The viewer
//! is the first admin. A benchmark measures; nothing here asserts a time.

use std::sync::OnceLock;
use std::time::Duration;

use keepsake::auth::{Bearer, Tokens, Viewer};
use keepsake::graphql::{KeepsakeSchema, RequestAuth, RequestContext, Services, schema_with};
use keepsake::service::seed::{SeedPlan, seed};
use keepsake::service::setup;
use keepsake::soft_delete::Db;
use keepsake::storage::Storage;

/// The yardstick page (docs/DESIGN.md#performance-targets): 50 users with their attachments.
const YARDSTICK: &str =
    "{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }";
/// The same 50 users without their attachments.
const USERS_ONLY: &str = "{ users(first: 50) { nodes { id email } } }";

struct World {
    runtime: tokio::runtime::Runtime,
    db: Db,
    schema: KeepsakeSchema,
    tokens: Tokens,
    header: String,
    viewer: Viewer,
    _dir: Option<tempfile::TempDir>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (url, dir) = match std::env::var("BENCH_DATABASE_URL") {
            Ok(url) => (url, None),
            Err(_) => {
                let dir = tempfile::tempdir().expect("a temp dir");
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                (url, Some(dir))
            }
        };
        let (db, header, viewer, tokens) = runtime.block_on(async {
            let db = Db::connect(&url, false, || {}).await.expect("the database");
            db.migrate().await.expect("migrations");
            if dir.is_some() {
                let plan = SeedPlan {
                    users: 2_000,
                    attachments_per_user: 10,
                    deleted_fraction: 0.2,
                    deleted_multiplier: 0.0,
                    content_bytes: 0,
                };
                seed(&db, plan, |_, _| {}).await.expect("seeded");
            }
            setup::ensure_admin(&db).await.expect("an admin");
            let admin = keepsake::soft_delete::Scoped::<keepsake::entity::user::Entity>::live()
                .filter(sea_orm::ColumnTrait::eq(
                    &keepsake::entity::user::Column::Role,
                    "admin",
                ))
                .one(&db)
                .await
                .expect("a read")
                .expect("an admin");
            let tokens = Tokens::new(b"a benchmark secret, not a real one");
            let token = tokens
                .issue(admin.id, Duration::from_secs(3_600))
                .expect("a token");
            let header = format!("Bearer {token}");
            let Ok(Bearer::Viewer(viewer)) = tokens.authenticate(&db, Some(&header)).await else {
                panic!("the admin's token did not sign the admin in");
            };
            (db, header, viewer, tokens)
        });
        let blobs = std::env::temp_dir().join("keepsake-bench-blobs");
        let storage = Storage::open(&format!("file://{}", blobs.display()), &[]).expect("a store");
        let schema = schema_with(std::sync::Arc::new(Services {
            storage,
            tokens: tokens.clone(),
            max_upload: 1 << 20,
            undo_window: Duration::from_secs(86_400),
            subscriptions: std::sync::Arc::new(keepsake::graphql::Slots::new(16)),
            tail: std::sync::Arc::new(keepsake::service::events::Tail::new()),
            metrics: std::sync::Arc::default(),
        }));
        World {
            runtime,
            db,
            schema,
            tokens,
            header,
            viewer,
            _dir: dir,
        }
    })
}

fn main() {
    world();
    divan::main();
}

/// Executes `query` as the admin, the way the HTTP handler does (viewer, loaders, read-ahead).
fn execute(world: &World, query: &str) -> async_graphql::Response {
    world.runtime.block_on(async {
        let request = async_graphql::Request::new(query).data(RequestContext::new(
            RequestAuth::Viewer(world.viewer.clone()),
            world.db.clone(),
            false,
        ));
        let response = world.schema.execute(request).await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        response
    })
}

/// The whole page: 50 users and their ~500 attachments, resolved and shaped.
#[divan::bench]
fn yardstick_page() -> async_graphql::Response {
    execute(world(), YARDSTICK)
}

/// The page, then written as the JSON body a client receives.
#[divan::bench]
fn yardstick_page_as_json() -> Vec<u8> {
    let response = execute(world(), YARDSTICK);
    let mut body = Vec::with_capacity(64 * 1024);
    keepsake::json::write_response(&response, &mut body).expect("JSON");
    body
}

/// 50 users, no children: what the nesting costs is the difference.
#[divan::bench]
fn fifty_users_without_attachments() -> async_graphql::Response {
    execute(world(), USERS_ONLY)
}

/// The per-request viewer lookup: the token checked, the live row read.
#[divan::bench]
fn viewer_lookup() -> Bearer {
    let world = world();
    world.runtime.block_on(async {
        world
            .tokens
            .authenticate(&world.db, Some(&world.header))
            .await
            .expect("the admin")
    })
}
