//! A generated attack on visibility (roles, hidden rows, to-one relations, counts): random sequences of creates,
//! deletes, restores, purges and role changes by random actors, checked after every step
//! against a model of the rows. Every read path is asked as every user, and each answer must
//! be exactly what the role table allows: no deleted row without the right and the flag,
//! whether asked for directly or reached through a visible parent (`user { attachments }`,
//! `attachment { owner }`, `deletions { actor restoredBy }`, mutation payloads, `node`, `me`,
//! every `totalCount`), and no member ever sees another member's email or attachments.

use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp};

/// The property: `cases` generated sequences of 10 to 25 operations (more with
/// `PROPTEST_CASES`), each on a fresh server and database. A case is long rather than the
/// cases many, since each spawns its own server.
fn no_sequence_of_operations_reveals_a_hidden_row(backend: Backend, cases: u32) {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    let config = Config {
        cases,
        max_shrink_iters: 50,
        // Failures are reported with their shrunk sequence; nothing is written to the tree.
        failure_persistence: None,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    // A third of the cases run with a zero undo window: members may undo nothing there.
    let case = (
        prop::bool::weighted(0.3),
        prop::collection::vec(op(), 10..=25),
    );
    let outcome = runner.run(&case, |(window_passed, ops)| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime per case");
        runtime.block_on(run_case(backend.clone(), window_passed, &ops));
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
}

mod generated_operations_never_reveal_a_hidden_row {
    use super::no_sequence_of_operations_reveals_a_hidden_row as property;
    use crate::helpers::Backend;

    #[test]
    fn sqlite() {
        property(Backend::Sqlite, 12);
    }

    #[test]
    #[cfg_attr(
        not(postgres_tests),
        ignore = "needs TEST_DATABASE_URL (a PostgreSQL server); CI runs it"
    )]
    fn postgres() {
        property(Backend::postgres(), 6);
    }
}

// ---------------------------------------------------------------------------------------
// Operations, as generated: indices that are resolved against the model when they run, so a
// shrunk sequence stays meaningful.

/// Who acts: the first admin, or the `n`th live user (modulo their number).
#[derive(Clone, Copy, Debug)]
enum Who {
    Admin,
    Live(u8),
}

/// A target: from the pool of plausible ones for the operation (`likely`), or from every id
/// ever made of that kind.
#[derive(Clone, Copy, Debug)]
struct Pick {
    likely: bool,
    index: u8,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Member,
    Support,
    Admin,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Member => "MEMBER",
            Role::Support => "SUPPORT",
            Role::Admin => "ADMIN",
        }
    }

    fn is_staff(self) -> bool {
        self != Role::Member
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// `who` records an attachment for themself, or for the user `owner` picks.
    CreateAttachment {
        who: Who,
        owner: Option<u8>,
    },
    DeleteAttachment {
        who: Who,
        target: Pick,
    },
    /// `deleteAttachments` with two picks (possibly the same one).
    DeleteAttachments {
        who: Who,
        targets: (Pick, Pick),
    },
    /// `deleteUser` of oneself (`None`) or of a pick among the other users.
    DeleteUser {
        who: Who,
        target: Option<Pick>,
    },
    Restore {
        who: Who,
        deletion: Pick,
    },
    RestoreUser {
        who: Who,
        target: Pick,
    },
    RestoreAttachment {
        who: Who,
        target: Pick,
    },
    /// `purgeDeleted(olderThan: "0s")`, for real or as a dry run.
    Purge {
        who: Who,
        dry_run: bool,
    },
    /// `updateUser(role)` of anyone but the first admin.
    SetRole {
        who: Who,
        target: u8,
        role: Role,
    },
    /// The first admin adds a user, with a fresh email or one a deleted user had.
    AddUser {
        role: Role,
        reuse_email: Option<u8>,
    },
}

fn who(admin_weight: f64) -> impl Strategy<Value = Who> {
    prop::option::weighted(1.0 - admin_weight, any::<u8>())
        .prop_map(|n| n.map_or(Who::Admin, Who::Live))
}

fn pick() -> impl Strategy<Value = Pick> {
    (prop::bool::weighted(0.8), any::<u8>()).prop_map(|(likely, index)| Pick { likely, index })
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::Member), Just(Role::Support), Just(Role::Admin)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (who(0.2), prop::option::weighted(0.3, any::<u8>()))
            .prop_map(|(who, owner)| Op::CreateAttachment { who, owner }),
        3 => (who(0.2), pick()).prop_map(|(who, target)| Op::DeleteAttachment { who, target }),
        1 => (who(0.2), pick(), pick())
            .prop_map(|(who, a, b)| Op::DeleteAttachments { who, targets: (a, b) }),
        3 => (who(0.5), prop::option::weighted(0.6, pick()))
            .prop_map(|(who, target)| Op::DeleteUser { who, target }),
        3 => (who(0.4), pick()).prop_map(|(who, deletion)| Op::Restore { who, deletion }),
        2 => (who(0.4), pick()).prop_map(|(who, target)| Op::RestoreUser { who, target }),
        2 => (who(0.4), pick())
            .prop_map(|(who, target)| Op::RestoreAttachment { who, target }),
        1 => (who(0.7), prop::bool::weighted(0.3))
            .prop_map(|(who, dry_run)| Op::Purge { who, dry_run }),
        2 => (who(0.7), any::<u8>(), role())
            .prop_map(|(who, target, role)| Op::SetRole { who, target, role }),
        1 => (role(), prop::option::weighted(0.5, any::<u8>()))
            .prop_map(|(role, reuse_email)| Op::AddUser { role, reuse_email }),
    ]
}

// ---------------------------------------------------------------------------------------
// The model: what exists, who may see what.

/// Users the model lets exist at once (the `users(first: 20)` pages hold them all).
const MAX_USERS: usize = 12;
/// Attachments the model lets exist (the `first: 50` pages hold them all).
const MAX_ATTACHMENTS: usize = 40;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Life {
    Live,
    /// Hidden by the deletion at this index.
    Deleted(usize),
    /// Archived and erased: gone for everyone.
    Purged,
}

#[derive(Debug)]
struct MUser {
    id: String,
    email: String,
    role: Role,
    life: Life,
    token: String,
}

#[derive(Debug)]
struct MAttachment {
    id: String,
    owner: usize,
    life: Life,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Entity {
    User,
    Attachment,
}

#[derive(Debug)]
struct MDeletion {
    id: String,
    entity: Entity,
    /// The user deleted, or the first attachment.
    first: usize,
    /// Every attachment it hid (the cascade, or the bulk).
    attachments: Vec<usize>,
    actor: usize,
    restored_by: Option<usize>,
    purged: bool,
}

impl MDeletion {
    fn in_force(&self) -> bool {
        self.restored_by.is_none() && !self.purged
    }
}

#[derive(Default)]
struct Model {
    users: Vec<MUser>,
    attachments: Vec<MAttachment>,
    deletions: Vec<MDeletion>,
    emails_made: usize,
    /// Whether members' undo window is zero, so that it has passed for every deletion.
    window_passed: bool,
    /// What happened so far, for failure messages.
    log: Vec<String>,
}

type Errors = Vec<(String, String)>;

impl Model {
    fn role(&self, u: usize) -> Role {
        self.users[u].role
    }

    fn user_live(&self, u: usize) -> bool {
        self.users[u].life == Life::Live
    }

    fn user_deleted(&self, u: usize) -> bool {
        matches!(self.users[u].life, Life::Deleted(_))
    }

    fn user_exists(&self, u: usize) -> bool {
        self.users[u].life != Life::Purged
    }

    fn live_users(&self) -> Vec<usize> {
        (0..self.users.len())
            .filter(|&u| self.user_live(u))
            .collect()
    }

    fn attachments_where(&self, keep: impl Fn(&MAttachment) -> bool) -> Vec<usize> {
        (0..self.attachments.len())
            .filter(|&a| keep(&self.attachments[a]))
            .collect()
    }

    /// `u`'s attachments alive, deleted (not purged), or either.
    fn live_of(&self, u: usize) -> Vec<usize> {
        self.attachments_where(|a| a.owner == u && a.life == Life::Live)
    }

    fn deleted_of(&self, u: usize) -> Vec<usize> {
        self.attachments_where(|a| a.owner == u && matches!(a.life, Life::Deleted(_)))
    }

    fn existing_of(&self, u: usize) -> Vec<usize> {
        self.attachments_where(|a| a.owner == u && a.life != Life::Purged)
    }

    /// Whether `v` may see live attachment `a` (the owner, support, admins).
    fn sees_attachment(&self, v: usize, a: usize) -> bool {
        let att = &self.attachments[a];
        att.life == Life::Live && (self.role(v).is_staff() || att.owner == v)
    }

    /// `u`'s email as `v` reads it, with the error a member gets for someone else's.
    fn email(&self, v: usize, u: usize, path: String, errors: &mut Errors) -> Value {
        if v == u || self.role(v).is_staff() {
            json!(self.users[u].email)
        } else {
            errors.push((path, "FORBIDDEN".into()));
            Value::Null
        }
    }

    fn user_ref(&self, u: usize, visible: bool) -> Value {
        if visible {
            json!({ "id": self.users[u].id })
        } else {
            Value::Null
        }
    }

    /// Whether `v` may know of deletion `d` at all (else it answers as a missing id): staff
    /// any; a member only deletions they made of their own rows, by their current role. A
    /// restored bulk deletion marks no rows any more, so whose they all were cannot be shown:
    /// it is no member's (the server does not let the first row vouch for the others).
    fn knows(&self, v: usize, d: usize) -> bool {
        let del = &self.deletions[d];
        if self.role(v).is_staff() {
            return true;
        }
        if del.actor != v {
            return false;
        }
        match del.entity {
            Entity::User => del.first == v,
            Entity::Attachment if del.restored_by.is_some() && del.attachments.len() > 1 => false,
            Entity::Attachment => {
                let first = &self.attachments[del.first];
                first.life != Life::Purged
                    && first.owner == v
                    && (!del.in_force()
                        || del
                            .attachments
                            .iter()
                            .all(|&a| self.attachments[a].owner == v))
            }
        }
    }

    /// What `restore` of a deletion `v` knows of answers: the role check, then the state.
    fn restore_refusal(&self, v: usize, d: usize) -> Option<&'static str> {
        let del = &self.deletions[d];
        match self.role(v) {
            Role::Support => return Some("FORBIDDEN"),
            Role::Member if self.window_passed => return Some("FORBIDDEN"),
            _ => {}
        }
        if del.purged {
            return Some("CONFLICT");
        }
        if del.restored_by.is_some() {
            return Some("BAD_USER_INPUT");
        }
        match del.entity {
            Entity::Attachment => del
                .attachments
                .iter()
                .any(|&a| !self.user_live(self.attachments[a].owner))
                .then_some("PARENT_DELETED"),
            Entity::User => {
                let email = &self.users[del.first].email;
                (0..self.users.len())
                    .any(|u| u != del.first && self.user_live(u) && &self.users[u].email == email)
                    .then_some("CONFLICT")
            }
        }
    }

    fn restore_in(&mut self, v: usize, d: usize) {
        let del = &mut self.deletions[d];
        del.restored_by = Some(v);
        let (entity, first, attachments) = (del.entity, del.first, del.attachments.clone());
        if entity == Entity::User {
            self.users[first].life = Life::Live;
        }
        for a in attachments {
            self.attachments[a].life = Life::Live;
        }
    }

    fn fresh_email(&mut self) -> String {
        self.emails_made += 1;
        format!("p{}@example.com", self.emails_made)
    }

    /// Every id or email `v`, a member, must never be shown: users who are not live, others'
    /// emails, attachments not live or not theirs, deletions they may not know of.
    fn secrets_of_member(&self, v: usize) -> Vec<String> {
        let mut secrets = Vec::new();
        for (u, user) in self.users.iter().enumerate() {
            if !self.user_live(u) {
                secrets.push(user.id.clone());
            }
            if user.email != self.users[v].email {
                secrets.push(user.email.clone());
            }
        }
        for (a, att) in self.attachments.iter().enumerate() {
            if !self.sees_attachment(v, a) {
                secrets.push(att.id.clone());
            }
        }
        for (d, del) in self.deletions.iter().enumerate() {
            if !self.knows(v, d) {
                secrets.push(del.id.clone());
            }
        }
        secrets
    }
}

fn ids_of(m: &Model, attachments: &[usize]) -> Vec<Value> {
    attachments
        .iter()
        .map(|&a| json!({ "id": m.attachments[a].id }))
        .collect()
}

fn connection(nodes: Vec<Value>) -> Value {
    json!({ "totalCount": nodes.len(), "nodes": nodes })
}

// ---------------------------------------------------------------------------------------
// Talking to the server, and comparing.

const CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "PARENT_DELETED",
];

/// Posts a request and checks what every response must (see [`assert_known_codes`]).
async fn post(app: &TestApp, m: &Model, token: &str, query: &str, variables: Value) -> Value {
    let body = app.graphql(Some(token), query, variables).await;
    assert_known_codes(m, query, &body);
    body
}

/// Every error has a code of the contract, and none is `INTERNAL`.
#[track_caller]
fn assert_known_codes(m: &Model, query: &str, body: &Value) {
    for error in body["errors"].as_array().into_iter().flatten() {
        let code = error["extensions"]["code"].as_str().unwrap_or("<none>");
        assert!(
            CODES.contains(&code),
            "an error with code {code}: {body}\nquery: {query}\nafter:\n{}",
            m.log.join("\n")
        );
    }
}

/// Every error as (path, code), the path dotted (`users.nodes.2.email`).
fn errors_of(body: &Value) -> Errors {
    let mut errors: Errors = body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let path = e["path"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| match p {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect::<Vec<_>>()
                .join(".");
            let code = e["extensions"]["code"].as_str().unwrap_or("<none>");
            (path, code.to_owned())
        })
        .collect();
    errors.sort();
    errors
}

/// `deletedAt` values are times; the model knows only whether there is one.
fn normalize(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                if key == "deletedAt" && child.is_string() {
                    *child = json!("<set>");
                } else {
                    normalize(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(normalize),
        _ => {}
    }
}

fn deleted_at(life: Life) -> Value {
    match life {
        Life::Live => Value::Null,
        _ => json!("<set>"),
    }
}

/// Asserts that a response is exactly `data` with exactly `errors` (any order).
#[track_caller]
fn expect(m: &Model, what: &str, query: &str, body: &Value, data: Value, mut errors: Errors) {
    let mut got = body["data"].clone();
    normalize(&mut got);
    errors.sort();
    let got_errors = errors_of(body);
    if got != data || got_errors != errors {
        panic!(
            "{what}: the answer is not what the role table allows\n\
             after:\n{}\nquery: {query}\nexpected data: {data}\nexpected errors: {errors:?}\n\
             got errors: {got_errors:?}\ngot: {body}",
            m.log.join("\n")
        );
    }
}

/// Every string value in `value`.
fn strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|v| strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| strings(v, out)),
        _ => {}
    }
}

/// Asserts that a member's response names none of their secrets: not in its data, and not
/// in an error message (unless the member named it in the request).
#[track_caller]
fn assert_no_secret(m: &Model, v: usize, what: &str, request: &str, body: &Value) {
    let secrets = m.secrets_of_member(v);
    let mut shown = Vec::new();
    strings(&body["data"], &mut shown);
    for secret in &secrets {
        assert!(
            !shown.contains(secret),
            "{what}: member {v} was shown {secret}\nafter:\n{}\nrequest: {request}\ngot: {body}",
            m.log.join("\n")
        );
    }
    // Ids are base64 (`VXNlcjox` is a prefix of `VXNlcjoxMA`): compare whole words.
    let words_of = |text: &str| -> Vec<String> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || "-_@.".contains(c)))
            .map(|w| w.trim_end_matches('.').to_owned())
            .collect()
    };
    let named = words_of(request);
    for error in body["errors"].as_array().into_iter().flatten() {
        let message = error["message"].as_str().unwrap_or_default();
        let words = words_of(message);
        for secret in secrets.iter().filter(|s| !named.contains(s)) {
            assert!(
                !words.contains(secret),
                "{what}: an error told member {v} about {secret}: {message}\nafter:\n{}",
                m.log.join("\n")
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// A case: the world, the operations, and the checks after each.

async fn run_case(backend: Backend, window_passed: bool, ops: &[Op]) {
    let started = std::time::Instant::now();
    let app = TestApp::spawn_with(backend, |settings| {
        if window_passed {
            settings.undo_window = std::time::Duration::ZERO;
        }
    })
    .await;
    let spawned = started.elapsed();
    let mut m = Model {
        window_passed,
        ..Model::default()
    };
    let admin_email = app
        .as_admin("{ me { email } }", json!({}))
        .await
        .pointer("/data/me/email")
        .and_then(Value::as_str)
        .expect("the admin reads their email")
        .to_owned();
    m.users.push(MUser {
        id: app.admin_id.clone(),
        email: admin_email,
        role: Role::Admin,
        life: Life::Live,
        token: app.admin_token.clone(),
    });
    add_user(&app, &mut m, Role::Support, None).await;
    for _ in 0..3 {
        let u = add_user(&app, &mut m, Role::Member, None).await;
        create_attachment(&app, &mut m, u, u).await;
        create_attachment(&app, &mut m, u, u).await;
    }
    m.log.push(format!(
        "start: admin 0, support 1, members 2-4 with two attachments each; \
         undo window passed: {window_passed}"
    ));
    check_everyone(&app, &m).await;
    for op in ops {
        let done = apply(&app, &mut m, op).await;
        m.log.push(format!("{op:?} => {done}"));
        // A skipped operation sent nothing; a refused one must have changed nothing.
        if !done.starts_with(SKIPPED) {
            check_everyone(&app, &m).await;
        }
    }
    app.assert_invariants().await;
    if std::env::var("TEST_LOG").is_ok() {
        eprintln!(
            "a case passed in {:?} (server up in {spawned:?}):\n{}\n",
            started.elapsed(),
            m.log.join("\n")
        );
    }
}

/// How the log marks an operation that sent nothing.
const SKIPPED: &str = "skipped";

/// Resolves `who` to a live user.
fn actor(m: &Model, who: Who) -> usize {
    match who {
        Who::Admin => 0,
        Who::Live(n) => {
            let live = m.live_users();
            live[n as usize % live.len()]
        }
    }
}

/// Picks from `likely` when asked and not empty, else from `all`; `None` when both are empty.
fn choose(pick: Pick, likely: Vec<usize>, all: usize) -> Option<usize> {
    if pick.likely && !likely.is_empty() {
        Some(likely[pick.index as usize % likely.len()])
    } else if all > 0 {
        Some(pick.index as usize % all)
    } else {
        None
    }
}

/// Like [`choose`], but `None` when asked for a likely target and there is none: a restore
/// of a live row is tried often enough by the unlikely picks.
fn choose_strictly(pick: Pick, likely: Vec<usize>, all: usize) -> Option<usize> {
    if pick.likely && likely.is_empty() {
        None
    } else {
        choose(pick, likely, all)
    }
}

async fn add_user(app: &TestApp, m: &mut Model, role: Role, email: Option<String>) -> usize {
    let email = email.unwrap_or_else(|| m.fresh_email());
    let user = app.user(&email, role.name()).await;
    m.users.push(MUser {
        id: user.id,
        email,
        role,
        life: Life::Live,
        token: user.token,
    });
    m.users.len() - 1
}

/// Asserts a refused mutation: exactly one error of `code`, no data, nothing leaked.
#[track_caller]
fn expect_refusal(m: &Model, v: usize, what: &str, request: &str, body: &Value, code: &str) {
    let path = request
        .split_once('{')
        .and_then(|(_, rest)| rest.split('(').next())
        .unwrap_or_default()
        .trim()
        .to_owned();
    expect(
        m,
        what,
        request,
        body,
        Value::Null,
        vec![(path, code.into())],
    );
    if !m.role(v).is_staff() {
        assert_no_secret(m, v, what, request, body);
    }
}

const CREATE_ATTACHMENT: &str =
    "mutation($input: CreateAttachmentInput!) { createAttachment(input: $input) {
    id owner { id email attachments(first: 50) { totalCount nodes { id } } } } }";

/// `v` records an attachment for `owner`: checked against the model, which learns of it.
async fn create_attachment(app: &TestApp, m: &mut Model, v: usize, owner: usize) -> String {
    let vars = json!({ "input": { "ownerId": m.users[owner].id, "filename": "f.txt",
                                  "contentType": "text/plain", "sizeBytes": 1 } });
    let body = post(app, m, &m.users[v].token, CREATE_ATTACHMENT, vars.clone()).await;
    let request = format!("{CREATE_ATTACHMENT} {vars}");
    let refusal = if owner != v && m.role(v) != Role::Admin {
        Some("FORBIDDEN")
    } else if !m.user_live(owner) {
        Some("NOT_FOUND")
    } else {
        None
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, "createAttachment", &request, &body, code);
        return format!("refused {code}");
    }
    let id = body
        .pointer("/data/createAttachment/id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| {
            panic!(
                "createAttachment failed: {body}\nafter:\n{}",
                m.log.join("\n")
            )
        })
        .to_owned();
    m.attachments.push(MAttachment {
        id: id.clone(),
        owner,
        life: Life::Live,
    });
    let mut errors = Vec::new();
    let expected = json!({ "createAttachment": { "id": id, "owner": {
        "id": m.users[owner].id,
        "email": m.email(v, owner, "createAttachment.owner.email".into(), &mut errors),
        "attachments": connection(ids_of(m, &m.live_of(owner))),
    } } });
    expect(m, "createAttachment", &request, &body, expected, errors);
    format!("attachment {} for user {owner}", m.attachments.len() - 1)
}

const DELETE_ATTACHMENT: &str =
    "mutation($id: ID!) { deleteAttachment(id: $id, reason: \"generated\") {
    id entity entityId cascadeCount actor { id email } restoredBy { id } } }";
const DELETE_ATTACHMENTS: &str =
    "mutation($ids: [ID!]!) { deleteAttachments(ids: $ids, reason: \"generated\") {
    id entity entityId cascadeCount actor { id email } restoredBy { id } } }";

async fn delete_attachments(app: &TestApp, m: &mut Model, v: usize, targets: &[usize]) -> String {
    let (query, field, vars) = if let [one] = targets {
        let vars = json!({ "id": m.attachments[*one].id });
        (DELETE_ATTACHMENT, "deleteAttachment", vars)
    } else {
        let ids: Vec<_> = targets.iter().map(|&a| &m.attachments[a].id).collect();
        (
            DELETE_ATTACHMENTS,
            "deleteAttachments",
            json!({ "ids": ids }),
        )
    };
    let body = post(app, m, &m.users[v].token, query, vars.clone()).await;
    let request = format!("{query} {vars}");
    let mut distinct: Vec<usize> = Vec::new();
    for &a in targets {
        if !distinct.contains(&a) {
            distinct.push(a);
        }
    }
    let refusal = if m.role(v) == Role::Support {
        Some("FORBIDDEN")
    } else if distinct.iter().any(|&a| {
        m.attachments[a].life != Life::Live
            || (m.role(v) != Role::Admin && m.attachments[a].owner != v)
    }) {
        Some("NOT_FOUND")
    } else {
        None
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, field, &request, &body, code);
        return format!("refused {code}");
    }
    let id = body
        .pointer(&format!("/data/{field}/id"))
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{field} failed: {body}\nafter:\n{}", m.log.join("\n")))
        .to_owned();
    let d = m.deletions.len();
    m.deletions.push(MDeletion {
        id: id.clone(),
        entity: Entity::Attachment,
        first: distinct[0],
        attachments: distinct.clone(),
        actor: v,
        restored_by: None,
        purged: false,
    });
    for &a in &distinct {
        m.attachments[a].life = Life::Deleted(d);
    }
    let mut errors = Vec::new();
    let expected = json!({ field: {
        "id": id, "entity": "ATTACHMENT", "entityId": m.attachments[distinct[0]].id,
        "cascadeCount": distinct.len() - 1,
        "actor": { "id": m.users[v].id,
                   "email": m.email(v, v, format!("{field}.actor.email"), &mut errors) },
        "restoredBy": null,
    } });
    expect(m, field, &request, &body, expected, errors);
    format!("deletion {d} of attachments {distinct:?}")
}

const DELETE_USER: &str = "mutation($id: ID!) { deleteUser(id: $id, reason: \"generated\") {
    id entity entityId cascadeCount actor { id email } restoredBy { id } } }";

async fn delete_user(app: &TestApp, m: &mut Model, v: usize, target: usize) -> String {
    let vars = json!({ "id": m.users[target].id });
    let body = post(app, m, &m.users[v].token, DELETE_USER, vars.clone()).await;
    let request = format!("{DELETE_USER} {vars}");
    let refusal = if m.role(v) == Role::Support {
        Some("FORBIDDEN")
    } else if !m.user_live(target) {
        Some("NOT_FOUND")
    } else if v != target && m.role(v) != Role::Admin {
        Some("FORBIDDEN")
    } else {
        None
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, "deleteUser", &request, &body, code);
        return format!("refused {code}");
    }
    let id = body
        .pointer("/data/deleteUser/id")
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("deleteUser failed: {body}\nafter:\n{}", m.log.join("\n")))
        .to_owned();
    let d = m.deletions.len();
    let cascade = m.live_of(target);
    m.deletions.push(MDeletion {
        id: id.clone(),
        entity: Entity::User,
        first: target,
        attachments: cascade.clone(),
        actor: v,
        restored_by: None,
        purged: false,
    });
    m.users[target].life = Life::Deleted(d);
    for &a in &cascade {
        m.attachments[a].life = Life::Deleted(d);
    }
    // The payload is read after the delete: an actor who deleted themself is hidden now.
    let mut errors = Vec::new();
    let actor = if m.user_live(v) {
        json!({ "id": m.users[v].id,
                "email": m.email(v, v, "deleteUser.actor.email".into(), &mut errors) })
    } else {
        Value::Null
    };
    let expected = json!({ "deleteUser": {
        "id": id, "entity": "USER", "entityId": m.users[target].id,
        "cascadeCount": cascade.len(), "actor": actor, "restoredBy": null,
    } });
    expect(m, "deleteUser", &request, &body, expected, errors);
    format!("deletion {d} of user {target} with attachments {cascade:?}")
}

const RESTORE: &str = "mutation($id: ID!) { restore(deletionId: $id, reason: \"generated\") {
    id cascadeCount actor { id } restoredBy { id email } } }";

async fn restore(app: &TestApp, m: &mut Model, v: usize, d: usize) -> String {
    let vars = json!({ "id": m.deletions[d].id });
    let body = post(app, m, &m.users[v].token, RESTORE, vars.clone()).await;
    let request = format!("{RESTORE} {vars}");
    let refusal = if m.knows(v, d) {
        m.restore_refusal(v, d)
    } else {
        Some("NOT_FOUND")
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, "restore", &request, &body, code);
        return format!("refused {code}");
    }
    m.restore_in(v, d);
    let del = &m.deletions[d];
    let cascade = match del.entity {
        Entity::User => del.attachments.len(),
        Entity::Attachment => del.attachments.len() - 1,
    };
    let mut errors = Vec::new();
    let expected = json!({ "restore": {
        "id": del.id, "cascadeCount": cascade,
        "actor": m.user_ref(del.actor, m.user_live(del.actor)),
        "restoredBy": { "id": m.users[v].id,
                        "email": m.email(v, v, "restore.restoredBy.email".into(), &mut errors) },
    } });
    expect(m, "restore", &request, &body, expected, errors);
    format!("restored deletion {d}")
}

const RESTORE_USER: &str = "mutation($id: ID!) { restoreUser(id: $id, reason: \"generated\") {
    id email attachments(first: 50) { totalCount nodes { id } } } }";

async fn restore_user(app: &TestApp, m: &mut Model, v: usize, u: usize) -> String {
    let vars = json!({ "id": m.users[u].id });
    let body = post(app, m, &m.users[v].token, RESTORE_USER, vars.clone()).await;
    let request = format!("{RESTORE_USER} {vars}");
    let refusal = match m.users[u].life {
        Life::Purged => Some("NOT_FOUND"),
        Life::Live => Some("BAD_USER_INPUT"),
        Life::Deleted(d) if !m.knows(v, d) => Some("NOT_FOUND"),
        Life::Deleted(d) => m.restore_refusal(v, d),
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, "restoreUser", &request, &body, code);
        return format!("refused {code}");
    }
    let Life::Deleted(d) = m.users[u].life else {
        unreachable!("only a deleted user is restored")
    };
    m.restore_in(v, d);
    assert!(m.role(v).is_staff(), "only an admin restores a user");
    let mut errors = Vec::new();
    let expected = json!({ "restoreUser": {
        "id": m.users[u].id,
        "email": m.email(v, u, "restoreUser.email".into(), &mut errors),
        "attachments": connection(ids_of(m, &m.live_of(u))),
    } });
    expect(m, "restoreUser", &request, &body, expected, errors);
    format!("restored user {u} (deletion {d})")
}

const RESTORE_ATTACHMENT: &str =
    "mutation($id: ID!) { restoreAttachment(id: $id, reason: \"generated\") {
    id owner { id email attachments(first: 50) { totalCount nodes { id } } } } }";

async fn restore_attachment(app: &TestApp, m: &mut Model, v: usize, a: usize) -> String {
    let vars = json!({ "id": m.attachments[a].id });
    let body = post(app, m, &m.users[v].token, RESTORE_ATTACHMENT, vars.clone()).await;
    let request = format!("{RESTORE_ATTACHMENT} {vars}");
    let refusal = match m.attachments[a].life {
        Life::Purged => Some("NOT_FOUND"),
        Life::Live if m.sees_attachment(v, a) => Some("BAD_USER_INPUT"),
        Life::Live => Some("NOT_FOUND"),
        Life::Deleted(d) if !m.knows(v, d) => Some("NOT_FOUND"),
        Life::Deleted(d) if m.deletions[d].entity == Entity::User => Some("PARENT_DELETED"),
        Life::Deleted(d) => m.restore_refusal(v, d),
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, "restoreAttachment", &request, &body, code);
        return format!("refused {code}");
    }
    let Life::Deleted(d) = m.attachments[a].life else {
        unreachable!("only a deleted attachment is restored")
    };
    m.restore_in(v, d);
    let owner = m.attachments[a].owner;
    let mut errors = Vec::new();
    let expected = json!({ "restoreAttachment": { "id": m.attachments[a].id, "owner": {
        "id": m.users[owner].id,
        "email": m.email(v, owner, "restoreAttachment.owner.email".into(), &mut errors),
        "attachments": connection(ids_of(m, &m.live_of(owner))),
    } } });
    expect(m, "restoreAttachment", &request, &body, expected, errors);
    format!("restored attachment {a} (deletion {d})")
}

const PURGE: &str = "mutation($dry: Boolean!) { purgeDeleted(olderThan: \"0s\", dryRun: $dry) {
    users attachments archived dryRun } }";

async fn purge(app: &TestApp, m: &mut Model, v: usize, dry_run: bool) -> String {
    let vars = json!({ "dry": dry_run });
    let body = post(app, m, &m.users[v].token, PURGE, vars.clone()).await;
    let request = format!("{PURGE} {vars}");
    if m.role(v) != Role::Admin {
        expect_refusal(m, v, "purgeDeleted", &request, &body, "FORBIDDEN");
        return "refused FORBIDDEN".into();
    }
    let users: Vec<usize> = (0..m.users.len()).filter(|&u| m.user_deleted(u)).collect();
    let attachments = m.attachments_where(|a| matches!(a.life, Life::Deleted(_)));
    let archived = if dry_run {
        0
    } else {
        users.len() + attachments.len()
    };
    let expected = json!({ "purgeDeleted": { "users": users.len(),
        "attachments": attachments.len(), "archived": archived, "dryRun": dry_run } });
    if dry_run {
        expect(m, "purgeDeleted", &request, &body, expected, Vec::new());
        return format!("would purge users {users:?}, attachments {attachments:?}");
    }
    for &u in &users {
        m.users[u].life = Life::Purged;
    }
    for &a in &attachments {
        m.attachments[a].life = Life::Purged;
    }
    for del in &mut m.deletions {
        if del.restored_by.is_none() {
            del.purged = true;
        }
    }
    expect(m, "purgeDeleted", &request, &body, expected, Vec::new());
    format!("purged users {users:?}, attachments {attachments:?}")
}

const SET_ROLE: &str =
    "mutation($id: ID!, $role: Role!) { updateUser(id: $id, input: { role: $role }) {
    id role email } }";

async fn set_role(app: &TestApp, m: &mut Model, v: usize, u: usize, role: Role) -> String {
    let vars = json!({ "id": m.users[u].id, "role": role.name() });
    let body = post(app, m, &m.users[v].token, SET_ROLE, vars.clone()).await;
    let request = format!("{SET_ROLE} {vars}");
    let refusal = if m.role(v) != Role::Admin {
        Some("FORBIDDEN")
    } else if !m.user_live(u) {
        Some("NOT_FOUND")
    } else {
        None
    };
    if let Some(code) = refusal {
        expect_refusal(m, v, "updateUser", &request, &body, code);
        return format!("refused {code}");
    }
    m.users[u].role = role;
    let mut errors = Vec::new();
    let expected = json!({ "updateUser": { "id": m.users[u].id, "role": role.name(),
        "email": m.email(v, u, "updateUser.email".into(), &mut errors) } });
    expect(m, "updateUser", &request, &body, expected, errors);
    format!("user {u} is {role:?} now")
}

async fn apply(app: &TestApp, m: &mut Model, op: &Op) -> String {
    match *op {
        Op::CreateAttachment { who, owner } => {
            if m.attachments.len() >= MAX_ATTACHMENTS {
                return format!("{SKIPPED} (enough attachments)");
            }
            let v = actor(m, who);
            let owner = owner.map_or(v, |n| n as usize % m.users.len());
            let done = create_attachment(app, m, v, owner).await;
            format!("by {v}: {done}")
        }
        Op::DeleteAttachment { who, target } => {
            let v = actor(m, who);
            let likely = deletable_attachments(m, v);
            let Some(a) = choose(target, likely, m.attachments.len()) else {
                return format!("{SKIPPED} (no attachments)");
            };
            let done = delete_attachments(app, m, v, &[a]).await;
            format!("by {v} of {a}: {done}")
        }
        Op::DeleteAttachments {
            who,
            targets: (first, second),
        } => {
            let v = actor(m, who);
            let likely = deletable_attachments(m, v);
            let (Some(a), Some(b)) = (
                choose(first, likely.clone(), m.attachments.len()),
                choose(second, likely, m.attachments.len()),
            ) else {
                return format!("{SKIPPED} (no attachments)");
            };
            let done = delete_attachments(app, m, v, &[a, b]).await;
            format!("by {v} of {a}, {b}: {done}")
        }
        Op::DeleteUser { who, target } => {
            let v = actor(m, who);
            let u = match target {
                None => v,
                Some(pick) => {
                    // Never the first admin: the property needs one admin throughout.
                    let others: Vec<usize> = (1..m.users.len()).collect();
                    let live: Vec<usize> =
                        others.iter().copied().filter(|&u| m.user_live(u)).collect();
                    if pick.likely && !live.is_empty() {
                        live[pick.index as usize % live.len()]
                    } else {
                        others[pick.index as usize % others.len()]
                    }
                }
            };
            if u == 0 {
                return format!("{SKIPPED} (the first admin stays)");
            }
            let done = delete_user(app, m, v, u).await;
            format!("by {v} of {u}: {done}")
        }
        Op::Restore { who, deletion } => {
            let v = actor(m, who);
            let likely: Vec<usize> = (0..m.deletions.len())
                .filter(|&d| m.deletions[d].in_force() && m.knows(v, d))
                .collect();
            let Some(d) = choose_strictly(deletion, likely, m.deletions.len()) else {
                return format!("{SKIPPED} (no deletions)");
            };
            let done = restore(app, m, v, d).await;
            format!("by {v} of deletion {d}: {done}")
        }
        Op::RestoreUser { who, target } => {
            let v = actor(m, who);
            let likely: Vec<usize> = (0..m.users.len()).filter(|&u| m.user_deleted(u)).collect();
            let Some(u) = choose_strictly(target, likely, m.users.len()) else {
                return format!("{SKIPPED} (no deleted users)");
            };
            let done = restore_user(app, m, v, u).await;
            format!("by {v} of user {u}: {done}")
        }
        Op::RestoreAttachment { who, target } => {
            let v = actor(m, who);
            let staff = m.role(v).is_staff();
            let likely = m.attachments_where(|a| {
                matches!(a.life, Life::Deleted(_)) && (staff || a.owner == v)
            });
            let Some(a) = choose_strictly(target, likely, m.attachments.len()) else {
                return format!("{SKIPPED} (no attachments)");
            };
            let done = restore_attachment(app, m, v, a).await;
            format!("by {v} of attachment {a}: {done}")
        }
        Op::Purge { who, dry_run } => {
            let v = actor(m, who);
            let done = purge(app, m, v, dry_run).await;
            format!("by {v}: {done}")
        }
        Op::SetRole { who, target, role } => {
            let v = actor(m, who);
            let u = 1 + target as usize % (m.users.len() - 1);
            let done = set_role(app, m, v, u, role).await;
            format!("by {v} of {u}: {done}")
        }
        Op::AddUser { role, reuse_email } => {
            if m.users.len() >= MAX_USERS {
                return format!("{SKIPPED} (enough users)");
            }
            // A deleted user's email is free again; restoring that user then conflicts.
            let free: Vec<String> = (0..m.users.len())
                .filter(|&u| m.user_deleted(u))
                .map(|u| m.users[u].email.clone())
                .filter(|e| !m.live_users().iter().any(|&l| &m.users[l].email == e))
                .collect();
            let email = reuse_email
                .filter(|_| !free.is_empty())
                .map(|n| free[n as usize % free.len()].clone());
            let u = add_user(app, m, role, email).await;
            format!("user {u} ({})", m.users[u].email)
        }
    }
}

/// The attachments `v` could delete: any live one for an admin, else their own live ones.
fn deletable_attachments(m: &Model, v: usize) -> Vec<usize> {
    let admin = m.role(v) == Role::Admin;
    m.attachments_where(|a| a.life == Life::Live && (admin || a.owner == v))
}

// ---------------------------------------------------------------------------------------
// The checks: every read path, as every user.

/// A few aliased query fields and exactly what they must answer.
#[derive(Default)]
struct Probe {
    fields: String,
    data: Vec<(String, Value)>,
    errors: Errors,
    /// Whether a non-null root field fails here, so that `data` is null as a whole.
    nulls_data: bool,
}

/// Probes sent together, as few requests as the server's cost budget allows: a request it
/// refuses as too costly is split in two and sent again.
#[derive(Default)]
struct Probes(Vec<Probe>);

impl Probes {
    fn add(&mut self, fields: String) -> &mut Probe {
        self.0.push(Probe {
            fields,
            ..Probe::default()
        });
        self.0.last_mut().unwrap()
    }

    /// Sends the probes as `v` and asserts the exact answers (and, for a member, that they
    /// name none of their secrets).
    async fn check(self, app: &TestApp, m: &Model, v: usize, what: &str) {
        let what = format!("{what} as user {v} ({:?})", m.role(v));
        let mut pending = vec![&self.0[..]];
        pending.retain(|probes| !probes.is_empty());
        while let Some(probes) = pending.pop() {
            let fields: Vec<&str> = probes.iter().map(|p| p.fields.as_str()).collect();
            let query = format!("{{ {} }}", fields.join("\n"));
            let body = app
                .graphql(Some(&m.users[v].token), &query, json!({}))
                .await;
            let refused = errors_of(&body) == [(String::new(), "GRAPHQL_VALIDATION_FAILED".into())];
            if refused && probes.len() > 1 {
                if std::env::var("TEST_LOG").is_ok() {
                    eprintln!("{} probes cost too much at once: split", probes.len());
                }
                let (first, second) = probes.split_at(probes.len() / 2);
                pending.extend([first, second]);
                continue;
            }
            assert_known_codes(m, &query, &body);
            let data = if probes.iter().any(|p| p.nulls_data) {
                Value::Null
            } else {
                let entries = probes.iter().flat_map(|p| p.data.iter().cloned());
                Value::Object(entries.collect())
            };
            let errors = probes
                .iter()
                .flat_map(|p| p.errors.iter().cloned())
                .collect();
            expect(m, &what, &query, &body, data, errors);
            if !m.role(v).is_staff() {
                // Every id is in the query, so only the data and error words are scanned.
                assert_no_secret(m, v, &what, "", &body);
            }
        }
    }
}

/// Checks every read path as every user. Reads change nothing, so two users are checked at
/// a time. Support and admins read alike (see the roles table in the README): each reads the lists every step, while the
/// probes of every id run for the first admin and, in turn, one other staff user.
async fn check_everyone(app: &TestApp, m: &Model) {
    let staff: Vec<usize> = (1..m.users.len())
        .filter(|&v| m.user_live(v) && m.role(v).is_staff())
        .collect();
    let probing = staff.get(m.log.len() % staff.len().max(1)).copied();
    let check = |v: usize| async move {
        if !m.user_live(v) {
            return check_signed_out(app, m, v).await;
        }
        let by_id = !m.role(v).is_staff() || v == 0 || Some(v) == probing;
        let mut probes = Probes::default();
        live_reads(m, v, &mut probes);
        if by_id {
            reads_by_id(m, v, &mut probes);
        }
        probes.check(app, m, v, "live reads").await;
        let mut probes = Probes::default();
        match m.role(v) {
            Role::Member => refused_to_members(m, v, &mut probes),
            Role::Support if by_id => {
                let probe = probes.add("archivedRecords(first: 100) { totalCount }".into());
                probe
                    .errors
                    .push(("archivedRecords".into(), "FORBIDDEN".into()));
                probe.nulls_data = true;
            }
            _ => {}
        }
        probes.check(app, m, v, "refused reads").await;
        if m.role(v).is_staff() {
            let mut probes = Probes::default();
            staff_lists(m, v, &mut probes);
            if by_id {
                staff_reads_by_id(m, &mut probes);
            }
            probes.check(app, m, v, "reads of deleted rows").await;
        }
    };
    let half = |parity: usize| async move {
        for v in (0..m.users.len()).filter(|v| v % 2 == parity) {
            check(v).await;
        }
    };
    tokio::join!(half(0), half(1));
}

/// A deleted (or purged) user's token signs nobody in, and shows nothing.
async fn check_signed_out(app: &TestApp, m: &Model, v: usize) {
    const QUERY: &str = "{ me { id } users(first: 20) { totalCount nodes { id } } }";
    let body = post(app, m, &m.users[v].token, QUERY, json!({})).await;
    let codes: Vec<String> = errors_of(&body).into_iter().map(|(_, c)| c).collect();
    let mut shown = Vec::new();
    strings(&body["data"], &mut shown);
    assert!(
        !codes.is_empty() && codes.iter().all(|c| c == "UNAUTHENTICATED") && shown.is_empty(),
        "user {v} is gone, yet their token got: {body}\nafter:\n{}",
        m.log.join("\n")
    );
}

/// The default (live) lists and `me`, as anyone.
fn live_reads(m: &Model, v: usize, probes: &mut Probes) {
    let p = probes.add(format!(
        "users(first: 20) {{ totalCount nodes {{ id email }} }}
         attachments(first: 50) {{ totalCount nodes {{ id owner {{ id }} }} edges {{ node {{ id }} }} }}
         me {{ id email attachments(first: 50) {{ totalCount nodes {{ id }} }} }}
         mine: attachments(first: 50, ownerId: \"{}\") {{ totalCount nodes {{ id }} }}",
        m.users[v].id
    ));
    let users: Vec<Value> = m
        .live_users()
        .into_iter()
        .enumerate()
        .map(|(i, u)| {
            let path = format!("users.nodes.{i}.email");
            json!({ "id": m.users[u].id, "email": m.email(v, u, path, &mut p.errors) })
        })
        .collect();
    let visible: Vec<usize> = (0..m.attachments.len())
        .filter(|&a| m.sees_attachment(v, a))
        .collect();
    let nodes: Vec<Value> = visible
        .iter()
        .map(|&a| {
            let owner = m.attachments[a].owner;
            json!({ "id": m.attachments[a].id, "owner": { "id": m.users[owner].id } })
        })
        .collect();
    let edges: Vec<Value> = ids_of(m, &visible)
        .into_iter()
        .map(|node| json!({ "node": node }))
        .collect();
    let own = connection(ids_of(m, &m.live_of(v)));
    p.data = vec![
        ("users".into(), connection(users)),
        (
            "attachments".into(),
            json!({ "totalCount": nodes.len(), "nodes": nodes, "edges": edges }),
        ),
        (
            "me".into(),
            json!({ "id": m.users[v].id, "email": m.users[v].email, "attachments": own }),
        ),
        ("mine".into(), own),
    ];
}

/// `user`, `node`, `user { attachments }`, `attachments(ownerId)` and `attachment { owner }`
/// for every id ever made, as anyone, without flags.
fn reads_by_id(m: &Model, v: usize, probes: &mut Probes) {
    let staff = m.role(v).is_staff();
    for (i, user) in m.users.iter().enumerate() {
        let id = &user.id;
        // A member listing someone else's attachments is FORBIDDEN: asked among the refusals.
        let owned = if staff {
            format!(
                "o{i}: attachments(first: 50, ownerId: \"{id}\") {{ totalCount nodes {{ id }} }}"
            )
        } else {
            String::new()
        };
        let p = probes.add(format!(
            "u{i}: user(id: \"{id}\") {{ id email }}
             n{i}: node(id: \"{id}\") {{ id ... on User {{ email }} }}
             ua{i}: user(id: \"{id}\") {{ id attachments(first: 50) {{ totalCount nodes {{ id }} }} }}
             {owned}"
        ));
        if m.user_live(i) {
            let u =
                json!({ "id": id, "email": m.email(v, i, format!("u{i}.email"), &mut p.errors) });
            let n =
                json!({ "id": id, "email": m.email(v, i, format!("n{i}.email"), &mut p.errors) });
            let ua = if v == i || staff {
                json!({ "id": id, "attachments": connection(ids_of(m, &m.live_of(i))) })
            } else {
                p.errors
                    .push((format!("ua{i}.attachments"), "FORBIDDEN".into()));
                Value::Null
            };
            p.data = vec![
                (format!("u{i}"), u),
                (format!("n{i}"), n),
                (format!("ua{i}"), ua),
            ];
        } else {
            p.data = ["u", "n", "ua"]
                .iter()
                .map(|k| (format!("{k}{i}"), Value::Null))
                .collect();
        }
        if staff {
            p.data
                .push((format!("o{i}"), connection(ids_of(m, &m.live_of(i)))));
        }
    }
    for (j, att) in m.attachments.iter().enumerate() {
        let id = &att.id;
        let p = probes.add(format!(
            "a{j}: attachment(id: \"{id}\") {{ id owner {{ id }} }}
             m{j}: node(id: \"{id}\") {{ id ... on Attachment {{ owner {{ id }} }} }}"
        ));
        let seen = if m.sees_attachment(v, j) {
            json!({ "id": id, "owner": { "id": m.users[att.owner].id } })
        } else {
            Value::Null
        };
        p.data = vec![(format!("a{j}"), seen.clone()), (format!("m{j}"), seen)];
    }
    // A deletion is a node for those who may read the log, and null to a member, like an
    // id that never existed.
    for (k, del) in m.deletions.iter().enumerate() {
        let p = probes.add(format!("nd{k}: node(id: \"{}\") {{ id }}", del.id));
        let seen = if m.role(v).is_staff() {
            json!({ "id": del.id })
        } else {
            Value::Null
        };
        p.data = vec![(format!("nd{k}"), seen)];
    }
}

/// Support and admins: the lists with and without the flags, the scopes they carry down
/// (and a child's own flags under a live parent), the deletion log, and for admins the
/// archive of purged rows.
fn staff_lists(m: &Model, v: usize, probes: &mut Probes) {
    let hiding = |life: Life| match life {
        Life::Deleted(d) => json!({ "id": m.deletions[d].id }),
        _ => Value::Null,
    };
    let p = probes.add(
        "live: users(first: 20) { totalCount nodes { id
            plain: attachments(first: 50) { totalCount nodes { id } }
            wide: attachments(first: 50, includeDeleted: true) { totalCount nodes { id deletedAt } }
            gone: attachments(first: 50, onlyDeleted: true) { totalCount nodes { id deletion { id } } } } }
         all: users(first: 20, includeDeleted: true) { totalCount nodes { id deletedAt
            attachments(first: 50) { totalCount nodes { id owner { id } } } } }
         gone: users(first: 20, onlyDeleted: true) { totalCount nodes { id
            attachments(first: 50) { totalCount nodes { id } }
            narrow: attachments(first: 50, includeDeleted: false) { totalCount nodes { id } } } }"
            .into(),
    );
    let live: Vec<Value> = m
        .live_users()
        .into_iter()
        .map(|u| {
            let wide: Vec<Value> = m
                .existing_of(u)
                .into_iter()
                .map(|a| {
                    let att = &m.attachments[a];
                    json!({ "id": att.id, "deletedAt": deleted_at(att.life) })
                })
                .collect();
            let gone: Vec<Value> = m
                .deleted_of(u)
                .into_iter()
                .map(|a| {
                    let att = &m.attachments[a];
                    json!({ "id": att.id, "deletion": hiding(att.life) })
                })
                .collect();
            json!({ "id": m.users[u].id,
                    "plain": connection(ids_of(m, &m.live_of(u))),
                    "wide": connection(wide), "gone": connection(gone) })
        })
        .collect();
    let all: Vec<Value> = (0..m.users.len())
        .filter(|&u| m.user_exists(u))
        .map(|u| {
            let attachments: Vec<Value> = m
                .existing_of(u)
                .into_iter()
                .map(|a| json!({ "id": m.attachments[a].id, "owner": { "id": m.users[u].id } }))
                .collect();
            json!({ "id": m.users[u].id, "deletedAt": deleted_at(m.users[u].life),
                    "attachments": connection(attachments) })
        })
        .collect();
    let gone: Vec<Value> = (0..m.users.len())
        .filter(|&u| m.user_deleted(u))
        .map(|u| {
            json!({ "id": m.users[u].id,
                    "attachments": connection(ids_of(m, &m.deleted_of(u))),
                    "narrow": connection(ids_of(m, &m.live_of(u))) })
        })
        .collect();
    p.data = vec![
        ("live".into(), connection(live)),
        ("all".into(), connection(all)),
        ("gone".into(), connection(gone)),
    ];

    let p = probes.add(
        "allAttachments: attachments(first: 50, includeDeleted: true) { totalCount nodes {
            id deletedAt owner { id deletedAt } } edges { node { id } } }
         goneAttachments: attachments(first: 50, onlyDeleted: true) { totalCount nodes {
            id owner { id } } }
         deletions(first: 100) { totalCount nodes { id actor { id } restoredBy { id }
            wideActor: actor(includeDeleted: true) { id }
            wideRestorer: restoredBy(includeDeleted: true) { id } } }"
            .into(),
    );
    let existing = m.attachments_where(|a| a.life != Life::Purged);
    let all: Vec<Value> = existing
        .iter()
        .map(|&a| {
            let att = &m.attachments[a];
            let owner = &m.users[att.owner];
            json!({ "id": att.id, "deletedAt": deleted_at(att.life),
                    "owner": { "id": owner.id, "deletedAt": deleted_at(owner.life) } })
        })
        .collect();
    let edges: Vec<Value> = ids_of(m, &existing)
        .into_iter()
        .map(|node| json!({ "node": node }))
        .collect();
    // `onlyDeleted` carries down to the owner: shown when deleted, else null.
    let gone: Vec<Value> = m
        .attachments_where(|a| matches!(a.life, Life::Deleted(_)))
        .into_iter()
        .map(|a| {
            let att = &m.attachments[a];
            json!({ "id": att.id, "owner": m.user_ref(att.owner, m.user_deleted(att.owner)) })
        })
        .collect();
    let log: Vec<Value> = m
        .deletions
        .iter()
        .rev()
        .map(|del| {
            let restorer = |visible: fn(&Model, usize) -> bool| {
                del.restored_by
                    .map_or(Value::Null, |r| m.user_ref(r, visible(m, r)))
            };
            json!({ "id": del.id,
                    "actor": m.user_ref(del.actor, m.user_live(del.actor)),
                    "restoredBy": restorer(Model::user_live),
                    "wideActor": m.user_ref(del.actor, m.user_exists(del.actor)),
                    "wideRestorer": restorer(Model::user_exists) })
        })
        .collect();
    p.data = vec![
        (
            "allAttachments".into(),
            json!({ "totalCount": all.len(), "nodes": all, "edges": edges }),
        ),
        ("goneAttachments".into(), connection(gone)),
        ("deletions".into(), connection(log)),
    ];

    if m.role(v) == Role::Admin {
        let p = probes.add("archivedRecords(first: 100) { totalCount }".into());
        let purged = m.users.iter().filter(|u| u.life == Life::Purged).count()
            + m.attachments_where(|a| a.life == Life::Purged).len();
        p.data = vec![("archivedRecords".into(), json!({ "totalCount": purged }))];
    }
}

/// Support and admins: every id with `includeDeleted`, the deletion that hid it with its
/// actor (deleted or not: the scope carries down), and every deletion by id.
fn staff_reads_by_id(m: &Model, probes: &mut Probes) {
    let hiding = |life: Life| match life {
        Life::Deleted(d) => {
            let del = &m.deletions[d];
            json!({ "id": del.id, "actor": m.user_ref(del.actor, m.user_exists(del.actor)) })
        }
        _ => Value::Null,
    };
    for (i, user) in m.users.iter().enumerate() {
        let id = &user.id;
        let p = probes.add(format!(
            "wu{i}: user(id: \"{id}\", includeDeleted: true) {{ id deletedAt
                deletion {{ id actor {{ id }} }} attachments(first: 50) {{ totalCount nodes {{ id }} }} }}
             wo{i}: attachments(first: 50, ownerId: \"{id}\", onlyDeleted: true) {{ totalCount nodes {{ id }} }}"
        ));
        let found = if m.user_exists(i) {
            json!({ "id": id, "deletedAt": deleted_at(user.life),
                    "deletion": hiding(user.life),
                    "attachments": connection(ids_of(m, &m.existing_of(i))) })
        } else {
            Value::Null
        };
        p.data = vec![
            (format!("wu{i}"), found),
            (format!("wo{i}"), connection(ids_of(m, &m.deleted_of(i)))),
        ];
    }
    for (j, att) in m.attachments.iter().enumerate() {
        let p = probes.add(format!(
            "wa{j}: attachment(id: \"{}\", includeDeleted: true) {{ id deletedAt
                owner {{ id deletedAt }} deletion {{ id actor {{ id }} }} }}",
            att.id
        ));
        let found = if att.life != Life::Purged {
            let owner = &m.users[att.owner];
            json!({ "id": att.id, "deletedAt": deleted_at(att.life),
                    "owner": { "id": owner.id, "deletedAt": deleted_at(owner.life) },
                    "deletion": hiding(att.life) })
        } else {
            Value::Null
        };
        p.data = vec![(format!("wa{j}"), found)];
    }
    for (k, del) in m.deletions.iter().enumerate() {
        let p = probes.add(format!(
            "dl{k}: deletion(id: \"{}\") {{ id actor {{ id }} restoredBy {{ id }} }}",
            del.id
        ));
        let restorer = del
            .restored_by
            .map_or(Value::Null, |r| m.user_ref(r, m.user_live(r)));
        p.data = vec![(
            format!("dl{k}"),
            json!({ "id": del.id, "actor": m.user_ref(del.actor, m.user_live(del.actor)),
                    "restoredBy": restorer }),
        )];
    }
}

/// What a member may not ask, each way: deleted rows (`FORBIDDEN`, never a silent ignore),
/// others' attachments, the log and the archive. Nothing may leak beside the errors.
fn refused_to_members(m: &Model, v: usize, probes: &mut Probes) {
    let p = probes.add(
        "f1: users(first: 20, includeDeleted: true) { totalCount nodes { id email } }
         f2: users(first: 20, onlyDeleted: true) { totalCount nodes { id } }
         f3: attachments(first: 50, includeDeleted: true) { totalCount nodes { id } }
         f4: attachments(first: 50, onlyDeleted: true) { totalCount nodes { id } }
         f5: me { id attachments(first: 50, includeDeleted: true) { totalCount nodes { id } } }
         f6: deletions(first: 100) { totalCount nodes { id actor { id } } }
         f7: archivedRecords(first: 100) { totalCount }"
            .into(),
    );
    p.errors = ["f1", "f2", "f3", "f4", "f5.attachments", "f6", "f7"]
        .iter()
        .map(|f| ((*f).to_owned(), "FORBIDDEN".to_owned()))
        .collect();
    p.nulls_data = true;
    // Everyone's attachments through the user list: FORBIDDEN for each other live user.
    let p = probes.add(
        "fu: users(first: 20) { totalCount nodes { id email attachments(first: 50) {
            totalCount nodes { id } } } }"
            .into(),
    );
    for (i, u) in m.live_users().into_iter().enumerate() {
        if u != v {
            p.errors
                .push((format!("fu.nodes.{i}.email"), "FORBIDDEN".into()));
            p.errors
                .push((format!("fu.nodes.{i}.attachments"), "FORBIDDEN".into()));
        }
    }
    p.nulls_data = true;
    for (i, user) in m.users.iter().enumerate() {
        let id = &user.id;
        let mut fields = format!("w{i}: user(id: \"{id}\", includeDeleted: true) {{ id }}");
        let mut errors = vec![(format!("w{i}"), "FORBIDDEN".to_owned())];
        if i != v {
            write!(
                fields,
                " o{i}: attachments(first: 50, ownerId: \"{id}\") {{ totalCount nodes {{ id }} }}"
            )
            .unwrap();
            errors.push((format!("o{i}"), "FORBIDDEN".into()));
        }
        let p = probes.add(fields);
        p.errors = errors;
        p.nulls_data = true;
    }
    for (j, att) in m.attachments.iter().enumerate() {
        let p = probes.add(format!(
            "x{j}: attachment(id: \"{}\", includeDeleted: true) {{ id }}",
            att.id
        ));
        p.errors = vec![(format!("x{j}"), "FORBIDDEN".into())];
    }
    for (k, del) in m.deletions.iter().enumerate() {
        let p = probes.add(format!("dl{k}: deletion(id: \"{}\") {{ id }}", del.id));
        p.errors = vec![(format!("dl{k}"), "FORBIDDEN".into())];
    }
}
