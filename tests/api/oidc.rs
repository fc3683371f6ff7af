//! Tokens of an external OpenID Connect issuer (docs/sign-in.md), against a real provider
//! (`helpers::provider`): first sight makes a member, the same `sub` finds them again, every
//! forged or mismatched token is refused saying which check failed, keys rotate without a
//! restart and a flood of unknown key ids cannot hammer the provider, a provider that is down
//! leaves the cached keys working, roles come from a claim, and a deleted user stays out.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::helpers::provider::Provider;
use crate::helpers::{Backend, TestApp, assert_error, assert_ok, data, on_both_backends};

const ME: &str = "{ me { id name email role } }";
const USER_COUNT: &str = "{ users(includeDeleted: true) { totalCount } }";

async fn spawn(backend: Backend, provider: &Provider) -> TestApp {
    let settings = provider.settings();
    TestApp::spawn_with(backend, |s| s.oidc = Some(settings)).await
}

async fn me(app: &TestApp, token: &str) -> Value {
    app.graphql(Some(token), ME, json!({})).await
}

async fn user_count(app: &TestApp) -> i64 {
    let body = app.as_admin(USER_COUNT, json!({})).await;
    data(&body)["users"]["totalCount"].as_i64().unwrap()
}

/// The refusal's message, after checking it is `UNAUTHENTICATED` and does not repeat the
/// token (nor its signature).
fn refusal(body: &Value, token: &str) -> String {
    assert_error(body, "UNAUTHENTICATED");
    let text = body.to_string();
    let signature = token.rsplit('.').next().unwrap_or_default();
    assert!(!text.contains(token), "the token is echoed: {text}");
    assert!(
        signature.len() < 8 || !text.contains(signature),
        "the signature is echoed: {text}"
    );
    body["errors"][0]["message"].as_str().unwrap().to_owned()
}

on_both_backends!(
    a_first_token_makes_a_member_and_the_same_sub_finds_them_again,
    each_bad_token_is_refused_saying_which_check_failed,
    a_rotated_key_works_at_once_and_unknown_key_ids_fetch_at_most_once,
    the_cached_keys_still_verify_when_the_provider_is_down,
    the_role_comes_from_the_claim_within_the_allowed_roles,
    a_deleted_users_token_is_refused_and_a_restored_one_signs_in,
    an_email_held_by_a_live_user_links_only_when_allowed,
    concurrent_first_sign_ins_of_one_person_make_one_user,
    a_purged_users_identity_goes_with_them,
    the_pages_learn_the_provider_and_may_reach_its_token_endpoint_only,
    an_erased_user_is_forgotten_by_the_provider_link_too,
    a_provider_token_signs_a_subscription_socket_in_and_a_forged_one_is_closed,
);

/// Valid tokens of each algorithm (RS256, ES256, EdDSA) for one `sub`: one member, made from
/// the claims; Keepsake's own tokens keep working beside them.
async fn a_first_token_makes_a_member_and_the_same_sub_finds_them_again(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let before = user_count(&app).await;
    let claims = json!({ "sub": "ada-1815", "email": " Ada@Example.COM ", "name": "Ada Lovelace",
        "email_verified": true });
    let body = me(&app, &provider.token("rsa-1", claims.clone())).await;
    assert_ok(&body);
    let first = data(&body)["me"].clone();
    assert_eq!(first["email"], "ada@example.com", "{body}");
    assert_eq!(first["name"], "Ada Lovelace");
    assert_eq!(first["role"], "MEMBER");
    for kid in ["ec-1", "ed-1", "rsa-1"] {
        let body = me(&app, &provider.token(kid, claims.clone())).await;
        assert_eq!(data(&body)["me"]["id"], first["id"], "{kid}: {body}");
    }
    // Another subject with another email is another user.
    let body = me(
        &app,
        &provider.token(
            "ec-1",
            json!({ "sub": "grace-1906", "email": "grace@example.com" }),
        ),
    )
    .await;
    assert_ok(&body);
    assert_ne!(data(&body)["me"]["id"], first["id"]);
    assert_eq!(
        data(&body)["me"]["name"],
        "grace",
        "the email's name stands in"
    );
    assert_eq!(user_count(&app).await, before + 2);
    // The admin's own HS256 token still works.
    let body = app.as_admin("{ me { role } }", json!({})).await;
    assert_eq!(data(&body)["me"]["role"], "ADMIN", "{body}");
}

/// Wrong audience, wrong issuer, expired, not yet valid, a key not in the set (unknown and
/// known key id), `alg: none`, HS256 with the public key as the secret, no `sub`, an
/// unverified email: each `UNAUTHENTICATED`, saying which, and nobody is created.
async fn each_bad_token_is_refused_saying_which_check_failed(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let before = user_count(&app).await;
    let now = chrono::Utc::now().timestamp();
    let who = |sub: &str| json!({ "sub": sub, "email": format!("{sub}@example.com") });
    let with = |sub: &str, extra: Value| {
        let mut claims = who(sub);
        claims
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        claims
    };
    let cases = [
        (
            provider.token("rsa-1", with("aud", json!({ "aud": "another-app" }))),
            "audience (aud)",
        ),
        (
            provider.token("rsa-1", with("noaud", json!({ "aud": null }))),
            "audience (aud)",
        ),
        (
            provider.token(
                "rsa-1",
                with("iss", json!({ "iss": "https://evil.example.com" })),
            ),
            "issuer (iss)",
        ),
        // Past the 30 s leeway, both ways.
        (
            provider.token(
                "ec-1",
                with("exp", json!({ "exp": now - 120, "nbf": now - 600 })),
            ),
            "expired (exp)",
        ),
        (
            provider.token("ed-1", with("nbf", json!({ "nbf": now + 600 }))),
            "not valid yet (nbf)",
        ),
        (
            provider.forged("foreign", "not-published", who("unknown-kid")),
            "not among the issuer's keys",
        ),
        (
            provider.forged("foreign", "rsa-1", who("known-kid")),
            "signature does not verify",
        ),
        (
            provider.forged("none", "rsa-1", who("none")),
            "not signed (alg none)",
        ),
        (
            provider.forged("hs256", "rsa-1", who("hs256")),
            "alg HS256 is not its key's RS256",
        ),
        (
            provider.token("rsa-1", json!({ "email": "nosub@example.com" })),
            "subject (sub)",
        ),
        (
            provider.token(
                "rsa-1",
                with("unverified", json!({ "email_verified": false })),
            ),
            "not verified",
        ),
        (
            provider.token("rsa-1", json!({ "sub": "no-email" })),
            "no usable email",
        ),
    ];
    for (token, says) in cases {
        let body = me(&app, &token).await;
        let message = refusal(&body, &token);
        assert!(message.contains(says), "{says:?} not in {message:?}");
    }
    assert_eq!(user_count(&app).await, before, "no user was created");
}

/// A key added at the provider after the start is used at once (one fetch); then 1,000
/// tokens with random key ids are refused without another fetch, counted at the provider.
async fn a_rotated_key_works_at_once_and_unknown_key_ids_fetch_at_most_once(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let at_start = provider.jwks_fetches();
    assert_eq!(at_start, 1, "the start fetches the keys once");
    let kid = provider.ask(json!({ "op": "rotate" }))["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let claims = json!({ "sub": "rotated", "email": "rotated@example.com" });
    let body = me(&app, &provider.token(&kid, claims.clone())).await;
    assert_ok(&body);
    assert_eq!(
        provider.jwks_fetches(),
        2,
        "the unknown kid fetched the keys once"
    );
    // A real token, its header replaced by one naming a random key id.
    let valid = provider.token("rsa-1", claims);
    let payload = valid.split_once('.').unwrap().1;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut refused = 0;
    for _ in 0..1000 {
        let mut random = [0u8; 12];
        getrandom::fill(&mut random).unwrap();
        let header = b64
            .encode(json!({ "alg": "RS256", "typ": "JWT", "kid": b64.encode(random) }).to_string());
        let body = me(&app, &format!("{header}.{payload}")).await;
        assert_error(&body, "UNAUTHENTICATED");
        refused += 1;
    }
    assert_eq!(refused, 1000);
    let fetches = provider.jwks_fetches();
    // Within the minute no fetch at all; a machine slow enough to pass the minute may make one.
    assert!(
        fetches <= 3,
        "{fetches} fetches of the key set for 1,000 unknown kids"
    );
}

/// The provider stops: tokens of the keys already fetched still verify (a new person is even
/// created), a token of a key never seen is refused, and nothing fails otherwise.
async fn the_cached_keys_still_verify_when_the_provider_is_down(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let known = provider.token("rsa-1", json!({ "sub": "k", "email": "k@example.com" }));
    let new_person = provider.token("ed-1", json!({ "sub": "n", "email": "n@example.com" }));
    let kid = provider.ask(json!({ "op": "rotate" }))["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    let unseen = provider.token(&kid, json!({ "sub": "u", "email": "u@example.com" }));
    assert_ok(&me(&app, &known).await);
    assert_eq!(provider.ask(json!({ "op": "stop" }))["stopped"], true);
    assert_ok(&me(&app, &known).await);
    let body = me(&app, &new_person).await;
    assert_ok(&body);
    assert_eq!(data(&body)["me"]["email"], "n@example.com");
    let body = me(&app, &unseen).await;
    assert!(
        refusal(&body, &unseen).contains("not among the issuer's keys"),
        "{body}"
    );
    assert_ok(&me(&app, &known).await);
}

/// `/realm_access/roles`, a string or a list, any case: the most powerful allowed role wins
/// and is written to the row at each sign-in; `admin` is ignored unless allowed.
async fn the_role_comes_from_the_claim_within_the_allowed_roles(backend: Backend) {
    let provider = Provider::start();
    let settings = provider.settings_with(Some("/realm_access/roles"), "member,support", false);
    let app = TestApp::spawn_with(backend, |s| s.oidc = Some(settings)).await;
    let token = |roles: Value| {
        provider.token(
            "rsa-1",
            json!({ "sub": "r", "email": "r@example.com", "realm_access": { "roles": roles } }),
        )
    };
    let role = |body: Value| {
        assert_ok(&body);
        data(&body)["me"]["role"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        role(me(&app, &token(json!(["offline_access", "SUPPORT"]))).await),
        "SUPPORT"
    );
    // Support may read deleted rows now: the role is the row's, and the row says support.
    let body = app
        .graphql(
            Some(&token(json!("Support"))),
            "{ users(includeDeleted: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_ok(&body);
    // Not allowed: admin is ignored, and the row is written back to member.
    assert_eq!(role(me(&app, &token(json!(["Admin"]))).await), "MEMBER");
    let body = app
        .graphql(
            Some(&token(json!("admin"))),
            "{ users(includeDeleted: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_error(&body, "FORBIDDEN");
    // The admin reads the same role from the row.
    let id = data(&me(&app, &token(json!("support"))).await)["me"]["id"].clone();
    let body = app
        .as_admin(
            "query($id: ID!) { user(id: $id) { role } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data(&body)["user"]["role"], "SUPPORT", "{body}");
    // Where admin is allowed, the claim grants it.
    let settings = provider.settings_with(
        Some("/https:~1~1example.com~1role"),
        "member,support,admin",
        false,
    );
    let second = TestApp::beside_with(&app, |s| s.oidc = Some(settings)).await;
    let admin = provider.token(
        "ec-1",
        json!({ "sub": "r", "email": "r@example.com", "https://example.com/role": ["member", "ADMIN"] }),
    );
    assert_eq!(role(me(&second, &admin).await), "ADMIN");
}

/// A deleted user's token of the issuer is refused like an own token (and no new user is
/// made for it); restored, the user signs in again as the same user.
async fn a_deleted_users_token_is_refused_and_a_restored_one_signs_in(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let token = provider.token("rsa-1", json!({ "sub": "d", "email": "d@example.com" }));
    let body = me(&app, &token).await;
    let id = data(&body)["me"]["id"].as_str().unwrap().to_owned();
    app.admin().delete_user(&id, Some("left")).await;
    let count = user_count(&app).await;
    let body = me(&app, &token).await;
    assert!(
        refusal(&body, &token).contains("no longer exists"),
        "{body}"
    );
    assert_eq!(
        user_count(&app).await,
        count,
        "no second user for a deleted one"
    );
    app.admin().restore_user(&id, Some("came back")).await;
    let body = me(&app, &token).await;
    assert_eq!(data(&body)["me"]["id"], id.as_str(), "{body}");
}

/// A first token whose email a live user holds: refused by default; with linking allowed,
/// that user is signed in (and stays linked).
async fn an_email_held_by_a_live_user_links_only_when_allowed(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let held = app.member("held@example.com").await;
    let token = provider.token("rsa-1", json!({ "sub": "h", "email": "HELD@example.com" }));
    let body = me(&app, &token).await;
    assert!(
        refusal(&body, &token).contains("already holds this email"),
        "{body}"
    );
    let settings = provider.settings_with(None, "member,support", true);
    let linking = TestApp::beside_with(&app, |s| s.oidc = Some(settings)).await;
    let body = me(&linking, &token).await;
    assert_eq!(data(&body)["me"]["id"], held.id.as_str(), "{body}");
    // Linked now: the first server finds the same user too.
    let body = me(&app, &token).await;
    assert_eq!(data(&body)["me"]["id"], held.id.as_str(), "{body}");
}

/// `keepsake serve` with `env` fails at start: one line on stderr naming `setting`.
fn start_fails_naming(setting: &str, env: &[(&str, &str)]) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/o.db?mode=rwc", dir.path().display());
    let mut command = crate::helpers::keepsake(&url);
    command.args(["serve", "--bind", "127.0.0.1:0"]);
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().unwrap();
    assert!(!output.status.success(), "must fail for {setting}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line, got: {stderr}");
    assert!(
        lines[0].contains(setting),
        "{setting} not named in: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// An issuer that does not answer discovery, one whose discovery names another issuer, a
/// missing audience, an unknown role name, a role claim that is no JSON pointer.
#[test]
fn misconfiguration_stops_the_start_naming_the_setting() {
    let dead = [
        ("KEEPSAKE_OIDC_ISSUER", "http://127.0.0.1:1/realms/main"),
        ("KEEPSAKE_OIDC_AUDIENCE", "keepsake-api"),
    ];
    start_fails_naming("KEEPSAKE_OIDC_ISSUER", &dead);
    start_fails_naming("KEEPSAKE_OIDC_AUDIENCE", &dead[..1]);
    start_fails_naming(
        "KEEPSAKE_OIDC_ISSUER",
        &[("KEEPSAKE_OIDC_AUDIENCE", "keepsake-api")],
    );
    let mut roles = dead.to_vec();
    roles.push(("KEEPSAKE_OIDC_ROLES", "member,superuser"));
    start_fails_naming("KEEPSAKE_OIDC_ROLES", &roles);
    let mut claim = dead.to_vec();
    claim.push(("KEEPSAKE_OIDC_ROLE_CLAIM", "realm_access.roles"));
    start_fails_naming("KEEPSAKE_OIDC_ROLE_CLAIM", &claim);
    let provider = Provider::start();
    let slash = format!("{}/", provider.issuer);
    start_fails_naming(
        "KEEPSAKE_OIDC_ISSUER",
        &[
            ("KEEPSAKE_OIDC_ISSUER", slash.as_str()),
            ("KEEPSAKE_OIDC_AUDIENCE", "keepsake-api"),
        ],
    );
}

/// Eight requests with one new person's token at once: one user, and every request is theirs.
async fn concurrent_first_sign_ins_of_one_person_make_one_user(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let before = user_count(&app).await;
    let token = provider.token(
        "ed-1",
        json!({ "sub": "twin", "email": "twin@example.com" }),
    );
    let bodies = futures_util::future::join_all((0..8).map(|_| me(&app, &token))).await;
    let ids: std::collections::BTreeSet<String> = bodies
        .iter()
        .map(|body| {
            assert_ok(body);
            data(body)["me"]["id"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "{bodies:?}");
    assert_eq!(user_count(&app).await, before + 1);
}

/// Purged, a user's identity goes with their row: the person's next sign-in makes a new
/// member instead of failing or finding the purged one.
async fn a_purged_users_identity_goes_with_them(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let token = provider.token("rsa-1", json!({ "sub": "p", "email": "p@example.com" }));
    let first = data(&me(&app, &token).await)["me"]["id"].clone();
    app.admin()
        .delete_user(first.as_str().unwrap(), Some("gone"))
        .await;
    let body = app
        .as_admin(
            "mutation { purgeDeleted(olderThan: \"0s\", dryRun: false) { users } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&body)["purgeDeleted"]["users"], 1, "{body}");
    let body = me(&app, &token).await;
    assert_ok(&body);
    assert_ne!(data(&body)["me"]["id"], first, "a new user");
    app.assert_invariants().await;
}

/// `/sign-in.json` gives the pages the provider's endpoints and the client id (`{}` without an
/// issuer), and the pages' policy adds the token endpoint's origin to `connect-src`, nothing
/// else.
async fn the_pages_learn_the_provider_and_may_reach_its_token_endpoint_only(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let plain = TestApp::beside(&app).await;
    let get = |app: &TestApp, path: &str| {
        let request = app.http.get(format!("{}{path}", app.base));
        async move { request.send().await.unwrap() }
    };
    let config: Value = get(&app, "/sign-in.json").await.json().await.unwrap();
    assert_eq!(config["client_id"], "keepsake-trash", "{config}");
    assert_eq!(config["issuer"], provider.issuer.as_str());
    assert_eq!(
        config["token_endpoint"],
        format!("{}/token", provider.issuer),
        "{config}"
    );
    assert!(
        config["authorization_endpoint"]
            .as_str()
            .unwrap()
            .starts_with(&provider.issuer)
    );
    let none: Value = get(&plain, "/sign-in.json").await.json().await.unwrap();
    assert_eq!(none, json!({}));
    let policy = |response: reqwest::Response| {
        response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    let with = policy(get(&app, "/trash").await);
    let without = policy(get(&plain, "/trash").await);
    assert!(without.contains("connect-src 'self';"), "{without}");
    assert_eq!(
        with,
        without.replace(
            "connect-src 'self';",
            &format!("connect-src 'self' {};", provider.issuer)
        )
    );
}

/// Erased, a user's link to the provider goes too: the token that signed them in then makes
/// a new member, not the erased one (whose email and name are placeholders now).
async fn an_erased_user_is_forgotten_by_the_provider_link_too(backend: Backend) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let token = provider.token("rsa-1", json!({ "sub": "e", "email": "e@example.com" }));
    let first = data(&me(&app, &token).await)["me"]["id"].clone();
    let body = app
        .as_admin(
            crate::erasure::ERASE,
            json!({ "id": first, "reason": "asked to be forgotten", "dry": false }),
        )
        .await;
    assert_ok(&body);
    let body = me(&app, &token).await;
    assert_ok(&body);
    assert_ne!(data(&body)["me"]["id"], first, "{body}");
    assert_eq!(data(&body)["me"]["email"], "e@example.com");
    app.assert_invariants().await;
}

/// The first message a socket gets after `connection_init` with `token`: `Ok(type)` of a text
/// message, or `Err(close code)`.
async fn socket_answer(app: &TestApp, token: &str) -> Result<String, u16> {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
    let url = format!("{}/graphql/ws", app.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let init = json!({ "type": "connection_init",
                       "payload": { "Authorization": format!("Bearer {token}") } });
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .unwrap();
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(20), socket.next())
            .await
            .expect("an answer in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                return Ok(value["type"].as_str().unwrap_or_default().to_owned());
            }
            Some(Ok(Message::Close(Some(frame)))) => return Err(frame.code.into()),
            Some(Ok(Message::Close(None))) | None => return Err(1005),
            Some(Ok(_)) => continue,
            Some(Err(err)) => panic!("not closed cleanly: {err}"),
        }
    }
}

/// Over `/graphql/ws` too: the provider's token in `connection_init` signs its user in (made
/// on first sight); an HS256 token forged with the provider's public key is closed 4403.
async fn a_provider_token_signs_a_subscription_socket_in_and_a_forged_one_is_closed(
    backend: Backend,
) {
    let provider = Provider::start();
    let app = spawn(backend, &provider).await;
    let claims = json!({ "sub": "ws", "email": "ws@example.com" });
    let token = provider.token("ed-1", claims.clone());
    assert_eq!(
        socket_answer(&app, &token).await,
        Ok("connection_ack".into())
    );
    let forged = provider.forged("hs256", "rsa-1", claims);
    assert_eq!(socket_answer(&app, &forged).await, Err(4403));
}
