//! What the trash page reads (docs/DESIGN.md#the-trash-page): the deletion log narrowed by reason, date range and a
//! search over the deleted rows' names, emails and filenames, and the rows each deletion
//! hides (`Deletion.user`, `Deletion.attachments`), shown only when staff ask with
//! `includeDeleted`, like every other deleted row.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, id_of, on_both_backends};

on_both_backends!(
    the_log_is_narrowed_by_reason_dates_and_a_search_of_the_deleted_rows,
    a_search_is_text_never_a_pattern_and_has_a_bound,
    a_deletion_lists_the_rows_it_hides_only_when_staff_ask,
    a_refused_restore_names_the_live_user_who_holds_the_email,
    recent_deletions_are_the_viewers_own_that_they_may_still_undo,
    recent_deletions_end_with_the_undo_window,
    a_member_lists_the_files_of_a_deletion_they_may_undo_and_no_other,
    the_log_is_narrowed_by_who_deleted,
);

const LOG: &str = "query($search: String, $reason: String, $since: DateTime, $until: DateTime) {
    deletions(search: $search, reason: $reason, since: $since, until: $until) {
        totalCount nodes { id entity } } }";

/// The ids of the deletions `variables` select, and the body.
async fn log_ids(app: &TestApp, token: &str, variables: Value) -> (Vec<String>, Value) {
    let body = app.graphql(Some(token), LOG, variables).await;
    assert_ok(&body);
    let nodes = data(&body)["deletions"]["nodes"].as_array().unwrap();
    assert_eq!(
        data(&body)["deletions"]["totalCount"],
        json!(nodes.len()),
        "{body}"
    );
    (nodes.iter().map(id_of).collect(), body)
}

async fn the_log_is_narrowed_by_reason_dates_and_a_search_of_the_deleted_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada.lovelace@example.com").await;
    let alan = app.member("alan@example.com").await;
    let report = app.attachment(&alan, "Quarterly-Report.pdf").await;
    let photo = app.attachment(&alan, "photo.png").await;
    let ada_gone = id_of(
        &app.admin()
            .delete_user(&ada.id, Some("Asked to LEAVE"))
            .await,
    );
    let report_gone = id_of(
        &app.admin()
            .delete_attachment(&report, Some("duplicate"))
            .await,
    );
    let photo_gone = id_of(&app.admin().delete_attachment(&photo, None).await);
    let admin = app.admin_token.clone();

    // By the deleted rows' email, name or filename, in any case of ASCII letters.
    for (search, expected) in [
        ("LOVELACE", vec![&ada_gone]),
        ("user ada", vec![&ada_gone]), // names are "User <email>"
        ("report", vec![&report_gone]),
        (".p", vec![&photo_gone, &report_gone]),
        ("nobody", vec![]),
        ("   ", vec![&photo_gone, &report_gone, &ada_gone]), // blank: no filter
    ] {
        let (ids, body) = log_ids(&app, &admin, json!({ "search": search })).await;
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            expected,
            "search {search:?}: {body}"
        );
    }
    // By reason.
    let (ids, _) = log_ids(&app, &admin, json!({ "reason": "leave" })).await;
    assert_eq!(ids, vec![ada_gone.clone()]);
    // By dates: [since, until).
    let (ids, _) = log_ids(&app, &admin, json!({ "until": "2000-01-01T00:00:00Z" })).await;
    assert!(ids.is_empty());
    let (ids, _) = log_ids(
        &app,
        &admin,
        json!({ "since": "2000-01-01T00:00:00Z", "until": "2999-01-01T00:00:00Z" }),
    )
    .await;
    assert_eq!(ids.len(), 3);
    let body = app
        .graphql(
            Some(&admin),
            LOG,
            json!({ "since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z" }),
        )
        .await;
    assert_error(&body, "BAD_USER_INPUT");

    // A restored deletion hides nothing any more, so a search no longer finds it.
    app.admin().restore(&report_gone, None).await;
    let (ids, _) = log_ids(&app, &admin, json!({ "search": "report" })).await;
    assert!(ids.is_empty(), "{ids:?}");

    // The log is staff's: a member is refused, search or not.
    let body = app
        .graphql(Some(&alan.token), LOG, json!({ "search": "lovelace" }))
        .await;
    assert_error(&body, "FORBIDDEN");
    assert!(!body.to_string().contains(&ada_gone), "{body}");
}

async fn a_search_is_text_never_a_pattern_and_has_a_bound(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let plain = app.attachment(&alan, "abc.txt").await;
    let odd = app.attachment(&alan, "100%_done\\.txt").await;
    let plain_gone = id_of(&app.admin().delete_attachment(&plain, None).await);
    let odd_gone = id_of(&app.admin().delete_attachment(&odd, None).await);
    let admin = app.admin_token.clone();
    for (search, expected) in [
        ("%", vec![&odd_gone]),
        ("_", vec![&odd_gone]),
        ("\\", vec![&odd_gone]),
        ("%_done\\", vec![&odd_gone]),
        ("a_c", vec![]),
        ("abc", vec![&plain_gone]),
        ("'; DROP TABLE deletions; --", vec![]),
    ] {
        let (ids, body) = log_ids(&app, &admin, json!({ "search": search })).await;
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            expected,
            "search {search:?}: {body}"
        );
    }
    for argument in ["search", "reason"] {
        let body = app
            .graphql(Some(&admin), LOG, json!({ argument: "x".repeat(201) }))
            .await;
        assert_error(&body, "BAD_USER_INPUT");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.starts_with(&format!("{argument}:")), "{message}");
        let (ids, _) = log_ids(&app, &admin, json!({ argument: "é".repeat(200) })).await;
        assert!(ids.is_empty());
        // PostgreSQL cannot take a NUL: refused by name on both databases.
        let body = app
            .graphql(Some(&admin), LOG, json!({ argument: "a\u{0}b" }))
            .await;
        assert_error(&body, "BAD_USER_INPUT");
    }
}

const HIDDEN: &str = "query($d: ID!, $wide: Boolean!) { deletion(id: $d) {
    user(includeDeleted: $wide) { id attachments { totalCount nodes { id } } }
    attachments(includeDeleted: $wide) { totalCount nodes { id filename owner { id } } } } }";

async fn a_deletion_lists_the_rows_it_hides_only_when_staff_ask(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let alan = app.member("alan@example.com").await;
    let grace = app.user("grace@example.com", "SUPPORT").await;
    let a1 = app.attachment(&ada, "a1.txt").await;
    let a2 = app.attachment(&ada, "a2.txt").await;
    let b1 = app.attachment(&alan, "b1.txt").await;
    let b2 = app.attachment(&alan, "b2.txt").await;
    let ada_gone = id_of(&app.admin().delete_user(&ada.id, None).await);
    let bulk = id_of(&app.admin().delete_attachments(&[&b1, &b2], None).await);

    for token in [app.admin_token.as_str(), grace.token.as_str()] {
        // Asked for: the user and her cascade; the bulk's attachments with their live owner.
        let body = app
            .graphql(Some(token), HIDDEN, json!({ "d": ada_gone, "wide": true }))
            .await;
        assert_ok(&body);
        let d = &data(&body)["deletion"];
        assert_eq!(d["user"]["id"], json!(ada.id), "{body}");
        assert_eq!(d["user"]["attachments"]["totalCount"], json!(2), "{body}");
        assert_eq!(d["attachments"]["totalCount"], json!(2), "{body}");
        let hidden: Vec<&Value> = d["attachments"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| &n["id"])
            .collect();
        assert_eq!(hidden, vec![&json!(a1), &json!(a2)]);
        let body = app
            .graphql(Some(token), HIDDEN, json!({ "d": bulk, "wide": true }))
            .await;
        assert_ok(&body);
        let d = &data(&body)["deletion"];
        assert_eq!(
            d["user"],
            Value::Null,
            "an attachment deletion hides no user: {body}"
        );
        assert_eq!(d["attachments"]["totalCount"], json!(2), "{body}");
        assert_eq!(
            d["attachments"]["nodes"][0]["owner"]["id"],
            json!(alan.id),
            "{body}"
        );
        // Not asked for: nothing deleted shows.
        let body = app
            .graphql(Some(token), HIDDEN, json!({ "d": ada_gone, "wide": false }))
            .await;
        assert_ok(&body);
        let d = &data(&body)["deletion"];
        assert_eq!(d["user"], Value::Null, "{body}");
        assert_eq!(d["attachments"]["totalCount"], json!(0), "{body}");
        assert!(!body.to_string().contains(&a1), "{body}");
    }

    // Once restored, a deletion hides nothing.
    app.admin().restore(&bulk, None).await;
    let body = app
        .as_admin(HIDDEN, json!({ "d": bulk, "wide": true }))
        .await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["deletion"]["attachments"]["totalCount"],
        json!(0),
        "{body}"
    );

    // A member who knows a deletion (their own) may not see its rows through it.
    let own = app.attachment(&alan, "mine.txt").await;
    let mine = app.by(&alan).delete_attachment(&own, None).await;
    let body = app
        .graphql(
            Some(&alan.token),
            "query($d: ID!) { deletion(id: $d) { attachments(includeDeleted: true) { nodes { id } } } }",
            json!({ "d": id_of(&mine) }),
        )
        .await;
    assert!(
        body["errors"].as_array().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(!body.to_string().contains(&own), "{body}");
}

async fn a_refused_restore_names_the_live_user_who_holds_the_email(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let carol = app.member("carol@example.com").await;
    let gone = id_of(&app.admin().delete_user(&carol.id, None).await);
    let holder = app.member("carol@example.com").await;
    for body in [
        app.admin().try_restore(&gone, None).await,
        app.admin().try_restore_user(&carol.id, None).await,
    ] {
        assert_error(&body, "CONFLICT");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("carol@example.com"), "{message}");
        assert!(message.contains(&holder.id), "{message}");
    }
    // Nothing changed: the deletion is in force, and the holder keeps the email.
    let body = app
        .as_admin(
            "query($d: ID!) { deletion(id: $d) { restoredAt } }",
            json!({ "d": gone }),
        )
        .await;
    assert_eq!(data(&body)["deletion"]["restoredAt"], Value::Null, "{body}");
}

const RECENT: &str = "{ recentDeletions { id entity cascadeCount deletedAt undoUntil } }";

/// The ids `token`'s `recentDeletions` lists, and the body.
async fn recent(app: &TestApp, token: &str) -> (Vec<String>, Value) {
    let body = app.graphql(Some(token), RECENT, json!({})).await;
    assert_ok(&body);
    let ids = data(&body)["recentDeletions"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    (ids, body)
}

async fn recent_deletions_are_the_viewers_own_that_they_may_still_undo(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let a1 = app.attachment(&alan, "a1.txt").await;
    let a2 = app.attachment(&alan, "a2.txt").await;
    let a3 = app.attachment(&alan, "a3.txt").await;
    let b1 = app.attachment(&bob, "b1.txt").await;
    let first = id_of(&app.by(&alan).delete_attachment(&a1, None).await);
    let bulk = id_of(&app.by(&alan).delete_attachments(&[&a2, &a3], None).await);
    let bobs = id_of(&app.by(&bob).delete_attachment(&b1, None).await);
    // An admin's delete of Alan's row is the admin's, not Alan's.
    let theirs = app.attachment(&alan, "a4.txt").await;
    let admins = id_of(&app.admin().delete_attachment(&theirs, None).await);

    // Newest first; Bob's and the admin's are not Alan's to undo.
    let (ids, body) = recent(&app, &alan.token).await;
    assert_eq!(ids, vec![bulk.clone(), first.clone()], "{body}");
    let newest = &data(&body)["recentDeletions"][0];
    assert_eq!(newest["cascadeCount"], json!(1), "{body}");
    let at =
        |key: &str| chrono::DateTime::parse_from_rfc3339(newest[key].as_str().unwrap()).unwrap();
    assert_eq!(
        (at("undoUntil") - at("deletedAt")).num_seconds(),
        15 * 60,
        "{body}"
    );
    let (ids, _) = recent(&app, &bob.token).await;
    assert_eq!(ids, vec![bobs]);
    let (ids, _) = recent(&app, &app.admin_token).await;
    assert_eq!(ids, vec![admins]);

    // Undone, it leaves the list; the rows it hid never show in it.
    app.by(&alan).restore(&bulk, None).await;
    let (ids, body) = recent(&app, &alan.token).await;
    assert_eq!(ids, vec![first], "{body}");
    assert!(!body.to_string().contains(&a1), "{body}");

    // Bounds and sign-in.
    let body = app
        .graphql(
            Some(&alan.token),
            "{ recentDeletions(first: 101) { id } }",
            json!({}),
        )
        .await;
    assert_error(&body, "BAD_USER_INPUT");
    let body = app.graphql(None, RECENT, json!({})).await;
    assert_error(&body, "UNAUTHENTICATED");
}

async fn recent_deletions_end_with_the_undo_window(backend: Backend) {
    let app = TestApp::spawn_with(backend, |settings| {
        settings.undo_window = Duration::from_secs(0);
    })
    .await;
    let alan = app.member("alan@example.com").await;
    let a1 = app.attachment(&alan, "a1.txt").await;
    app.by(&alan).delete_attachment(&a1, None).await;
    let (ids, body) = recent(&app, &alan.token).await;
    assert!(ids.is_empty(), "{body}");
}

const RECENT_FILES: &str = "{ recentDeletions {
    id attachments(includeDeleted: true, first: 10) { totalCount nodes { id filename deletedAt } } } }";

/// `recentDeletions` with the files each hides: `(deletion id, [filename])`, newest first.
async fn recent_files(app: &TestApp, token: &str) -> Vec<(String, Vec<String>)> {
    let body = app.graphql(Some(token), RECENT_FILES, json!({})).await;
    assert_ok(&body);
    let entries = data(&body)["recentDeletions"].as_array().unwrap();
    entries
        .iter()
        .map(|d| {
            let files = &d["attachments"];
            let names: Vec<String> = files["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["filename"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(files["totalCount"], json!(names.len()), "{body}");
            (id_of(d), names)
        })
        .collect()
}

async fn a_member_lists_the_files_of_a_deletion_they_may_undo_and_no_other(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan@example.com").await;
    let bob = app.member("bob@example.com").await;
    let a1 = app.attachment(&alan, "a1.txt").await;
    let a2 = app.attachment(&alan, "a2.txt").await;
    let a3 = app.attachment(&alan, "a3.txt").await;
    let b1 = app.attachment(&bob, "b1-secret.txt").await;
    let bulk = id_of(&app.by(&alan).delete_attachments(&[&a1, &a2], None).await);
    let single = id_of(&app.by(&alan).delete_attachment(&a3, None).await);
    let bobs = id_of(&app.by(&bob).delete_attachment(&b1, None).await);
    // An admin's deletion of Alan's file is not Alan's to undo, nor to list.
    let a4 = app.attachment(&alan, "a4-by-admin.txt").await;
    app.admin().delete_attachment(&a4, None).await;

    // What Undo would bring back, and nothing else.
    let files = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
    assert_eq!(
        recent_files(&app, &alan.token).await,
        vec![
            (single.clone(), files(&["a3.txt"])),
            (bulk.clone(), files(&["a1.txt", "a2.txt"])),
        ]
    );
    assert_eq!(
        recent_files(&app, &bob.token).await,
        vec![(bobs.clone(), files(&["b1-secret.txt"]))]
    );
    // Without asking for deleted rows, none (they are deleted rows).
    let body = app
        .graphql(
            Some(&alan.token),
            "{ recentDeletions { attachments { totalCount } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    assert_eq!(
        data(&body)["recentDeletions"][0]["attachments"]["totalCount"],
        json!(0),
        "{body}"
    );

    // The same deletion reached any other way carries no such right: a delete's answer, a
    // restore's answer, or another member's deletion.
    let a5 = app.attachment(&alan, "a5.txt").await;
    let body = app
        .graphql(
            Some(&alan.token),
            "mutation($id: ID!) { deleteAttachment(id: $id) { attachments(includeDeleted: true) { totalCount } } }",
            json!({ "id": a5 }),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
    for (who, deletion) in [(&alan, &bobs), (&alan, &single)] {
        let body = app
            .graphql(
                Some(&who.token),
                "mutation($d: ID!) { restore(deletionId: $d) { attachments(includeDeleted: true) { totalCount } } }",
                json!({ "d": deletion }),
            )
            .await;
        let codes = crate::helpers::error_codes(&body);
        assert!(
            codes == ["NOT_FOUND"] || codes == ["FORBIDDEN"],
            "{deletion}: {body}"
        );
        assert!(!body.to_string().contains("b1-secret"), "{body}");
    }
    // Once undone, or once the window has passed, the deletion and its files leave the list.
    app.backdate(&bulk, 16 * 60).await;
    let listed = recent_files(&app, &alan.token).await;
    let ids: Vec<&String> = listed.iter().map(|(id, _)| id).collect();
    assert!(!ids.contains(&&bulk), "{listed:?}");
    assert!(!ids.contains(&&single), "restored above: {listed:?}");
}

async fn the_log_is_narrowed_by_who_deleted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let alan = app.member("alan.turing@example.com").await;
    let grace = app.user("grace@example.com", "ADMIN").await;
    let a1 = app.attachment(&alan, "a1.txt").await;
    let a2 = app.attachment(&alan, "a2.txt").await;
    let by_alan = id_of(&app.by(&alan).delete_attachment(&a1, None).await);
    let by_grace = id_of(&app.by(&grace).delete_attachment(&a2, None).await);
    let grace_gone = id_of(&app.admin().delete_user(&grace.id, None).await);
    const BY: &str =
        "query($actor: String) { deletions(actor: $actor) { totalCount nodes { id } } }";
    for (actor, expected) in [
        ("TURING", vec![&by_alan]),      // the email, any case
        ("user grace", vec![&by_grace]), // the name; a deleted actor still counts
        ("admin@localhost", vec![&grace_gone]),
        ("%", vec![]), // text, never a pattern
        ("nobody", vec![]),
    ] {
        let body = app
            .graphql(Some(&app.admin_token), BY, json!({ "actor": actor }))
            .await;
        assert_ok(&body);
        let nodes = data(&body)["deletions"]["nodes"].as_array().unwrap();
        let ids: Vec<String> = nodes.iter().map(id_of).collect();
        assert_eq!(ids.iter().collect::<Vec<_>>(), expected, "{actor}: {body}");
        assert_eq!(data(&body)["deletions"]["totalCount"], json!(ids.len()));
    }
    // Bounded like every filter text; still the log, so staff only.
    let long = "x".repeat(201);
    let body = app
        .graphql(Some(&app.admin_token), BY, json!({ "actor": long }))
        .await;
    assert_error(&body, "BAD_USER_INPUT");
    let body = app
        .graphql(Some(&alan.token), BY, json!({ "actor": "alan" }))
        .await;
    assert_error(&body, "FORBIDDEN");
}
