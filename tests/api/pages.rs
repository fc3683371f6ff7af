//! The browser pages (`/playground`, `/trash`) and the scripts they load go out under a
//! Content-Security-Policy that runs scripts from Keepsake's origin only (`script-src 'self'`,
//! never inline, never `eval`) and lets no other site frame them, with `Referrer-Policy:
//! no-referrer` and `X-Content-Type-Options: nosniff`. So the pages may hold no inline script:
//! each `<script>` names a file the binary serves as JavaScript. (That the pages then work
//! under their policy, with no violation, is for the browser tests in playground/.)

use reqwest::Response;
use reqwest::header::HeaderMap;

use crate::helpers::{Backend, TestApp, on_both_backends};

on_both_backends!(
    the_pages_and_their_scripts_go_out_under_the_policy_with_no_referrer_and_nosniff,
    the_pages_hold_no_inline_script_and_every_script_they_name_is_served_as_javascript,
);

/// The browser pages.
const PAGES: [&str; 2] = ["/playground", "/trash"];

/// The pages' own scripts, which held their inline code.
const SCRIPTS: [&str; 3] = ["/playground/playground.js", "/trash.js", "/token-paste.js"];

async fn get(app: &TestApp, path: &str) -> Response {
    let response = app
        .http
        .get(format!("{}{path}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).map(|value| value.to_str().unwrap())
}

/// The policy's directives, by name: `script-src 'self'` gives `("script-src", "'self'")`.
fn directives(policy: &str) -> Vec<(String, String)> {
    policy
        .split(';')
        .filter_map(|directive| {
            let mut words = directive.split_whitespace();
            let name = words.next()?.to_ascii_lowercase();
            Some((name, words.collect::<Vec<_>>().join(" ")))
        })
        .collect()
}

/// Asserts the headers every page and page script carries.
fn assert_page_headers(path: &str, headers: &HeaderMap) {
    let policy = header(headers, "content-security-policy")
        .unwrap_or_else(|| panic!("{path}: no Content-Security-Policy"));
    let directives = directives(policy);
    let directive = |name: &str| {
        directives
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, sources)| sources.as_str())
    };
    // Exactly 'self': no 'unsafe-inline', no 'unsafe-eval', no nonce, no other origin.
    assert_eq!(directive("script-src"), Some("'self'"), "{path}: {policy}");
    assert_eq!(
        directive("frame-ancestors"),
        Some("'none'"),
        "{path}: {policy}"
    );
    assert_eq!(directive("default-src"), Some("'self'"), "{path}: {policy}");
    assert_eq!(directive("base-uri"), Some("'none'"), "{path}: {policy}");
    assert!(!policy.contains("unsafe-eval"), "{path}: {policy}");
    assert_eq!(
        header(headers, "referrer-policy"),
        Some("no-referrer"),
        "{path}"
    );
    assert_eq!(
        header(headers, "x-content-type-options"),
        Some("nosniff"),
        "{path}"
    );
}

/// Asserts `response` is a script a browser runs under nosniff.
fn assert_javascript(path: &str, headers: &HeaderMap) {
    let kind = header(headers, "content-type").unwrap_or_default();
    assert!(
        kind == "text/javascript" || kind.starts_with("text/javascript;"),
        "{path}: {kind}"
    );
}

async fn the_pages_and_their_scripts_go_out_under_the_policy_with_no_referrer_and_nosniff(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    for path in PAGES {
        let page = get(&app, path).await;
        assert_page_headers(path, page.headers());
        let kind = header(page.headers(), "content-type").unwrap_or_default();
        assert!(kind.starts_with("text/html"), "{path}: {kind}");
    }
    for path in SCRIPTS {
        let script = get(&app, path).await;
        assert_page_headers(path, script.headers());
        assert_javascript(path, script.headers());
        assert!(!script.text().await.unwrap().is_empty(), "{path} is empty");
    }
    // The vendored GraphiQL goes out the same way; nosniff matters most there.
    let vendored = get(&app, "/playground/vendor/graphiql.min.js").await;
    assert_page_headers("graphiql.min.js", vendored.headers());
    assert_javascript("graphiql.min.js", vendored.headers());
}

/// Each `<script …>…</script>` of `html`: its opening tag and its body.
fn scripts(html: &str) -> Vec<(&str, &str)> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let open_end = after.find('>').expect("a closed <script> tag") + 1;
        let close = after.find("</script>").expect("a </script>");
        found.push((&after[..open_end], &after[open_end..close]));
        rest = &after[close + "</script>".len()..];
    }
    found
}

async fn the_pages_hold_no_inline_script_and_every_script_they_name_is_served_as_javascript(
    backend: Backend,
) {
    let app = TestApp::spawn(backend).await;
    for path in PAGES {
        let html = get(&app, path).await.text().await.unwrap();
        let scripts = scripts(&html);
        assert!(!scripts.is_empty(), "{path} loads no script");
        let mut own = false;
        for (tag, body) in scripts {
            // The policy would refuse an inline body: the page would silently not work.
            assert!(
                body.trim().is_empty(),
                "{path}: an inline script: {tag}{body}"
            );
            let src = tag
                .split("src=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .unwrap_or_else(|| panic!("{path}: a script without a src: {tag}"));
            assert!(
                src.starts_with('/'),
                "{path}: a script from elsewhere: {src}"
            );
            own |= SCRIPTS.contains(&src);
            let script = get(&app, src).await;
            assert_javascript(src, script.headers());
            assert_eq!(
                header(script.headers(), "x-content-type-options"),
                Some("nosniff"),
                "{src}"
            );
        }
        assert!(own, "{path} loads none of the pages' own scripts");
        // Inline event handlers (`onclick="…"`) are inline scripts too, and refused as well.
        for tag in html.split('<').skip(1) {
            let tag = tag.split('>').next().unwrap_or_default();
            let handler = tag
                .split_whitespace()
                .find(|word| word.starts_with("on") && word.contains('='));
            assert_eq!(handler, None, "{path}: an inline event handler in <{tag}>");
        }
    }
}
