//! A real OpenID Connect provider for the tests, on 127.0.0.1 at a free port, answering one
//! JSON command at a time (`.ci/oidc-provider.mjs` lists them). Two implementations:
//!
//! - by default the Rust one ([`super::provider_rs`]): an axum server with fixture keys, so
//!   `cargo test` needs nothing but the Rust toolchain;
//! - with `KEEPSAKE_TEST_OIDC_PROVIDER=npm`, `.ci/oidc-provider.mjs` (the npm package
//!   `oauth2-mock-server`, installed by `npm ci` in `.ci`), driven over its stdin and stdout
//!   one JSON line at a time. CI runs the PostgreSQL half of the suite against it.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use keepsake::config::{OidcArgs, OidcSettings};
use serde_json::{Value, json};

use super::provider_rs::RustProvider;

/// The setting that picks the npm provider (`npm`); unset (or `rust`), the Rust one.
pub const CHOICE: &str = "KEEPSAKE_TEST_OIDC_PROVIDER";

/// The audience the tests' tokens are for.
pub const AUDIENCE: &str = "keepsake-api";

/// A running provider; stopped when dropped.
pub struct Provider {
    pub issuer: String,
    engine: Engine,
}

enum Engine {
    Rust(RustProvider),
    Npm(Npm),
}

/// `.ci/oidc-provider.mjs` running under node.
struct Npm {
    child: Child,
    io: Mutex<(ChildStdin, BufReader<ChildStdout>)>,
}

impl Provider {
    /// Starts the provider [`CHOICE`] names: the Rust one unless it says `npm`.
    pub fn start() -> Provider {
        match std::env::var(CHOICE).as_deref().map(str::trim) {
            Err(_) | Ok("" | "rust") => {
                let provider = RustProvider::start();
                Provider {
                    issuer: provider.issuer.clone(),
                    engine: Engine::Rust(provider),
                }
            }
            Ok("npm") => Provider::start_npm(),
            Ok(other) => panic!("{CHOICE}={other:?}: say `npm` or `rust`"),
        }
    }

    /// Starts `.ci/oidc-provider.mjs`. Fails loudly when its packages are not installed.
    fn start_npm() -> Provider {
        let ci = concat!(env!("CARGO_MANIFEST_DIR"), "/.ci");
        assert!(
            std::path::Path::new(ci)
                .join("node_modules/oauth2-mock-server")
                .exists(),
            "the OpenID provider of the tests is not installed: run `npm ci` in .ci"
        );
        let mut child = Command::new("node")
            .arg("oidc-provider.mjs")
            .current_dir(ci)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("node runs .ci/oidc-provider.mjs");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        stdout.read_line(&mut first).unwrap();
        let issuer = serde_json::from_str::<Value>(&first)
            .unwrap_or_else(|err| panic!("{err}: the provider said {first:?}"))["issuer"]
            .as_str()
            .unwrap()
            .to_owned();
        Provider {
            issuer,
            engine: Engine::Npm(Npm {
                child,
                io: Mutex::new((stdin, stdout)),
            }),
        }
    }

    /// One command's answer.
    pub fn ask(&self, command: Value) -> Value {
        let answer = match &self.engine {
            Engine::Rust(provider) => provider.ask(&command),
            Engine::Npm(npm) => {
                let mut io = npm.io.lock().unwrap();
                writeln!(io.0, "{command}").unwrap();
                io.0.flush().unwrap();
                let mut line = String::new();
                io.1.read_line(&mut line).unwrap();
                serde_json::from_str(&line)
                    .unwrap_or_else(|err| panic!("{err}: the provider said {line:?}"))
            }
        };
        assert!(answer.get("error").is_none(), "{answer}");
        answer
    }

    /// A token signed by key `kid` with `claims` over the provider's own (`iss`, `iat`,
    /// `nbf`, `exp`); the audience is [`AUDIENCE`] unless the claims say otherwise.
    pub fn token(&self, kid: &str, claims: Value) -> String {
        let mut all = json!({ "aud": AUDIENCE });
        all.as_object_mut()
            .unwrap()
            .extend(claims.as_object().unwrap().clone());
        self.ask(json!({ "op": "token", "kid": kid, "claims": all }))["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A token of `op` (`foreign`, `hs256`, `none`) under `kid`.
    pub fn forged(&self, op: &str, kid: &str, claims: Value) -> String {
        let mut all = json!({ "aud": AUDIENCE });
        all.as_object_mut()
            .unwrap()
            .extend(claims.as_object().unwrap().clone());
        self.ask(json!({ "op": op, "kid": kid, "claims": all }))["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// How many times the provider's key set was fetched.
    pub fn jwks_fetches(&self) -> u64 {
        self.ask(json!({ "op": "count" }))["jwks"].as_u64().unwrap()
    }

    /// Keepsake's settings for this provider.
    pub fn settings(&self) -> OidcSettings {
        self.settings_with(None, "member,support", false)
    }

    /// Keepsake's settings for this provider, with a role claim, allowed roles and linking.
    pub fn settings_with(
        &self,
        role_claim: Option<&str>,
        roles: &str,
        link_by_email: bool,
    ) -> OidcSettings {
        OidcSettings::from_args(OidcArgs {
            issuer: Some(&self.issuer),
            audience: Some(AUDIENCE),
            client_id: Some("keepsake-trash"),
            role_claim,
            roles,
            link_by_email,
        })
        .unwrap()
        .unwrap()
    }
}

impl Drop for Npm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
