//! Crashes, faults and concurrency: a server SIGKILLed mid-cascade, a purge SIGKILLed
//! between batches, a restore that fails midway, and random operations from four clients at
//! once. Each ends with `keepsake check` clean (STYLE 21).

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keepsake::app::App;
use keepsake::config::Settings;
use keepsake::ids::{self, Kind};
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::ops::{
    CREATE_ATTACHMENT, CREATE_USER, DELETE_ATTACHMENT, DELETE_USER, PURGE, RESTORE,
};
use crate::helpers::{
    Backend, Gate, TestApp, assert_error, assert_internal_without_sql, assert_ok, data,
    error_codes, id_of, keepsake, keepsake_with_descriptors, on_both_backends, raw_connection,
};

on_both_backends!(
    killing_the_server_mid_cascade_leaves_the_old_state,
    killing_a_purge_midway_leaves_old_or_new_per_batch_and_a_restore_is_refused,
    a_fault_midway_through_a_restore_changes_nothing,
    concurrent_random_operations_keep_every_invariant,
);

/// Runs the binary and asserts it exited 0.
async fn succeeds(app: &TestApp, args: &[&str]) {
    let out = app.run(args).await;
    assert!(
        out.status.success(),
        "keepsake {}: {:?}\n{}{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `keepsake check`, the binary an operator runs, exits 0.
async fn check_passes(app: &TestApp) {
    succeeds(app, &["check"]).await;
}

/// The number `sql` selects as `n`, read on a connection of its own.
pub(crate) async fn number(app: &TestApp, sql: &str) -> i64 {
    let conn = raw_connection(&app.db.url)
        .await
        .expect("a second connection");
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|err| panic!("{sql}: {err}"))
        .unwrap_or_else(|| panic!("{sql}: no row"));
    let n = row
        .try_get::<i64>("", "n")
        .unwrap_or_else(|err| panic!("{sql}: {err}"));
    conn.close().await.ok();
    n
}

/// Polls `probe` every 50 ms for up to 20 s; whether it ever held.
async fn eventually<F: std::future::Future<Output = bool>>(mut probe: impl FnMut() -> F) -> bool {
    for _ in 0..400 {
        if probe().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Whether a connection holds SQLite's write lock: a no-op write that may not wait fails.
async fn sqlite_write_lock_is_held(app: &TestApp) -> bool {
    let conn = raw_connection(&app.db.url)
        .await
        .expect("a second connection");
    // One call, so both statements run on the same pooled connection.
    let probe = conn
        .execute_unprepared("PRAGMA busy_timeout = 0; DELETE FROM settings WHERE 1 = 0")
        .await;
    conn.close().await.ok();
    match probe {
        Ok(_) => false,
        Err(err) if err.to_string().contains("locked") => true,
        Err(err) => panic!("probing the write lock: {err}"),
    }
}

/// A process of the `keepsake` binary, SIGKILLed when dropped.
pub(crate) struct Process(Child);

impl Process {
    /// SIGKILL (what `Child::kill` sends on unix), then reap.
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `keepsake serve --bind 127.0.0.1:0` on the test database.
pub(crate) struct Server {
    process: Process,
    /// `http://127.0.0.1:PORT`, from its "Keepsake is serving" log line.
    pub(crate) base: String,
}

impl Server {
    async fn start(app: &TestApp) -> Server {
        Server::start_command(keepsake(&app.db.url).args(["serve", "--bind", "127.0.0.1:0"])).await
    }

    /// The server, where it may open at most `descriptors` files and sockets at once.
    pub(crate) async fn start_with_descriptors(app: &TestApp, descriptors: u32) -> Server {
        let storage = format!("file://{}", app.blobs.path().display());
        Server::start_command(
            keepsake_with_descriptors(
                &app.db.url,
                descriptors,
                &["serve", "--bind", "127.0.0.1:0"],
            )
            .env("KEEPSAKE_STORAGE", storage),
        )
        .await
    }

    /// The server on the test's own blob store.
    pub(crate) async fn start_on_store(app: &TestApp) -> Server {
        let storage = format!("file://{}", app.blobs.path().display());
        Server::start_command(
            keepsake(&app.db.url)
                .args(["serve", "--bind", "127.0.0.1:0"])
                .env("KEEPSAKE_STORAGE", storage),
        )
        .await
    }

    /// Runs `command` (a `keepsake serve` on port 0) and waits until it serves.
    pub(crate) async fn start_command(command: &mut std::process::Command) -> Server {
        let mut process = Process(
            command
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("keepsake serve starts"),
        );
        tokio::task::spawn_blocking(move || {
            let stderr = process.0.stderr.take().expect("a stderr pipe");
            let (tx, rx) = std::sync::mpsc::channel();
            // Reads to the end, so the server never blocks on a full pipe.
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if line.contains("Keepsake is serving") {
                        let _ = tx.send(line);
                    }
                }
            });
            let line = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("keepsake serve logs that it is serving");
            // `playground=http://127.0.0.1:PORT/playground`, maybe wrapped in colour codes.
            let base = line
                .split("http://")
                .nth(1)
                .and_then(|rest| rest.split("/playground").next())
                .map(|host| format!("http://{host}"))
                .unwrap_or_else(|| panic!("no address in {line:?}"));
            Server { process, base }
        })
        .await
        .expect("the blocking task")
    }

    /// SIGKILLs the server and reaps it.
    pub(crate) fn kill(&mut self) {
        self.process.kill();
    }

    /// Sends SIGTERM, as a rolling restart does; the server goes on until it exits.
    pub(crate) fn terminate(&mut self) {
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &self.process.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
    }

    /// Waits (up to 60 s, then SIGKILLs) for the server to exit; its exit status.
    pub(crate) fn wait_for_exit(&mut self) -> std::process::ExitStatus {
        for _ in 0..600 {
            if let Some(status) = self.process.0.try_wait().expect("try_wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill();
        panic!("the server did not exit within 60 s of SIGTERM");
    }
}

/// Posts `query` with the bearer `token` to the server at `base`: the status and body, or
/// the transport error when no answer came.
async fn request(
    http: reqwest::Client,
    base: String,
    token: String,
    query: String,
    variables: Value,
) -> reqwest::Result<(reqwest::StatusCode, String)> {
    let response = http
        .post(format!("{base}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?;
    let status = response.status();
    Ok((status, response.text().await?))
}

/// Like [`request`], for a server that must answer 200 with JSON; returns the body.
pub(crate) async fn graphql_at(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let (status, body) = request(
        http.clone(),
        base.to_owned(),
        token.to_owned(),
        query.to_owned(),
        variables.clone(),
    )
    .await
    .unwrap_or_else(|err| panic!("{query} {variables}: no answer: {err}"));
    assert_eq!(status, 200, "{query} {variables}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("{query}: {err}: {body}"))
}

/// A point inside a transaction where the test holds it. On PostgreSQL, a [`Gate`] parks
/// it on a lock the test holds; on SQLite (where the gate does nothing), a trigger at the
/// same point computes for far longer than any test runs. Either way, the transaction
/// cannot commit until the test lets it, or kills it.
struct Stall {
    gate: Gate,
    sqlite: bool,
}

impl Stall {
    /// Installs the stall: a `timing` (`BEFORE UPDATE`, `AFTER INSERT`) trigger on `table`
    /// for rows matching `when`.
    async fn install(app: &TestApp, timing: &str, table: &str, when: &str) -> Stall {
        let gate = Gate::install(app, timing, table, when).await;
        let sqlite = !app.is_postgres();
        if sqlite {
            app.execute_sql(&[format!(
                "CREATE TRIGGER stall {timing} ON {table} FOR EACH ROW WHEN ({when}) BEGIN \
                 SELECT (WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n \
                 WHERE x < 100000000000) SELECT COUNT(*) FROM n); END"
            )])
            .await;
        }
        Stall { gate, sqlite }
    }

    /// Waits (up to 20 s) until a transaction is open at the stall, or (on SQLite) open at
    /// all: it holds the write lock and can only commit through the stall.
    async fn reached(&self, app: &TestApp) -> bool {
        if self.sqlite {
            eventually(|| sqlite_write_lock_is_held(app)).await
        } else {
            self.gate.waiting(app, 1).await
        }
    }

    /// After the stalled process was killed: on PostgreSQL, lets its orphaned transaction
    /// run on into its dead connection and waits until the server has rolled it back; on
    /// SQLite, drops the trigger.
    async fn clear(mut self, app: &TestApp) {
        if self.sqlite {
            app.execute_sql(&["DROP TRIGGER stall"]).await;
            return;
        }
        self.gate.open().await;
        let open = "SELECT COUNT(*) AS n FROM pg_stat_activity \
                    WHERE datname = current_database() AND pid <> pg_backend_pid() \
                    AND backend_type = 'client backend' AND xact_start IS NOT NULL";
        assert!(
            eventually(|| async { number(app, open).await == 0 }).await,
            "the killed process's transaction never ended"
        );
    }
}

async fn killing_the_server_mid_cascade_leaves_the_old_state(backend: Backend) {
    const ATTACHMENTS: i64 = 50_000;
    let app = TestApp::spawn(backend).await;
    // The seeder makes at most 1,000 attachments a user: 50 users' worth, given to the first.
    succeeds(
        &app,
        &["seed", "--users", "50", "--attachments-per-user", "1000"],
    )
    .await;
    let owner = number(&app, "SELECT MIN(id) AS n FROM users WHERE role = 'member'").await;
    app.execute_sql(&[format!("UPDATE attachments SET owner_id = {owner}")])
        .await;
    let owner_id = ids::encode(Kind::User, owner);
    let live_attachments = format!(
        "SELECT COUNT(*) AS n FROM attachments \
         WHERE owner_id = {owner} AND deleted_at IS NULL AND deletion_id IS NULL"
    );
    assert_eq!(number(&app, &live_attachments).await, ATTACHMENTS);

    // The cascade count is the transaction's last write: by then every attachment is hidden.
    let stall = Stall::install(&app, "BEFORE UPDATE", "deletions", "NEW.cascade_count > 0").await;
    let mut server = Server::start(&app).await;
    let in_flight = tokio::spawn(request(
        app.http.clone(),
        server.base.clone(),
        app.admin_token.clone(),
        DELETE_USER.to_owned(),
        json!({ "id": owner_id, "reason": "crash test" }),
    ));
    assert!(
        stall.reached(&app).await,
        "deleteUser never opened its transaction"
    );
    if !app.is_postgres() {
        // SQLite shows only that the transaction is open; a moment more and the kill most
        // likely lands in the stall, past the cascade. Wherever it lands, nothing committed.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    server.process.kill();
    let answer = in_flight.await.expect("the request task");
    assert!(
        answer.is_err(),
        "the server answered before it was killed: {answer:?}"
    );
    stall.clear(&app).await;

    check_passes(&app).await;
    let user_is_live = format!(
        "SELECT COUNT(*) AS n FROM users \
         WHERE id = {owner} AND deleted_at IS NULL AND deletion_id IS NULL"
    );
    assert_eq!(number(&app, &user_is_live).await, 1);
    assert_eq!(number(&app, &live_attachments).await, ATTACHMENTS);
    assert_eq!(number(&app, "SELECT COUNT(*) AS n FROM deletions").await, 0);

    // A server started again sees the old state, and deletes as usual.
    let server = Server::start(&app).await;
    let body = graphql_at(
        &app.http,
        &server.base,
        &app.admin_token,
        "query($id: ID!) { user(id: $id) { deletedAt attachments { totalCount } } deletions { totalCount } }",
        json!({ "id": owner_id }),
    )
    .await;
    assert_ok(&body);
    assert_eq!(
        data(&body),
        &json!({
            "user": { "deletedAt": null, "attachments": { "totalCount": ATTACHMENTS } },
            "deletions": { "totalCount": 0 },
        })
    );
    let body = graphql_at(
        &app.http,
        &server.base,
        &app.admin_token,
        DELETE_USER,
        json!({ "id": owner_id, "reason": "crash test" }),
    )
    .await;
    assert_ok(&body);
    assert_eq!(data(&body)["deleteUser"]["cascadeCount"], ATTACHMENTS);
    assert_eq!(number(&app, &live_attachments).await, 0);
    check_passes(&app).await;
}

async fn killing_a_purge_midway_leaves_old_or_new_per_batch_and_a_restore_is_refused(
    backend: Backend,
) {
    const BATCH: i64 = 100;
    const ATTACHMENTS: i64 = 1_000;
    let app = TestApp::spawn(backend).await;
    succeeds(
        &app,
        &[
            "seed",
            "--users",
            "1",
            "--attachments-per-user",
            "1000",
            "--deleted-fraction",
            "1",
        ],
    )
    .await;
    let deletion_row = number(&app, "SELECT MIN(id) AS n FROM deletions").await;
    let deletion = ids::encode(Kind::Deletion, deletion_row);
    let user = number(
        &app,
        &format!("SELECT entity_id AS n FROM deletions WHERE id = {deletion_row}"),
    )
    .await;
    let hidden = format!(
        "SELECT (SELECT COUNT(*) FROM users WHERE deletion_id = {deletion_row}) \
         + (SELECT COUNT(*) FROM attachments WHERE deletion_id = {deletion_row}) AS n"
    );
    assert_eq!(number(&app, &hidden).await, 1 + ATTACHMENTS);

    // Archive ids count up from 1 in a fresh database: the second batch's first row stalls,
    // with the first batch committed.
    let stall = Stall::install(
        &app,
        "AFTER INSERT",
        "archive",
        &format!("NEW.id > {BATCH}"),
    )
    .await;
    let url = app.db.url.clone();
    let batch = BATCH.to_string();
    let mut purge = Process(
        keepsake(&url)
            .args(["purge", "--older-than", "0s", "--batch-size", &batch])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("keepsake purge starts"),
    );
    let archived = "SELECT COUNT(*) AS n FROM archive";
    assert!(
        eventually(|| async { number(&app, archived).await >= BATCH }).await,
        "the purge never committed a batch"
    );
    assert!(
        stall.reached(&app).await,
        "the purge never started its second batch"
    );
    purge.kill();
    stall.clear(&app).await;

    check_passes(&app).await;
    let archived_before = number(&app, archived).await;
    assert!(
        archived_before > 0 && archived_before % BATCH == 0 && archived_before < ATTACHMENTS,
        "{archived_before} rows archived: whole batches only"
    );
    let both = "SELECT COUNT(*) AS n FROM archive r JOIN attachments a \
                ON r.entity = 'attachment' AND a.id = r.entity_id";
    assert_eq!(
        number(&app, both).await,
        0,
        "a row is archived and still there"
    );
    assert_eq!(
        number(&app, &hidden).await + archived_before,
        1 + ATTACHMENTS,
        "every row is either still deleted or archived"
    );
    let logged = app.admin().deletion(&deletion).await;
    assert!(logged["purgeStartedAt"].is_string(), "{logged}");
    assert_eq!(logged["purgedAt"], Value::Null, "{logged}");
    assert_eq!(logged["restoredAt"], Value::Null, "{logged}");

    // Half purged, it can no longer come back whole: refused, and nothing changes.
    let body = app.admin().try_restore(&deletion, None).await;
    assert_error(&body, "CONFLICT");
    assert_eq!(number(&app, archived).await, archived_before);
    assert_eq!(
        number(&app, &hidden).await + archived_before,
        1 + ATTACHMENTS
    );
    let logged = app.admin().deletion(&deletion).await;
    assert_eq!(logged["restoredAt"], Value::Null, "{logged}");
    check_passes(&app).await;

    // A second purge finishes the job.
    succeeds(&app, &["purge", "--older-than", "0s"]).await;
    assert_eq!(number(&app, &hidden).await, 0);
    assert_eq!(number(&app, archived).await, 1 + ATTACHMENTS);
    assert_eq!(
        number(
            &app,
            &format!("SELECT COUNT(*) AS n FROM users WHERE id = {user}")
        )
        .await,
        0
    );
    let logged = app.admin().deletion(&deletion).await;
    assert!(logged["purgedAt"].is_string(), "{logged}");
    check_passes(&app).await;
}

async fn a_fault_midway_through_a_restore_changes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let mut files = Vec::new();
    for name in ["a.txt", "boom.txt", "c.txt"] {
        files.push(app.attachment(&ada, name).await);
    }
    let deleted = app.admin().delete_user(&ada.id, Some("crash test")).await;
    assert_eq!(deleted["cascadeCount"], 3);
    let deletion = id_of(&deleted);

    // The restore brings the user back first; then its UPDATE of 'boom.txt' aborts.
    let (install, remove): (&[&str], &[&str]) = if app.is_postgres() {
        (
            &[
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS \
                 $$ BEGIN RAISE EXCEPTION 'injected fault'; END $$",
                "CREATE TRIGGER boom BEFORE UPDATE ON attachments FOR EACH ROW \
                 WHEN (NEW.deleted_at IS NULL AND OLD.deleted_at IS NOT NULL \
                 AND OLD.filename = 'boom.txt') EXECUTE FUNCTION boom()",
            ],
            &["DROP TRIGGER boom ON attachments", "DROP FUNCTION boom()"],
        )
    } else {
        (
            &[
                "CREATE TRIGGER boom BEFORE UPDATE OF deleted_at ON attachments \
               WHEN NEW.deleted_at IS NULL AND OLD.deleted_at IS NOT NULL \
               AND OLD.filename = 'boom.txt' \
               BEGIN SELECT RAISE(ABORT, 'injected fault'); END",
            ],
            &["DROP TRIGGER boom"],
        )
    };
    app.execute_sql(install).await;

    let body = app.admin().try_restore(&deletion, None).await;
    assert_internal_without_sql(&body);

    // Still deleted, all of it, by the same deletion, which is not marked restored.
    for (kind, id) in [("user", &ada.id)]
        .into_iter()
        .chain(files.iter().map(|f| ("attachment", f)))
    {
        let row = row_of(&app, kind, id).await;
        assert!(row["deletedAt"].is_string(), "{kind} {id} is live: {row}");
        assert_eq!(row["deletion"]["id"], deletion.as_str(), "{kind} {id}");
    }
    let logged = app.admin().deletion(&deletion).await;
    assert_eq!(logged["restoredAt"], Value::Null, "{logged}");
    app.assert_invariants().await;

    // Without the fault, the same restore brings back all of it.
    app.execute_sql(remove).await;
    let restored = app.admin().restore(&deletion, None).await;
    assert!(restored["restoredAt"].is_string(), "{restored}");
    let body = app
        .as_admin(
            "query($id: ID!) { user(id: $id) { deletedAt attachments(first: 10) { nodes { id } } } }",
            json!({ "id": ada.id }),
        )
        .await;
    assert_ok(&body);
    let mut back: Vec<&str> = data(&body)["user"]["attachments"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("ada is not live: {body}"))
        .iter()
        .filter_map(|node| node["id"].as_str())
        .collect();
    back.sort_unstable();
    let mut expected: Vec<&str> = files.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(back, expected);
    app.assert_invariants().await;
}

/// The `user` or `attachment` (`kind`) with this id, deleted or not, as the admin sees it:
/// `deletedAt` and `deletion { id }` among its fields; null when there is no such row.
async fn row_of(app: &TestApp, kind: &str, id: &str) -> Value {
    match kind {
        "user" => app.admin().user_with_deleted(id).await,
        "attachment" => app.admin().attachment_with_deleted(id).await,
        _ => panic!("not a soft-deletable kind: {kind}"),
    }
}

/// A fixed-seed xorshift64: the same operations on every run.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n.max(1) as u64) as usize
    }
}

/// What the stress clients share: where to send, and the ids made so far.
struct Stress {
    http: reqwest::Client,
    token: String,
    bases: Vec<String>,
    users: Mutex<Vec<String>>,
    attachments: Mutex<Vec<String>>,
    deletions: Mutex<Vec<String>>,
    stop_at: Instant,
}

/// The answers a correct server may give to a random operation; never `INTERNAL`.
const EXPECTED_REFUSALS: [&str; 4] = ["NOT_FOUND", "BAD_USER_INPUT", "CONFLICT", "PARENT_DELETED"];

/// One client: `operations` random mutations as the admin, spread over the servers.
async fn random_operations(stress: Arc<Stress>, client: u64, operations: usize) {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D ^ (client + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    // Mostly among the ten newest ids, which are likelier live (or, for deletions, in force).
    let pick = |pool: &Mutex<Vec<String>>, rng: &mut Rng| {
        let pool = pool.lock().expect("pool");
        let from = if rng.below(4) == 0 {
            0
        } else {
            pool.len().saturating_sub(10)
        };
        (pool.len() > from).then(|| pool[from + rng.below(pool.len() - from)].clone())
    };
    for i in 0..operations {
        if Instant::now() > stress.stop_at {
            break;
        }
        let roll = rng.below(100);
        let (field, query, variables) = match roll {
            0..=24 => match pick(&stress.users, &mut rng) {
                Some(owner) => (
                    "createAttachment",
                    CREATE_ATTACHMENT,
                    json!({ "input": { "ownerId": owner, "filename": format!("{client}-{i}.txt"),
                                       "contentType": "text/plain", "sizeBytes": i } }),
                ),
                None => continue,
            },
            25..=38 => match pick(&stress.attachments, &mut rng) {
                Some(id) => (
                    "deleteAttachment",
                    DELETE_ATTACHMENT,
                    json!({ "id": id, "reason": "stress" }),
                ),
                None => continue,
            },
            39..=50 => match pick(&stress.users, &mut rng) {
                Some(id) => (
                    "deleteUser",
                    DELETE_USER,
                    json!({ "id": id, "reason": "stress" }),
                ),
                None => continue,
            },
            51..=79 => match pick(&stress.deletions, &mut rng) {
                Some(id) => ("restore", RESTORE, json!({ "d": id, "reason": "stress" })),
                None => continue,
            },
            80..=81 => (
                "purgeDeleted",
                PURGE,
                json!({ "olderThan": "0s", "dryRun": false }),
            ),
            // Few emails, so some are taken: CONFLICT, and restores of their old owners too.
            _ => (
                "createUser",
                CREATE_USER,
                json!({ "input": { "email": format!("stress-{}@example.com", rng.below(40)),
                                   "name": "Stress", "role": "MEMBER" } }),
            ),
        };
        let base = &stress.bases[rng.below(stress.bases.len())];
        let body = graphql_at(&stress.http, base, &stress.token, query, variables.clone()).await;
        let codes = error_codes(&body);
        if !codes.is_empty() {
            assert!(
                codes
                    .iter()
                    .all(|c| EXPECTED_REFUSALS.contains(&c.as_str())),
                "{field} {variables}: {body}"
            );
            assert_eq!(data(&body)[field], Value::Null, "{body}");
            continue;
        }
        let made = data(&body)[field]["id"].as_str().map(str::to_owned);
        let pool = match field {
            "createUser" => &stress.users,
            "createAttachment" => &stress.attachments,
            "deleteUser" | "deleteAttachment" => &stress.deletions,
            _ => continue,
        };
        let made = made.unwrap_or_else(|| panic!("{field} {variables}: no id in {body}"));
        pool.lock().expect("pool").push(made);
    }
}

async fn concurrent_random_operations_keep_every_invariant(backend: Backend) {
    const CLIENTS: u64 = 4;
    const OPERATIONS: usize = 100;
    let app = TestApp::spawn(backend).await;
    let mut bases = vec![app.base.clone()];
    // On PostgreSQL a second server shares the database (and, through it, the token secret).
    let mut _stop_second = None;
    if app.is_postgres() {
        let second = App::build(&Settings::for_database(&app.db.url))
            .await
            .expect("a second server builds");
        bases.push(format!("http://{}", second.address()));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(second.run(async {
            let _ = stopped.await;
        }));
        _stop_second = Some(stop);
    }
    let (mut users, mut attachments) = (Vec::new(), Vec::new());
    for n in 0..4 {
        let user = app.member(&format!("seed-{n}@example.com")).await;
        for f in 0..2 {
            attachments.push(app.attachment(&user, &format!("{f}.txt")).await);
        }
        users.push(user.id);
    }
    let stress = Arc::new(Stress {
        http: app.http.clone(),
        token: app.admin_token.clone(),
        bases,
        users: Mutex::new(users),
        attachments: Mutex::new(attachments),
        deletions: Mutex::new(Vec::new()),
        stop_at: Instant::now() + Duration::from_secs(20),
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| tokio::spawn(random_operations(stress.clone(), client, OPERATIONS)))
        .collect();
    for client in clients {
        client
            .await
            .expect("a client failed (its panic is printed above)");
    }

    app.assert_invariants().await;
    // Each logged deletion hides its row exactly while it is neither restored nor purged.
    let mut after = Value::Null;
    let mut seen = 0;
    for _ in 0..100 {
        let body = app
            .as_admin(
                "query($after: String) { deletions(first: 100, after: $after) { \
                   pageInfo { hasNextPage endCursor } \
                   nodes { id entity entityId restoredAt purgeStartedAt purgedAt } } }",
                json!({ "after": after }),
            )
            .await;
        assert_ok(&body);
        let page = &data(&body)["deletions"];
        for logged in page["nodes"].as_array().expect("nodes") {
            seen += 1;
            the_row_agrees_with_its_deletion(&app, logged).await;
        }
        if page["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = page["pageInfo"]["endCursor"].clone();
    }
    assert!(seen > 0, "the clients deleted nothing");
}

/// Restored: the row is not hidden by it. Purged: the row is gone. Purge begun: gone or
/// still hidden by it. Otherwise: hidden by it.
async fn the_row_agrees_with_its_deletion(app: &TestApp, logged: &Value) {
    let kind = match logged["entity"].as_str() {
        Some("USER") => "user",
        Some("ATTACHMENT") => "attachment",
        _ => panic!("unknown entity: {logged}"),
    };
    let id = logged["entityId"].as_str().expect("an entity id");
    let row = &row_of(app, kind, id).await;
    let hidden_by_it = !row.is_null() && row["deletion"]["id"] == logged["id"];
    if hidden_by_it {
        assert!(row["deletedAt"].is_string(), "{logged} {row}");
    }
    let agrees = if logged["restoredAt"].is_string() {
        !hidden_by_it && logged["purgeStartedAt"].is_null() && logged["purgedAt"].is_null()
    } else if logged["purgedAt"].is_string() {
        row.is_null()
    } else if logged["purgeStartedAt"].is_string() {
        row.is_null() || hidden_by_it
    } else {
        hidden_by_it
    };
    assert!(agrees, "deletion {logged} disagrees with its {kind}: {row}");
}

/// A real crash between a purge's commit and its erasure of the bytes: `keepsake purge`
/// parks at the blob's lock (the test holds it; the row's batch has committed) and is
/// SIGKILLed there. The row is gone and archived, the blob stays (an orphan, never a row
/// without its bytes); `keepsake check` reports it and `--fix` removes it. PostgreSQL only:
/// the blob's lock, where the process is stopped, is an advisory lock there (SQLite's writer
/// lock cannot hold one process between its transactions). `content.rs` checks the state
/// this leaves on both databases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    not(postgres_tests),
    ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
)]
async fn on_postgres_killing_a_purge_between_commit_and_blob_erasure_leaves_an_orphan_check_removes()
 {
    let app = TestApp::spawn(Backend::postgres()).await;
    let alan = app.member("alan@example.com").await;
    let id = app.attachment(&alan, "notes.txt").await;
    let bytes = b"bytes a crashed purge leaves behind".to_vec();
    let response = app
        .http
        .put(format!("{}/attachments/{id}/content", app.base))
        .bearer_auth(&alan.token)
        .header("content-type", "text/plain")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success());
    let answer: Value = response.json().await.unwrap();
    let sha256 = answer["sha256"].as_str().unwrap().to_owned();
    app.by(&alan).delete_attachment(&id, None).await;

    // Hold the blob's lock, the one the purge takes after its batch commits.
    let holder = raw_connection(&app.db.url).await.unwrap();
    holder
        .execute_unprepared(&format!(
            "SELECT pg_advisory_lock(hashtextextended('{sha256}', 14))"
        ))
        .await
        .unwrap();
    let mut purge = Process(
        keepsake(&app.db.url)
            .env(
                "KEEPSAKE_STORAGE",
                format!("file://{}", app.blobs.path().display()),
            )
            .args(["purge", "--older-than", "0s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("keepsake purge starts"),
    );
    let archived = "SELECT COUNT(*) AS n FROM archive";
    let waiting = "SELECT COUNT(*) AS n FROM pg_stat_activity \
                   WHERE datname = current_database() AND wait_event_type = 'Lock'";
    assert!(
        eventually(|| async { number(&app, archived).await == 1 }).await,
        "the purge never committed its batch"
    );
    assert!(
        eventually(|| async { number(&app, waiting).await >= 1 }).await,
        "the purge never reached the blob's lock"
    );
    purge.kill();
    holder
        .execute_unprepared(&format!(
            "SELECT pg_advisory_unlock(hashtextextended('{sha256}', 14))"
        ))
        .await
        .unwrap();
    holder.close().await.unwrap();

    let blob = app.blobs.path().join("blobs").join(&sha256);
    assert!(blob.exists(), "the purge died before erasing the blob");
    let row = ids::decode(Kind::Attachment, &id).unwrap();
    let gone = format!("SELECT COUNT(*) AS n FROM attachments WHERE id = {row}");
    assert_eq!(number(&app, &gone).await, 0, "the row's purge committed");
    let found = app.run(&["check"]).await;
    let said = String::from_utf8_lossy(&found.stdout).into_owned();
    assert_eq!(found.status.code(), Some(1), "{said}");
    assert!(
        said.contains(&format!("orphan-blob: blob {sha256}")),
        "{said}"
    );
    let fixed = app.run(&["check", "--fix"]).await;
    assert!(
        fixed.status.success(),
        "{}",
        String::from_utf8_lossy(&fixed.stdout)
    );
    assert!(!blob.exists(), "--fix removed the orphan");
}
