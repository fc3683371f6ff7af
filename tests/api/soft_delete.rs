//! Soft delete that cannot be forgotten: deleted rows are hidden from every field that can
//! reach them, shown only to support and admins who ask; deletes record who, when and why.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, TestUser, assert_error, assert_ok, data, error_codes, id_of, on_both_backends,
};

on_both_backends!(
    deleted_rows_are_hidden_everywhere_unless_staff_ask,
    deletes_follow_the_role_table,
    a_deleted_user_is_gone_for_auth_and_frees_their_email,
    the_deletion_log_answers_who_when_and_why,
    asking_for_deleted_rows_is_checked,
);

/// What a probe is aimed at.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// Ada: a member deleted by the admin, with her two attachments (cascaded).
    DeletedUser,
    /// One of Ada's attachments, hidden by her deletion's cascade.
    CascadedAttachment,
    /// Alan's attachment, deleted by Alan himself.
    DeletedAttachment,
    /// Bob: deleted after he deleted his own attachment; reachable as a deletion's actor.
    DeletedActor,
    /// Ed: an admin who restored a deletion and was deleted afterwards.
    DeletedRestorer,
}

/// One way of reaching a row. `$wide` is passed as `includeDeleted` (or `onlyDeleted`).
struct Probe {
    /// The schema field this probe proves, as `Type.field`.
    field: &'static str,
    query: &'static str,
    targets: &'static [Target],
    /// Whether a member may run this query at all (else it must be FORBIDDEN for them).
    members_may_run: bool,
    /// Whether the query takes `$wide`.
    has_wide: bool,
    /// Whether it lists only the viewer's own doings (their recent deletions): then only the
    /// viewer who did it, the admin, sees the target with the flag; the others must not.
    only_own: bool,
}

/// Every field that can reach a user or an attachment. The schema walk below fails when a
/// field that can is missing here: add a probe for it.
const PROBES: &[Probe] = &[
    Probe {
        field: "Query.user",
        query: "query($id: ID!, $wide: Boolean!) { user(id: $id, includeDeleted: $wide) { id } }",
        targets: &[Target::DeletedUser, Target::DeletedActor],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.users",
        query: "query($wide: Boolean!) { users(first: 100, includeDeleted: $wide) { nodes { id } edges { node { id } } } }",
        targets: &[
            Target::DeletedUser,
            Target::DeletedActor,
            Target::DeletedRestorer,
        ],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.users",
        query: "query($wide: Boolean!) { users(first: 100, onlyDeleted: $wide) { nodes { id } } }",
        targets: &[Target::DeletedUser, Target::DeletedActor],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.attachment",
        query: "query($id: ID!, $wide: Boolean!) { attachment(id: $id, includeDeleted: $wide) { id } }",
        targets: &[Target::DeletedAttachment, Target::CascadedAttachment],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.attachments",
        query: "query($wide: Boolean!) { attachments(first: 100, includeDeleted: $wide) { nodes { id } edges { node { id } } } }",
        targets: &[Target::DeletedAttachment, Target::CascadedAttachment],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.node",
        query: "query($id: ID!) { node(id: $id) { id } }",
        targets: &[
            Target::DeletedUser,
            Target::DeletedAttachment,
            Target::CascadedAttachment,
        ],
        members_may_run: true,
        has_wide: false,
        only_own: false,
    },
    Probe {
        field: "Query.nodes",
        query: "query($id: ID!, $alan: ID!) { nodes(ids: [$alan, $id, $id]) { id } }",
        targets: &[
            Target::DeletedUser,
            Target::DeletedAttachment,
            Target::CascadedAttachment,
        ],
        members_may_run: true,
        has_wide: false,
        only_own: false,
    },
    Probe {
        field: "Query.me",
        query: "{ me { id attachments { nodes { id } } } }",
        targets: &[Target::DeletedAttachment],
        members_may_run: true,
        has_wide: false,
        only_own: false,
    },
    Probe {
        field: "User.attachments",
        query: "query($alan: ID!, $wide: Boolean!) { user(id: $alan) { attachments(includeDeleted: $wide) { nodes { id } } } }",
        targets: &[Target::DeletedAttachment],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "User.attachments",
        query: "query($wide: Boolean!) { users(first: 100, includeDeleted: $wide) { nodes { attachments { nodes { id } } } } }",
        targets: &[Target::CascadedAttachment],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Attachment.owner",
        query: "query($wide: Boolean!) { attachments(first: 100, includeDeleted: $wide) { nodes { owner { id } } } }",
        targets: &[Target::DeletedUser],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.deletions",
        query: "query($wide: Boolean!) { deletions(first: 100) { nodes { actor(includeDeleted: $wide) { id } } } }",
        targets: &[Target::DeletedActor],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Deletion.actor",
        query: "query($d: ID!, $wide: Boolean!) { deletion(id: $d) { actor(includeDeleted: $wide) { id } } }",
        targets: &[Target::DeletedActor],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.deletion",
        query: "query($d: ID!, $wide: Boolean!) { deletion(id: $d) { actor(includeDeleted: $wide) { id } restoredBy(includeDeleted: $wide) { id } } }",
        targets: &[Target::DeletedActor],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Deletion.restoredBy",
        query: "query($wide: Boolean!) { deletions(first: 100) { nodes { restoredBy(includeDeleted: $wide) { id } } } }",
        targets: &[Target::DeletedRestorer],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Deletion.user",
        query: "query($wide: Boolean!) { deletions(first: 100) { nodes { user(includeDeleted: $wide) { id attachments { nodes { id } } } } } }",
        targets: &[
            Target::DeletedUser,
            Target::CascadedAttachment,
            Target::DeletedActor,
        ],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Deletion.attachments",
        query: "query($wide: Boolean!) { deletions(first: 100) { nodes { attachments(includeDeleted: $wide) { nodes { id owner { id } } } } } }",
        targets: &[
            Target::CascadedAttachment,
            Target::DeletedAttachment,
            Target::DeletedUser,
        ],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Attachment.deletion",
        query: "query($b1: ID!, $wide: Boolean!) { attachment(id: $b1, includeDeleted: $wide) { deletion { actor { id } } } }",
        targets: &[Target::DeletedActor],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "User.deletion",
        query: "query($id: ID!, $wide: Boolean!) { user(id: $id, includeDeleted: $wide) { deletion { entityId actor { id } } } }",
        targets: &[Target::DeletedActor],
        members_may_run: true,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "Query.recentDeletions",
        query: "query($wide: Boolean!) { recentDeletions(first: 100) { actor(includeDeleted: $wide) { id } user(includeDeleted: $wide) { id attachments { nodes { id } } } attachments(includeDeleted: $wide) { nodes { id owner { id } } } } }",
        targets: &[Target::DeletedUser, Target::CascadedAttachment],
        members_may_run: true,
        has_wide: true,
        only_own: true,
    },
    Probe {
        field: "LegalHold.placedBy",
        query: "query($wide: Boolean!) { users(first: 100) { nodes { legalHold { placedBy(includeDeleted: $wide) { id } } } } }",
        targets: &[Target::DeletedRestorer],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
    Probe {
        field: "LegalHold.releasedBy",
        query: "query($wide: Boolean!) { users(first: 100) { nodes { legalHolds { placedBy(includeDeleted: $wide) { id } releasedBy(includeDeleted: $wide) { id } } } } }",
        targets: &[Target::DeletedRestorer],
        members_may_run: false,
        has_wide: true,
        only_own: false,
    },
];

/// The world the probes run in.
struct World {
    app: TestApp,
    alan: TestUser,
    grace: TestUser,
    ada: TestUser,
    ids: Vec<(Target, String)>,
    /// Bob's deletion of his own attachment (his the actor).
    bob_deletion: String,
    bob_attachment: String,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let alan = app.member("alan@example.com").await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let ed = app.user("ed@example.com", "ADMIN").await;
    app.attachment(&alan, "alan-live.txt").await;
    let alan_gone = app.attachment(&alan, "alan-gone.txt").await;
    let ada_1 = app.attachment(&ada, "ada-1.txt").await;
    app.attachment(&ada, "ada-2.txt").await;
    let bob_attachment = app.attachment(&bob, "bob.txt").await;
    let alan_restored = app.attachment(&alan, "alan-restored.txt").await;

    let bob_deletion = id_of(
        &app.by(&bob)
            .delete_attachment(&bob_attachment, Some("test"))
            .await,
    );
    // Ed restores something, so he is a deletion's restorer; then Ed is deleted.
    let undone = app
        .by(&alan)
        .delete_attachment(&alan_restored, Some("test"))
        .await;
    app.by(&ed).restore(&id_of(&undone), None).await;
    // Ed places a legal hold on Alan, releases it and places another: he is a hold's placer
    // and another's releaser.
    for mutation in ["placeLegalHold", "releaseLegalHold", "placeLegalHold"] {
        let body = app
            .by(&ed)
            .send(
                &format!(
                    "mutation($u: ID!) {{ {mutation}(userId: $u, reason: \"test\") {{ id }} }}"
                ),
                json!({ "u": alan.id }),
            )
            .await;
        assert_ok(&body);
    }
    app.admin().delete_user(&ed.id, Some("test")).await;
    app.admin().delete_user(&bob.id, Some("test")).await;
    let ada_deletion = app.admin().delete_user(&ada.id, Some("test")).await;
    assert_eq!(
        ada_deletion["cascadeCount"], 2,
        "Ada's two attachments cascade"
    );
    app.by(&alan)
        .delete_attachment(&alan_gone, Some("test"))
        .await;

    World {
        ids: vec![
            (Target::DeletedUser, ada.id.clone()),
            (Target::CascadedAttachment, ada_1),
            (Target::DeletedAttachment, alan_gone),
            (Target::DeletedActor, bob.id.clone()),
            (Target::DeletedRestorer, ed.id.clone()),
        ],
        app,
        alan,
        grace,
        ada,
        bob_deletion,
        bob_attachment,
    }
}

impl World {
    fn id(&self, target: Target) -> &str {
        &self.ids.iter().find(|(t, _)| *t == target).unwrap().1
    }

    fn variables(&self, probe: &Probe, target: Target, wide: bool) -> Value {
        let mut vars = json!({
            "id": self.id(target),
            "alan": self.alan.id,
            "d": self.bob_deletion,
            "b1": self.bob_attachment,
        });
        if probe.has_wide {
            vars["wide"] = json!(wide);
        }
        vars
    }
}

/// Whether `id` appears anywhere in `value`.
fn mentions(value: &Value, id: &str) -> bool {
    match value {
        Value::String(s) => s == id,
        Value::Array(items) => items.iter().any(|v| mentions(v, id)),
        Value::Object(map) => map.values().any(|v| mentions(v, id)),
        _ => false,
    }
}

async fn deleted_rows_are_hidden_everywhere_unless_staff_ask(backend: Backend) {
    let w = world(backend).await;
    // The invariant live reads rest on: no live attachment under a deleted owner.
    let body = w
        .app
        .as_admin(
            "{ attachments(first: 100, includeDeleted: true) { nodes { deletedAt owner { deletedAt } } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    for node in data(&body)["attachments"]["nodes"].as_array().unwrap() {
        if !node["owner"]["deletedAt"].is_null() {
            assert!(
                !node["deletedAt"].is_null(),
                "a live attachment under a deleted owner: {body}"
            );
        }
    }
    let viewers = [
        ("member", w.alan.token.as_str(), false),
        ("support", w.grace.token.as_str(), true),
        ("admin", w.app.admin_token.as_str(), true),
    ];
    let mut proved = 0;
    for probe in PROBES {
        for &target in probe.targets {
            let target_id = w.id(target);
            for (who, token, staff) in viewers {
                let context = format!("{} as {who} for {target:?}", probe.field);
                // Without the flag: gone for everyone.
                let body = w
                    .app
                    .graphql(Some(token), probe.query, w.variables(probe, target, false))
                    .await;
                if !staff && !probe.members_may_run {
                    assert!(
                        error_codes(&body).contains(&"FORBIDDEN".to_owned()),
                        "{context}: {body}"
                    );
                } else {
                    assert!(
                        error_codes(&body).iter().all(|c| c == "FORBIDDEN"),
                        "{context}: only email FORBIDDENs expected: {body}"
                    );
                }
                assert!(
                    !mentions(data(&body), target_id),
                    "{context}: leaked without the flag: {body}"
                );
                if !probe.has_wide {
                    continue;
                }
                // With the flag: FORBIDDEN for members, present for support and admins.
                let body = w
                    .app
                    .graphql(Some(token), probe.query, w.variables(probe, target, true))
                    .await;
                if staff && (!probe.only_own || who == "admin") {
                    assert!(
                        mentions(data(&body), target_id),
                        "{context}: missing with the flag: {body}"
                    );
                } else if staff {
                    assert!(
                        !mentions(data(&body), target_id),
                        "{context}: someone else's doing shown: {body}"
                    );
                } else {
                    assert!(
                        error_codes(&body).contains(&"FORBIDDEN".to_owned()),
                        "{context}: {body}"
                    );
                    assert!(
                        !mentions(data(&body), target_id),
                        "{context}: leaked to a member: {body}"
                    );
                }
                proved += 1;
            }
        }
    }
    assert!(proved > 50, "the table ran ({proved} wide cases)");

    // `me` of a deleted user: their token no longer signs anyone in.
    let body = w
        .app
        .graphql(Some(&w.ada.token), "{ me { id } }", json!({}))
        .await;
    assert_error(&body, "UNAUTHENTICATED");

    // Counts agree with the rows: 5 users were made besides the admin, 3 are deleted.
    for token in [w.grace.token.as_str(), w.app.admin_token.as_str()] {
        let body = w
            .app
            .graphql(
                Some(token),
                "{ live: users { totalCount } all: users(includeDeleted: true) { totalCount }
                   gone: users(onlyDeleted: true) { totalCount }
                   files: attachments { totalCount } allFiles: attachments(includeDeleted: true) { totalCount }
                   goneFiles: attachments(onlyDeleted: true) { totalCount } }",
                json!({}),
            )
            .await;
        assert_ok(&body);
        let d = data(&body);
        assert_eq!(
            (
                &d["live"]["totalCount"],
                &d["all"]["totalCount"],
                &d["gone"]["totalCount"]
            ),
            (&json!(3), &json!(6), &json!(3))
        );
        // Alan's two live ones; Ada's two (cascade), Bob's and Alan's deleted ones hidden.
        assert_eq!(
            (
                &d["files"]["totalCount"],
                &d["allFiles"]["totalCount"],
                &d["goneFiles"]["totalCount"]
            ),
            (&json!(2), &json!(6), &json!(4))
        );
    }
    let body = w
        .app
        .graphql(
            Some(&w.alan.token),
            "{ me { attachments { totalCount } } attachments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data(&body),
        &json!({ "me": { "attachments": { "totalCount": 2 } }, "attachments": { "totalCount": 2 } })
    );
}

/// The types whose fields can reach a user or an attachment.
const REACHING: &[&str] = &[
    "User",
    "Attachment",
    "Node",
    "Deletion",
    "UserConnection",
    "AttachmentConnection",
    "DeletionConnection",
];

fn named_type(t: &Value) -> &str {
    match t["name"].as_str() {
        Some(name) => name,
        None => named_type(&t["ofType"]),
    }
}

#[tokio::test]
async fn every_field_that_can_reach_a_row_has_a_probe() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = app
        .graphql(
            None,
            "{ __schema { mutationType { name } types { name kind fields {
                name type { name ofType { name ofType { name ofType { name } } } } } } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let mut reaching = BTreeSet::new();
    for ty in data(&body)["__schema"]["types"].as_array().unwrap() {
        let owner = ty["name"].as_str().unwrap();
        if ty["kind"] != "OBJECT" || owner.starts_with("__") || owner == "Mutation" {
            continue;
        }
        // A connection's nodes and edges are proved through the field that returns it.
        if owner.ends_with("Connection") || owner.ends_with("Edge") {
            continue;
        }
        // Reached only by the `deletionEvents` subscription, over WebSocket, which this
        // HTTP probe cannot run: subscriptions.rs proves who receives which deletion, and the
        // deletion's own fields are the ones probed here through `Query.deletions`.
        if owner == "DeletionEvent" {
            continue;
        }
        for field in ty["fields"].as_array().into_iter().flatten() {
            if REACHING.contains(&named_type(&field["type"])) {
                reaching.insert(format!("{owner}.{}", field["name"].as_str().unwrap()));
            }
        }
    }
    let probed: BTreeSet<String> = PROBES.iter().map(|p| p.field.to_owned()).collect();
    let missing: Vec<_> = reaching.difference(&probed).collect();
    assert!(
        missing.is_empty(),
        "fields that can reach a row but have no probe in PROBES: {missing:?}"
    );
    assert!(
        reaching.len() >= 12,
        "the walk found the fields: {reaching:?}"
    );
}

async fn deletes_follow_the_role_table(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let file = app.attachment(&ada, "ada.txt").await;

    // Someone else's attachment is invisible to a member: NOT_FOUND, not a hint.
    let body = app.by(&alan).try_delete_attachment(&file, None).await;
    assert_error(&body, "NOT_FOUND");
    // Support reads everything and deletes nothing.
    let body = app.by(&grace).try_delete_attachment(&file, None).await;
    assert_error(&body, "FORBIDDEN");
    let body = app.by(&grace).try_delete_user(&ada.id, None).await;
    assert_error(&body, "FORBIDDEN");
    let body = app.by(&alan).try_delete_user(&ada.id, None).await;
    assert_error(&body, "FORBIDDEN");
    let body = app
        .by(&ada)
        .try_delete_attachment(&file, Some(&"x".repeat(501)))
        .await;
    assert_error(&body, "BAD_USER_INPUT");
    // Nothing above changed anything.
    let body = app
        .graphql(
            Some(&ada.token),
            "{ attachments { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["attachments"]["totalCount"], 1);

    // The owner deletes it, with a reason, and gets the deletion back.
    let deletion = &app
        .by(&ada)
        .delete_attachment(&file, Some("  duplicate upload "))
        .await;
    assert_eq!(deletion["entity"], "ATTACHMENT");
    assert_eq!(deletion["entityId"], file.as_str());
    assert_eq!(deletion["actor"]["id"], ada.id.as_str());
    assert_eq!(deletion["reason"], "duplicate upload");
    assert_eq!(deletion["cascadeCount"], 0);
    assert!(deletion["deletedAt"].is_string());
    assert_eq!(deletion["restoredAt"], json!(null));
    // Deleting it again, or something that never was: NOT_FOUND.
    let body = app.by(&ada).try_delete_attachment(&file, None).await;
    assert_error(&body, "NOT_FOUND");
    let nobody = keepsake::ids::encode(keepsake::ids::Kind::Attachment, 999_999);
    let body = app.admin().try_delete_attachment(&nobody, None).await;
    assert_error(&body, "NOT_FOUND");

    // A member deletes their own account; an admin deletes anyone.
    let deleted = app.by(&alan).delete_user(&alan.id, None).await;
    assert_eq!(deleted["entity"], "USER");
    let deleted = app.admin().delete_user(&ada.id, Some("left")).await;
    assert_eq!(deleted["actor"]["id"], app.admin_id.as_str());
    let body = app.admin().try_delete_user(&ada.id, None).await;
    assert_error(&body, "NOT_FOUND");
    // A deleted user cannot be updated or given attachments.
    let body = app
        .as_admin(
            "mutation($id: ID!) { updateUser(id: $id, input: {name: \"Back\"}) { id } }",
            json!({ "id": ada.id }),
        )
        .await;
    assert_error(&body, "NOT_FOUND");
    let body = app
        .as_admin(
            "mutation($o: ID!) { createAttachment(input: {ownerId: $o, filename: \"f\", contentType: \"text/plain\", sizeBytes: 1}) { id } }",
            json!({ "o": ada.id }),
        )
        .await;
    assert_error(&body, "NOT_FOUND");
}

async fn a_deleted_user_is_gone_for_auth_and_frees_their_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let body = app
        .graphql(Some(&ada.token), "{ me { id } }", json!({}))
        .await;
    assert_ok(&body);
    app.admin().delete_user(&ada.id, None).await;
    for query in ["{ me { id } }", "{ users { totalCount } }"] {
        let body = app.graphql(Some(&ada.token), query, json!({})).await;
        assert_error(&body, "UNAUTHENTICATED");
    }
    // The email is free for a new live user; a second live one still conflicts.
    let again = app.member("ada@example.com").await;
    assert_ne!(again.id, ada.id);
    let body = app
        .as_admin(
            "mutation { createUser(input: {email: \"ada@example.com\", name: \"Third\"}) { id } }",
            json!({}),
        )
        .await;
    assert_error(&body, "CONFLICT");
    // Both rows exist for support: one live, one deleted.
    let body = app
        .as_admin(
            "{ users(includeDeleted: true) { nodes { email deletedAt } } }",
            json!({}),
        )
        .await;
    let adas: Vec<_> = data(&body)["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["email"] == "ada@example.com")
        .map(|u| u["deletedAt"].is_null())
        .collect();
    assert_eq!(adas, [false, true]);
}

async fn the_deletion_log_answers_who_when_and_why(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let first = app.attachment(&ada, "a.txt").await;
    let second = app.attachment(&ada, "b.txt").await;
    let before = chrono::Utc::now();
    app.by(&ada).delete_attachment(&first, Some("typo")).await;
    app.admin().delete_attachment(&second, Some("spam")).await;
    app.admin().delete_user(&ada.id, Some("closed")).await;

    const LOG: &str = "query($entity: DeletedEntity, $actor: ID, $since: DateTime, $first: Int, $after: String) {
        deletions(entity: $entity, actorId: $actor, since: $since, first: $first, after: $after) {
            totalCount nodes { reason entity actorId actor { id } } pageInfo { hasNextPage endCursor } } }";
    let body = app.graphql(Some(&grace.token), LOG, json!({})).await;
    assert_ok(&body);
    let log = &data(&body)["deletions"];
    assert_eq!(log["totalCount"], 3);
    let reasons: Vec<_> = log["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["reason"].clone())
        .collect();
    assert_eq!(
        reasons,
        [json!("closed"), json!("spam"), json!("typo")],
        "newest first"
    );
    // Ada is deleted: her id stays, her row does not show without the flag.
    let typo = &log["nodes"][2];
    assert_eq!(typo["actorId"], ada.id.as_str());
    assert_eq!(typo["actor"], json!(null));

    let body = app
        .graphql(Some(&grace.token), LOG, json!({ "entity": "USER" }))
        .await;
    assert_eq!(data(&body)["deletions"]["totalCount"], 1);
    let body = app
        .graphql(Some(&grace.token), LOG, json!({ "actor": app.admin_id }))
        .await;
    assert_eq!(data(&body)["deletions"]["totalCount"], 2);
    let body = app
        .graphql(
            Some(&grace.token),
            LOG,
            json!({ "since": before.to_rfc3339() }),
        )
        .await;
    assert_eq!(data(&body)["deletions"]["totalCount"], 3);
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let body = app
        .graphql(Some(&grace.token), LOG, json!({ "since": later }))
        .await;
    assert_eq!(data(&body)["deletions"]["totalCount"], 0);
    // Pages walk the log newest first.
    let body = app
        .graphql(Some(&grace.token), LOG, json!({ "first": 2 }))
        .await;
    let page = &data(&body)["deletions"];
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let body = app
        .graphql(
            Some(&grace.token),
            LOG,
            json!({ "first": 2, "after": page["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(
        data(&body)["deletions"]["nodes"],
        json!([{ "reason": "typo", "entity": "ATTACHMENT", "actorId": ada.id, "actor": null }])
    );

    // Members may not read the log.
    let alan = app.member("alan@example.com").await;
    let body = app.graphql(Some(&alan.token), LOG, json!({})).await;
    assert_error(&body, "FORBIDDEN");
}

async fn asking_for_deleted_rows_is_checked(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    for query in [
        "{ users(includeDeleted: true) { totalCount } }",
        "{ users(onlyDeleted: true) { totalCount } }",
        "{ attachments(includeDeleted: true) { totalCount } }",
        "{ me { attachments(onlyDeleted: true) { totalCount } } }",
    ] {
        let body = app.graphql(Some(&ada.token), query, json!({})).await;
        assert!(
            error_codes(&body).contains(&"FORBIDDEN".to_owned()),
            "{query}: {body}"
        );
    }
    // `false` is no request for deleted rows: allowed.
    let body = app
        .graphql(
            Some(&ada.token),
            "{ users(includeDeleted: false) { totalCount } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    let body = app
        .as_admin(
            "{ users(includeDeleted: true, onlyDeleted: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_error(&body, "BAD_USER_INPUT");
}
