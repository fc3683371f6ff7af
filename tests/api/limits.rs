//! Issue 9's query rules: standard introspection works, hostile depth and cost are refused
//! before anything runs, response keys follow the query, and `User.attachments` pages in SQL.

use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, assert_ok, data, on_both_backends};

on_both_backends!(
    the_standard_introspection_query_works_with_and_without_a_token,
    deep_and_costly_queries_are_refused_before_any_statement_runs,
    response_keys_follow_the_query,
    a_users_attachments_page_in_sql_through_every_page,
    integers_past_32_bits_are_refused_before_running,
);

/// graphql-js's `getIntrospectionQuery()` (v16), what GraphiQL, codegen and client tools send.
const INTROSPECTION: &str = include_str!("fixtures/introspection.graphql");

/// Posts `query` and returns the raw body text (key order is what is under test).
async fn raw(app: &TestApp, token: Option<&str>, query: &str) -> String {
    let mut request = app
        .http
        .post(format!("{}/graphql", app.base))
        .json(&json!({ "query": query }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap().text().await.unwrap()
}

async fn the_standard_introspection_query_works_with_and_without_a_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for token in [None, Some(app.admin_token.as_str())] {
        let body = app.graphql(token, INTROSPECTION, json!({})).await;
        assert_ok(&body);
        let types = data(&body)["__schema"]["types"].as_array().unwrap();
        let user = types.iter().find(|t| t["name"] == "User").expect("User");
        assert!(
            user["fields"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["name"] == "attachments"),
            "{user}"
        );
    }
}

#[track_caller]
fn assert_refused(body: &Value, words: &[&str]) {
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let message = body["errors"][0]["message"].as_str().unwrap();
    for word in words {
        assert!(message.contains(word), "{word:?} not in {message}");
    }
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "nothing ran: {body}"
    );
}

async fn deep_and_costly_queries_are_refused_before_any_statement_runs(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "a.txt").await;
    let token = Some(ada.token.as_str());

    // Hostile depth: data nested past 12 levels.
    let deep = "{ me { attachments { nodes { owner { attachments { nodes { owner { attachments { nodes { owner { attachments { nodes { owner { id } } } } } } } } } } } } } }";
    // The cube of one's own attachments, 50 fields at the bottom.
    let fields: Vec<String> = (0..50).map(|i| format!("f{i}: filename")).collect();
    let cube = format!(
        "{{ me {{ attachments(first:100) {{ nodes {{ owner {{ attachments(first:100) {{ nodes {{ owner {{ attachments(first:100) {{ nodes {{ {} }} }} }} }} }} }} }} }} }} }}",
        fields.join(" ")
    );
    // 300 aliased empty pages, each with a count: 601 statements before (and short enough
    // in tokens to be parsed).
    let aliases: Vec<String> = (0..300)
        .map(|i| format!("a{i}: users(first: 0) {{ totalCount }}"))
        .collect();
    let aliases = format!("{{ {} }}", aliases.join(" "));
    for (query, words) in [
        (deep.to_owned(), vec!["deep", "12"]),
        (cube, vec!["costs", "budget is 100000"]),
        (aliases, vec!["costs", "budget is 100000"]),
    ] {
        let before = app.statements().await;
        let body = app.graphql(token, &query, json!({})).await;
        let after = app.statements().await;
        assert_refused(&body, &words);
        // Only the viewer's lookup ran.
        assert_eq!(after - before, 1.0, "statements for {query:.60}");
    }

    // A misspelt field is reported as such, with the same code.
    let body = app.graphql(token, "{ me { idd } }", json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );

    // The yardstick page fits, as the admin.
    let body = app
        .as_admin(
            "{ users(first: 50) { nodes { id email attachments { nodes { id filename sizeBytes } } } } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
}

async fn response_keys_follow_the_query(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    app.attachment(&ada, "a.txt").await;
    let query = "{ users(first: 2) { totalCount nodes { name } pageInfo { hasNextPage } } \
                 z: me { id } ...F a: me { name id } attachments { totalCount nodes { owner { id } filename } } } \
                 fragment F on Query { y: me { role } }";
    let text = raw(&app, Some(&app.admin_token), query).await;
    let order = [
        "\"users\"",
        "\"totalCount\"",
        "\"nodes\"",
        "\"pageInfo\"",
        "\"z\"",
        "\"y\"",
        "\"a\"",
        "\"name\":\"Administrator\",\"id\"",
        "\"attachments\"",
        "\"owner\":{\"id\":",
        "\"filename\"",
    ];
    let mut last = 0;
    for key in order {
        let at = text[last..]
            .find(key)
            .unwrap_or_else(|| panic!("{key} not after position {last} in {text}"));
        last += at + key.len();
    }
    // Aliases of one field keep their own places, many times over.
    let many: Vec<String> = (0..40)
        .map(|i| format!("k{:02}: me {{ id }}", 39 - i))
        .collect();
    let text = raw(
        &app,
        Some(&app.admin_token),
        &format!("{{ {} }}", many.join(" ")),
    )
    .await;
    let positions: Vec<usize> = (0..40)
        .map(|i| text.find(&format!("\"k{:02}\"", 39 - i)).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

async fn a_users_attachments_page_in_sql_through_every_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    let bob = app.member("bob@example.com").await;
    let mut ada_files = Vec::new();
    for i in 0..7 {
        ada_files.push(app.attachment(&ada, &format!("a{i}.txt")).await);
        app.attachment(&bob, &format!("b{i}.txt")).await;
    }
    // One deleted in the middle: pages skip it, includeDeleted shows it.
    let gone = ada_files.remove(3);
    app.admin().delete_attachment(&gone, None).await;

    const PAGE: &str = "query($after: String, $all: Boolean) { users(first: 10) { nodes { email \
        attachments(first: 2, after: $after, includeDeleted: $all) { totalCount \
        pageInfo { hasNextPage endCursor } nodes { id } } } } }";
    let page_of = |body: &Value, email: &str| -> Value {
        data(body)["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["email"] == email)
            .unwrap_or_else(|| panic!("{email} in {body}"))["attachments"]
            .clone()
    };
    for (include_deleted, expected) in [
        (false, ada_files.clone()),
        (true, {
            let mut all = ada_files.clone();
            all.insert(3, gone.clone());
            all
        }),
    ] {
        let mut after = Value::Null;
        let mut seen = Vec::new();
        for _ in 0..10 {
            let body = app
                .as_admin(PAGE, json!({ "after": after, "all": include_deleted }))
                .await;
            assert_ok(&body);
            let page = page_of(&body, "ada@example.com");
            assert_eq!(page["totalCount"], expected.len(), "{page}");
            // Bob's page walks beside Ada's with the same cursor rule.
            assert!(page_of(&body, "bob@example.com")["totalCount"] == 7);
            let nodes = page["nodes"].as_array().unwrap();
            assert!(nodes.len() <= 2, "{page}");
            seen.extend(nodes.iter().map(|n| n["id"].as_str().unwrap().to_owned()));
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = page["pageInfo"]["endCursor"].clone();
        }
        assert_eq!(seen, expected, "includeDeleted: {include_deleted}");
    }
    // An empty page still knows what follows.
    let body = app
        .as_admin(
            "query($id: ID!) { user(id: $id) { attachments(first: 0) { totalCount nodes { id } pageInfo { hasNextPage } } } }",
            json!({ "id": ada.id }),
        )
        .await;
    assert_ok(&body);
    let page = &data(&body)["user"]["attachments"];
    assert_eq!(page["nodes"], json!([]));
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["totalCount"], 6);
}

async fn integers_past_32_bits_are_refused_before_running(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let ada = app.member("ada@example.com").await;
    // Found by schemathesis: async-graphql let these through validation and failed the field
    // at run time with no code.
    for (query, variables) in [
        ("{ users(first: 2147483648) { totalCount } }", json!({})),
        (
            "{ me { attachments(first: -2147483649) { totalCount } } }",
            json!({}),
        ),
        (
            "query($n: Int) { users(first: $n) { totalCount } }",
            json!({ "n": 3_000_000_000i64 }),
        ),
    ] {
        let body = app.graphql(Some(&ada.token), query, variables).await;
        assert_refused(&body, &["outside GraphQL's Int range"]);
    }
    let body = app
        .graphql(
            Some(&ada.token),
            "{ users(first: 2147483647) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
}
