//! Reports read what the API shows: the reporting views (`reporting.users`, … on PostgreSQL,
//! `reporting_users`, … on SQLite) hold exactly the rows and fields the GraphQL API answers
//! after deletes, cascades, restores and a purge, with no soft-delete or internal column; and
//! `keepsake check` catches a view that was altered or dropped. The roles that read them on
//! PostgreSQL are `reporting_roles.rs`'s.

use std::collections::BTreeSet;

use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, assert_ok, data, keepsake, on_both_backends, raw_connection,
};

on_both_backends!(
    reporting_views_show_exactly_what_the_api_shows,
    reporting_views_carry_no_soft_delete_or_internal_column,
    check_reports_an_altered_or_missing_reporting_view,
    reporting_views_follow_each_mutation_at_once,
);

/// The view's name on this test's database.
fn view(app: &TestApp, name: &str) -> String {
    if app.is_postgres() {
        format!("reporting.{name}")
    } else {
        format!("reporting_{name}")
    }
}

/// Every row of `sql` on a connection of its own, each as `[column text, …]` (values cast to
/// text by the query) in the order given.
async fn text_rows(url: &str, sql: &str, columns: &[&str]) -> BTreeSet<Vec<String>> {
    let conn = raw_connection(url).await.unwrap();
    let rows = conn
        .query_all_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    conn.close().await.ok();
    rows.iter()
        .map(|row| {
            columns
                .iter()
                .map(|c| {
                    row.try_get::<Option<String>>("", c)
                        .unwrap_or_else(|err| panic!("{c}: {err}"))
                        .unwrap_or_else(|| "null".to_owned())
                })
                .collect()
        })
        .collect()
}

fn row_id(kind: keepsake::ids::Kind, id: &Value) -> String {
    keepsake::ids::decode(kind, id.as_str().unwrap())
        .unwrap()
        .to_string()
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => "null".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn reporting_views_show_exactly_what_the_api_shows(backend: Backend) {
    use keepsake::ids::Kind;
    let app = TestApp::spawn(backend).await;
    let (ada, bob, cy, dee) = (
        app.member("ada@example.com").await,
        app.member("bob@example.com").await,
        app.member("cy@example.com").await,
        app.member("dee@example.com").await,
    );
    let mut files = Vec::new();
    for (user, name) in [(&ada, "ada"), (&bob, "bob"), (&cy, "cy"), (&dee, "dee")] {
        for n in 0..3 {
            files.push(app.attachment(user, &format!("{name}-{n}.txt")).await);
        }
    }
    // Ada loses one file; Bob is deleted with his files (a cascade); Cy is deleted and
    // restored; one of Dee's files is deleted long ago and purged.
    app.admin().delete_attachment(&files[0], Some("typo")).await;
    app.admin().delete_user(&bob.id, Some("left")).await;
    let cy_deletion = app.admin().delete_user(&cy.id, Some("oops")).await;
    app.admin()
        .restore(cy_deletion["id"].as_str().unwrap(), Some("back"))
        .await;
    let purged = app.admin().delete_attachment(&files[9], None).await;
    app.backdate(purged["id"].as_str().unwrap(), 40 * 86_400)
        .await;
    app.admin().purge("30d", false).await;

    let body = app
        .as_admin(
            "{ users(first: 100) { nodes { id email name role createdAt } } \
               attachments(first: 100) { nodes { id filename contentType sizeBytes owner { id } } } \
               deletions(first: 100) { nodes { id entity entityId actorId reason cascadeCount \
                 restoredAt restoreReason purgedAt } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let api_users: BTreeSet<Vec<String>> = data(&body)["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            vec![
                row_id(Kind::User, &u["id"]),
                text(&u["email"]),
                text(&u["name"]),
                text(&u["role"]).to_lowercase(),
            ]
        })
        .collect();
    let api_attachments: BTreeSet<Vec<String>> = data(&body)["attachments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            vec![
                row_id(Kind::Attachment, &a["id"]),
                row_id(Kind::User, &a["owner"]["id"]),
                text(&a["filename"]),
                text(&a["contentType"]),
                text(&a["sizeBytes"]),
            ]
        })
        .collect();
    let api_deletions: BTreeSet<Vec<String>> = data(&body)["deletions"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let entity = text(&d["entity"]).to_lowercase();
            let kind = if entity == "user" {
                Kind::User
            } else {
                Kind::Attachment
            };
            vec![
                row_id(Kind::Deletion, &d["id"]),
                entity,
                row_id(kind, &d["entityId"]),
                row_id(Kind::User, &d["actorId"]),
                text(&d["reason"]),
                text(&d["cascadeCount"]),
                (!d["restoredAt"].is_null()).to_string(),
                text(&d["restoreReason"]),
                (!d["purgedAt"].is_null()).to_string(),
            ]
        })
        .collect();
    // The scenario left something to hide on every side.
    assert_eq!(api_users.len(), 4, "the admin, Ada, Cy, Dee: {body}");
    assert_eq!(api_attachments.len(), 7, "{body}");
    assert_eq!(api_deletions.len(), 4, "{body}");

    let url = &app.db.url;
    let views_users = text_rows(
        url,
        &format!(
            "SELECT CAST(id AS TEXT) AS id, email, name, role FROM {}",
            view(&app, "users")
        ),
        &["id", "email", "name", "role"],
    )
    .await;
    assert_eq!(views_users, api_users);
    let views_attachments = text_rows(
        url,
        &format!(
            "SELECT CAST(id AS TEXT) AS id, CAST(owner_id AS TEXT) AS owner_id, filename, \
               content_type, CAST(size_bytes AS TEXT) AS size_bytes FROM {}",
            view(&app, "attachments")
        ),
        &["id", "owner_id", "filename", "content_type", "size_bytes"],
    )
    .await;
    assert_eq!(views_attachments, api_attachments);
    let columns = [
        "id",
        "entity",
        "entity_id",
        "actor_id",
        "reason",
        "cascade_count",
        "restored",
        "restore_reason",
        "purged",
    ];
    let views_deletions = text_rows(
        url,
        &format!(
            "SELECT CAST(id AS TEXT) AS id, entity, CAST(entity_id AS TEXT) AS entity_id, \
               CAST(actor_id AS TEXT) AS actor_id, reason, \
               CAST(cascade_count AS TEXT) AS cascade_count, \
               CASE WHEN restored_at IS NULL THEN 'false' ELSE 'true' END AS restored, \
               restore_reason, \
               CASE WHEN purged_at IS NULL THEN 'false' ELSE 'true' END AS purged FROM {}",
            view(&app, "deletions")
        ),
        &columns,
    )
    .await;
    assert_eq!(views_deletions, api_deletions);
    // What the views hide is really there underneath.
    let hidden = text_rows(
        url,
        "SELECT CAST(COUNT(*) AS TEXT) AS n FROM users WHERE deleted_at IS NOT NULL",
        &["n"],
    )
    .await;
    assert_eq!(hidden, BTreeSet::from([vec!["1".to_owned()]]));
    app.assert_invariants().await;
}

async fn reporting_views_carry_no_soft_delete_or_internal_column(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let expected: [(&str, &[&str]); 4] = [
        (
            "users",
            &["id", "email", "name", "role", "created_at", "updated_at"],
        ),
        (
            "attachments",
            &[
                "id",
                "owner_id",
                "filename",
                "content_type",
                "size_bytes",
                "created_at",
                "sha256",
            ],
        ),
        (
            "deletions",
            &[
                "id",
                "entity",
                "entity_id",
                "actor_id",
                "reason",
                "deleted_at",
                "cascade_count",
                "restored_at",
                "restored_by",
                "restore_reason",
                "purge_started_at",
                "purged_at",
            ],
        ),
        (
            "deletion_days",
            &[
                "day",
                "entity",
                "deletions",
                "cascaded_rows",
                "restores",
                "purges",
                "median_seconds_to_restore",
            ],
        ),
    ];
    let conn = raw_connection(&app.db.url).await.unwrap();
    for (name, columns) in expected {
        let sql = if app.is_postgres() {
            format!(
                "SELECT column_name::text AS c FROM information_schema.columns \
                 WHERE table_schema = 'reporting' AND table_name = '{name}' ORDER BY ordinal_position"
            )
        } else {
            format!("SELECT name AS c FROM pragma_table_info('reporting_{name}') ORDER BY cid")
        };
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_string(
                conn.get_database_backend(),
                sql,
            ))
            .await
            .unwrap();
        let got: Vec<String> = rows
            .iter()
            .map(|r| r.try_get::<String>("", "c").unwrap())
            .collect();
        assert_eq!(got, columns, "the columns of {}", view(&app, name));
    }
    conn.close().await.ok();
}

async fn check_reports_an_altered_or_missing_reporting_view(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.admin().delete_user(&ada.id, None).await;
    let ok = app.run(&["check"]).await;
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );
    // A view that shows deleted users too, columns unchanged; and one dropped.
    let (users, attachments) = (view(&app, "users"), view(&app, "attachments"));
    let widened = if app.is_postgres() {
        format!(
            "CREATE OR REPLACE VIEW {users} WITH (security_barrier) AS SELECT u.id, u.email, \
             u.name, u.role, u.created_at, u.updated_at FROM users u"
        )
    } else {
        format!(
            "DROP VIEW {users}; CREATE VIEW {users} AS SELECT u.id, u.email, u.name, u.role, \
             u.created_at, u.updated_at FROM users u"
        )
    };
    let mut statements: Vec<String> = widened.split("; ").map(str::to_owned).collect();
    statements.push(format!("DROP VIEW {attachments}"));
    app.execute_sql(&statements).await;
    let found = app.run(&["check"]).await;
    let stdout = String::from_utf8_lossy(&found.stdout);
    assert_eq!(found.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "reporting-view-altered: reporting view {users} is not"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "reporting-view-missing: reporting view {attachments} is missing"
        )),
        "{stdout}"
    );
    let kinds: Vec<&str> = keepsake::soft_delete::check::check(&app.state.db)
        .await
        .unwrap()
        .iter()
        .map(|v| v.kind)
        .collect();
    assert_eq!(kinds, ["reporting-view-altered", "reporting-view-missing"]);
    if app.is_postgres() {
        // Row-level security turned off, or widened by a second policy, is reported too.
        app.execute_sql(&[
            "ALTER TABLE attachments DISABLE ROW LEVEL SECURITY",
            "CREATE POLICY everyone ON users USING (true)",
        ])
        .await;
        let kinds: Vec<&str> = keepsake::soft_delete::check::check(&app.state.db)
            .await
            .unwrap()
            .iter()
            .map(|v| v.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                "reporting-view-altered",
                "reporting-view-missing",
                "row-level-security-widened",
                "row-level-security-off",
            ]
        );
    }
}

/// SQLite has no roles: both commands say so, point at the views, and fail (nothing was
/// granted, and a script must not go on as if it had been).
#[test]
fn reporting_commands_on_sqlite_say_there_are_no_roles() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
    for command in ["grant", "revoke"] {
        let out = keepsake(&url)
            .args(["reporting", command, "reader"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("SQLite has no roles"), "{stderr}");
        assert!(stderr.contains("reporting_users"), "{stderr}");
        assert!(out.stdout.is_empty());
    }
}

/// The ids (as the tables number them) the API lists as live users and attachments, and
/// those the reporting views hold, read right after each other.
async fn live_ids(app: &TestApp) -> [(BTreeSet<String>, BTreeSet<String>); 2] {
    use keepsake::ids::Kind;
    let body = app
        .as_admin(
            "{ users(first: 100) { nodes { id } } attachments(first: 100) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let api = |field: &str, kind: Kind| -> BTreeSet<String> {
        data(&body)[field]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| row_id(kind, &n["id"]))
            .collect()
    };
    let mut out = Vec::new();
    for (name, kind) in [("users", Kind::User), ("attachments", Kind::Attachment)] {
        let rows = text_rows(
            &app.db.url,
            &format!("SELECT CAST(id AS TEXT) AS id FROM {}", view(app, name)),
            &["id"],
        )
        .await;
        let views: BTreeSet<String> = rows.into_iter().map(|mut r| r.remove(0)).collect();
        out.push((api(name, kind), views));
    }
    [out.remove(0), out.remove(0)]
}

/// After each delete, cascade, restore and purge, the next read of the views already holds
/// what the API shows: no step leaves them behind or ahead.
async fn reporting_views_follow_each_mutation_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let a1 = app.attachment(&ada, "a1.txt").await;
    app.attachment(&ada, "a2.txt").await;
    app.attachment(&bob, "b1.txt").await;
    let mut sizes = Vec::new();
    let mut step = |name: &str, ids: [(BTreeSet<String>, BTreeSet<String>); 2]| {
        for (api, views) in &ids {
            assert_eq!(api, views, "after {name}");
        }
        sizes.push((ids[0].0.len(), ids[1].0.len()));
    };
    step("creating", live_ids(&app).await);
    app.admin().delete_attachment(&a1, None).await;
    step("a delete", live_ids(&app).await);
    let cascade = app.admin().delete_user(&bob.id, None).await;
    step("a cascade", live_ids(&app).await);
    app.admin()
        .restore(cascade["id"].as_str().unwrap(), None)
        .await;
    step("a restore", live_ids(&app).await);
    let again = app.admin().delete_user(&bob.id, None).await;
    app.backdate(again["id"].as_str().unwrap(), 40 * 86_400)
        .await;
    step("a second delete", live_ids(&app).await);
    app.admin().purge("30d", false).await;
    step("a purge", live_ids(&app).await);
    // (users with the admin, attachments) after each step; a purge erases only hidden rows.
    assert_eq!(
        sizes,
        [(3, 3), (3, 2), (2, 1), (3, 2), (2, 1), (2, 1)],
        "live users and attachments after each step"
    );
}
