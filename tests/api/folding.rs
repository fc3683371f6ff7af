//! Case-insensitive search folds text one way on SQLite and PostgreSQL alike: Unicode's
//! default full case folding with canonical normalization (`migration::fold`, README "Search
//! and time, the same on both databases"). Each phenomenon is planted wherever a search
//! looks (a deleted user's name and email, a deleted file's name, a deletion's reason, the
//! name and email of who deleted) and searched with every `deletions` filter that reads
//! text: `search`, `reason` and `actor`.

use serde_json::{Value, json};

use crate::helpers::{
    Backend, TestApp, TestDb, assert_ok, data, id_of, on_both_backends, raw_connection, sorted,
};

on_both_backends!(
    a_search_finds_arger_whatever_the_case_of_its_umlauts,
    capital_small_and_final_sigma_are_one_letter,
    dotted_capital_i_folds_to_i_and_a_dot_and_dotless_i_stays_itself,
    sharp_s_capital_sharp_s_and_ss_are_one,
    composed_and_decomposed_accents_are_one_letter,
    an_edit_or_a_seed_folds_the_text_it_writes,
    keepsake_check_reports_a_stale_folding,
    the_migration_folds_the_rows_that_were_there,
);

/// Where one text was planted: the deletions each filter must find for it.
#[derive(Default)]
struct Planted {
    /// Found by `search`: a deleted user named the text, one whose email holds it (where
    /// it can be an email), and a deleted file named `<text>.txt`.
    search: Vec<String>,
    /// Found by `reason`: a deletion given the text as its reason.
    reason: Vec<String>,
    /// Found by `actor`: deletions made by an admin named the text, and by one whose email
    /// holds it.
    actor: Vec<String>,
}

/// Creates a user (as the admin) and returns its id.
async fn user(app: &TestApp, email: &str, name: &str, role: &str) -> String {
    let body = app
        .admin()
        .try_create_user(json!({ "email": email, "name": name, "role": role }))
        .await;
    assert_ok(&body);
    id_of(&data(&body)["createUser"])
}

/// Plants every text of `texts` where a search looks, and every local part of `emails`
/// (texts an email address may hold) in emails. `tag` (ASCII, no needle of the test holds
/// it) keeps the rows of one test's plantings apart.
async fn plant(app: &TestApp, tag: &str, texts: &[&str], emails: &[&str]) -> Planted {
    let mut planted = Planted::default();
    let owner = app.member(&format!("{tag}-owner@example.com")).await;
    let deleted_file = |reason: Option<String>, by: Option<String>| {
        let owner = owner.clone();
        async move {
            let file = app.attachment(&owner, &format!("{tag}-plain.bin")).await;
            let client = match &by {
                Some(token) => {
                    app.graphql(
                        Some(token),
                        crate::helpers::ops::DELETE_ATTACHMENT,
                        json!({ "id": file, "reason": reason }),
                    )
                    .await
                }
                None => {
                    app.admin()
                        .try_delete_attachment(&file, reason.as_deref())
                        .await
                }
            };
            assert_ok(&client);
            id_of(&data(&client)["deleteAttachment"])
        }
    };
    for (i, text) in texts.iter().enumerate() {
        let named = user(app, &format!("{tag}-named-{i}@example.com"), text, "MEMBER").await;
        planted
            .search
            .push(id_of(&app.admin().delete_user(&named, None).await));
        let file = app.attachment(&owner, &format!("{text}.txt")).await;
        planted
            .search
            .push(id_of(&app.admin().delete_attachment(&file, None).await));
        planted
            .reason
            .push(deleted_file(Some((*text).to_owned()), None).await);
        let actor = app
            .user(&format!("{tag}-actor-{i}@example.com"), "ADMIN")
            .await;
        rename(app, &actor.id, text).await;
        planted
            .actor
            .push(deleted_file(None, Some(actor.token.clone())).await);
    }
    for (i, local) in emails.iter().enumerate() {
        let mailed = user(
            app,
            &format!("{local}@{tag}{i}.example.com"),
            &format!("{tag} mail {i}"),
            "MEMBER",
        )
        .await;
        planted
            .search
            .push(id_of(&app.admin().delete_user(&mailed, None).await));
        let actor = app
            .user(&format!("{local}@{tag}-actor{i}.example.com"), "ADMIN")
            .await;
        planted
            .actor
            .push(deleted_file(None, Some(actor.token.clone())).await);
    }
    app.assert_invariants().await;
    planted
}

/// Renames user `id` (as the admin).
async fn rename(app: &TestApp, id: &str, name: &str) {
    let body = app
        .as_admin(
            "mutation($id: ID!, $n: String) { updateUser(id: $id, input: {name: $n}) { name } }",
            json!({ "id": id, "n": name }),
        )
        .await;
    assert_ok(&body);
    assert_eq!(data(&body)["updateUser"]["name"], json!(name));
}

const FILTERS: &str = "query($t: String) {
    search: deletions(search: $t, first: 100) { totalCount nodes { id } }
    reason: deletions(reason: $t, first: 100) { totalCount nodes { id } }
    actor: deletions(actor: $t, first: 100) { totalCount nodes { id } } }";

/// The deletions `search`, `reason` and `actor` each find for `needle`, sorted.
async fn found(app: &TestApp, needle: &str) -> [Vec<String>; 3] {
    let body = app.as_admin(FILTERS, json!({ "t": needle })).await;
    assert_ok(&body);
    ["search", "reason", "actor"].map(|filter| {
        let listing: &Value = &data(&body)[filter];
        let nodes = listing["nodes"].as_array().unwrap();
        assert_eq!(listing["totalCount"], json!(nodes.len()), "{body}");
        sorted(nodes.iter().map(id_of).collect())
    })
}

/// Asserts that each of `needles` finds exactly what `planted` put where each filter looks.
async fn finds(app: &TestApp, planted: &Planted, needles: &[&str]) {
    let expected = [
        sorted(planted.search.clone()),
        sorted(planted.reason.clone()),
        sorted(planted.actor.clone()),
    ];
    for needle in needles {
        assert_eq!(
            found(app, needle).await,
            expected,
            "{needle:?} ({:?}): [search, reason, actor]",
            needle
                .chars()
                .map(|c| format!("U+{:04X}", c as u32))
                .collect::<Vec<_>>()
        );
    }
}

/// Asserts that none of `needles` finds anything.
async fn misses(app: &TestApp, needles: &[&str]) {
    for needle in needles {
        assert_eq!(
            found(app, needle).await,
            [Vec::<String>::new(), vec![], vec![]],
            "{needle:?} should find nothing: [search, reason, actor]"
        );
    }
}

/// The case SQLite's ASCII-only `lower()` missed: `ärger` finds `ÄRGER-Ü`.
async fn a_search_finds_arger_whatever_the_case_of_its_umlauts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let planted = plant(&app, "ae", &["ÄRGER-Ü"], &["ärger-ü"]).await;
    finds(&app, &planted, &["ärger", "Ärger-ü", "ÄRGER-Ü", "rger-ü"]).await;
    misses(&app, &["arger", "ärger-u"]).await;
}

/// Σ, σ and ς fold to σ: the name as written in capitals is found by its lower-case
/// spelling with a final sigma, and the other way round. Accents still count.
async fn capital_small_and_final_sigma_are_one_letter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let planted = plant(&app, "el", &["ΣΊΣΥΦΟΣ", "σίσυφος"], &["ΣΊΣΥΦΟΣ"]).await;
    finds(
        &app,
        &planted,
        &[
            "σίσυφος",
            "ΣΊΣΥΦΟΣ",
            "σίσυφοσ",
            "Σίσυφος",
            "ΊΣΥ",
            "φος",
            "ΦΟΣ",
        ],
    )
    .await;
    misses(&app, &["σισυφος", "ΣΙΣΥΦΟΣ"]).await;
}

/// Unicode's default folding, not Turkish rules: `İ` folds to `i` + U+0307 (so `İstanbul`
/// is found by `İSTANBUL` and by `i̇stanbul`, not by `istanbul`), `I` folds to `i`, and
/// dotless `ı` is a letter of its own.
async fn dotted_capital_i_folds_to_i_and_a_dot_and_dotless_i_stays_itself(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // A lower-cased email cannot hold U+0307, so `İ` is planted in names, files, reasons.
    let dotted = plant(&app, "tr", &["İstanbul"], &[]).await;
    finds(
        &app,
        &dotted,
        &["İstanbul", "İSTANBUL", "i\u{307}stanbul", "stanbul"],
    )
    .await;
    misses(&app, &["istanbul", "ISTANBUL", "ıstanbul"]).await;

    let dotless = plant(&app, "az", &["kırmızı"], &["kırmızı"]).await;
    finds(&app, &dotless, &["kırmızı", "KıRMıZı", "ırmı"]).await;
    misses(&app, &["KIRMIZI", "kirmizi", "K\u{130}RM\u{130}Z\u{130}"]).await;
}

/// ß and ẞ fold to `ss`: `Straße`, `STRASSE` and `STRAẞE` are found by each other.
async fn sharp_s_capital_sharp_s_and_ss_are_one(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let planted = plant(
        &app,
        "de",
        &["Straße", "STRASSE", "STRAẞE"],
        &["straße", "STRAẞE"],
    )
    .await;
    finds(
        &app,
        &planted,
        &[
            "straße", "STRASSE", "strasse", "STRAẞE", "Straße", "SS", "ẞ", "ß",
        ],
    )
    .await;
    misses(&app, &["strase", "stra\u{3b2}e"]).await;
}

/// `é` as U+00E9 and as `e` + U+0301 fold alike, in what is stored and in what is searched;
/// a different accent, or none, does not match.
async fn composed_and_decomposed_accents_are_one_letter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let planted = plant(
        &app,
        "fr",
        &["caf\u{e9}", "cafe\u{301}", "CAF\u{c9}", "CAFE\u{301}"],
        // A combining accent is no email character: emails hold it composed only.
        &["caf\u{e9}", "CAF\u{c9}"],
    )
    .await;
    finds(
        &app,
        &planted,
        &[
            "caf\u{e9}",
            "cafe\u{301}",
            "CAF\u{c9}",
            "CAFE\u{301}",
            "\u{c9}",
            "E\u{301}",
        ],
    )
    .await;
    misses(&app, &["cafe", "CAFE", "caf\u{e8}", "cafe\u{300}"]).await;
}

/// The folded columns follow their text through every writer: an edit of a name or an
/// email, and `keepsake seed`.
async fn an_edit_or_a_seed_folds_the_text_it_writes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = user(&app, "old@example.com", "Old Name", "MEMBER").await;
    rename(&app, &id, "ΝΈΟ ΌΝΟΜΑΣ").await;
    let body = app
        .as_admin(
            "mutation($id: ID!) { updateUser(id: $id, input: {email: \"NEU.STRAẞE@example.com\"}) { email } }",
            json!({ "id": id }),
        )
        .await;
    assert_ok(&body);
    let gone = id_of(&app.admin().delete_user(&id, None).await);
    for needle in ["νέο όνομας", "ΌΝΟΜΑΣ", "neu.strasse", "STRASSE@"] {
        assert_eq!(found(&app, needle).await[0], vec![gone.clone()], "{needle}");
    }
    for needle in ["old", "Old Name"] {
        assert!(found(&app, needle).await[0].is_empty(), "{needle}");
    }

    // `keepsake seed` writes rows in bulk, past the single-row writers.
    let seeded = app
        .run(&[
            "seed",
            "--users",
            "3",
            "--attachments-per-user",
            "2",
            "--deleted-fraction",
            "1",
        ])
        .await;
    assert!(seeded.status.success(), "{seeded:?}");
    app.assert_invariants().await;
    let [search, reason, _] = found(&app, "SEED USER").await;
    assert_eq!(search.len(), 3, "{search:?}");
    assert!(reason.is_empty());
    let [by_file, _, _] = found(&app, "REPORT.PDF").await;
    assert!(!by_file.is_empty());
}

/// `keepsake check` names a row whose folded column no longer holds its text's folding.
async fn keepsake_check_reports_a_stale_folding(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let file = app.attachment(&ada, "Ärger.txt").await;
    let d_file = id_of(&app.admin().delete_attachment(&file, Some("Grund")).await);
    app.assert_invariants().await;
    let row = |id: &str, kind| keepsake::ids::decode(kind, id).unwrap();
    use keepsake::ids::Kind;
    app.execute_sql(&[
        format!(
            "UPDATE users SET name_folded = 'someone else' WHERE id = {}",
            row(&ada.id, Kind::User)
        ),
        format!(
            "UPDATE attachments SET filename_folded = 'Ärger.txt' WHERE id = {}",
            row(&file, Kind::Attachment)
        ),
        format!(
            "UPDATE deletions SET reason_folded = NULL WHERE id = {}",
            row(&d_file, Kind::Deletion)
        ),
    ])
    .await;
    let violations = keepsake::soft_delete::check::check(&app.state.db)
        .await
        .unwrap();
    let stale: Vec<&str> = violations
        .iter()
        .filter(|v| v.kind == "folded-text-disagrees")
        .map(|v| v.message.as_str())
        .collect();
    assert_eq!(stale.len(), 3, "{violations:#?}");
    for (names, column) in [
        (&ada.id, "name_folded"),
        (&file, "filename_folded"),
        (&d_file, "reason_folded"),
    ] {
        assert!(
            stale
                .iter()
                .any(|m| m.contains(names.as_str()) && m.contains(column)),
            "no line naming {names} and {column}: {stale:#?}"
        );
    }
    assert_eq!(violations.len(), 3, "nothing else: {violations:#?}");
}

/// Rows written before the folded columns existed get them from the migration that adds
/// them (in batches: more rows than one batch), and SQLite's timestamps written with
/// nanoseconds are truncated to the microsecond; `down` removes the columns again.
async fn the_migration_folds_the_rows_that_were_there(backend: Backend) {
    use migration::MigratorTrait as _;
    use sea_orm::ConnectionTrait as _;

    let db = TestDb::create(&backend).await;
    let conn = raw_connection(&db.url).await.unwrap();
    // Up to the last migration before the folded columns.
    migration::Migrator::up(&*conn, Some(7)).await.unwrap();
    let sqlite = db.url.starts_with("sqlite");
    let at = |text: &str| {
        if sqlite {
            format!("'{text}'")
        } else {
            format!("'{text}'::timestamptz")
        }
    };
    let then = at("2026-11-27T10:00:00.123456789+00:00");
    let statements = [
        format!(
            "INSERT INTO deletions (entity, entity_id, actor_id, reason, deleted_at, cascade_count) \
             VALUES ('user', 1, 1, 'ΣΊΣΥΦΟΣ', {then}, 0), ('user', 2, 1, NULL, {then}, 0)"
        ),
        format!(
            "INSERT INTO users (email, name, role, created_at, updated_at) VALUES \
             ('straße@example.com', 'İstanbul ÄRGER', 'member', {then}, {then})"
        ),
        format!(
            "INSERT INTO attachments (owner_id, filename, content_type, size_bytes, created_at) VALUES {}",
            (0..1_201)
                .map(|i| format!("(1, 'CAFE\u{301}-{i}.TXT', 'text/plain', 0, {then})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ];
    for sql in &statements {
        conn.execute_unprepared(sql).await.unwrap();
    }
    migration::Migrator::up(&*conn, None).await.unwrap();

    let conn_ref = &conn;
    let text = move |sql: &str| {
        let (conn, sql) = (conn_ref, sql.to_owned());
        async move {
            let rows = conn
                .query_all_raw(sea_orm::Statement::from_string(
                    conn.get_database_backend(),
                    sql,
                ))
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.try_get::<Option<String>>("", "v").unwrap())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        text("SELECT email_folded AS v FROM users").await,
        [Some("strasse@example.com".to_owned())]
    );
    assert_eq!(
        text("SELECT name_folded AS v FROM users").await,
        [Some("i\u{307}stanbul ärger".to_owned())]
    );
    assert_eq!(
        text("SELECT reason_folded AS v FROM deletions ORDER BY id").await,
        [Some("σίσυφοσ".to_owned()), None]
    );
    let files = text("SELECT filename_folded AS v FROM attachments ORDER BY id").await;
    assert_eq!(files.len(), 1_201);
    for (i, folded) in files.iter().enumerate() {
        assert_eq!(
            folded.as_deref(),
            Some(format!("caf\u{e9}-{i}.txt").as_str())
        );
    }
    if sqlite {
        // What the server writes now: six digits at most, `+00:00`.
        let stamps = text(
            "SELECT created_at AS v FROM attachments UNION SELECT updated_at FROM users \
             UNION SELECT deleted_at FROM deletions",
        )
        .await;
        assert_eq!(
            stamps,
            [Some("2026-11-27T10:00:00.123456+00:00".to_owned())]
        );
    }

    // Down past both (and every later migration), and up again: the columns go and come
    // back, filled.
    let later = u32::try_from(migration::Migrator::migrations().len() - 7).unwrap();
    migration::Migrator::down(&*conn, Some(later))
        .await
        .unwrap();
    let gone = conn
        .execute_unprepared("SELECT email_folded FROM users")
        .await;
    assert!(gone.is_err(), "the column is dropped");
    migration::Migrator::up(&*conn, None).await.unwrap();
    assert_eq!(
        text("SELECT email_folded AS v FROM users").await,
        [Some("strasse@example.com".to_owned())]
    );
    conn.close().await.unwrap();
}
