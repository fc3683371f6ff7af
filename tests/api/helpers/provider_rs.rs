//! The tests' OpenID provider written in Rust: the same commands and answers as
//! `.ci/oidc-provider.mjs`, served by a real HTTP server (axum) on 127.0.0.1 at a free port,
//! on a thread and runtime of its own so that [`RustProvider::ask`] stays synchronous. It
//! serves discovery and the JWK set (counting the set's fetches); its `authorization_endpoint`
//! and `token_endpoint` answer 404 (the browser's code flow is the npm provider's alone).
//!
//! Its keys are test-only fixtures made once with `openssl` (tests/api/fixtures/oidc/): RSA
//! 2048 (`rsa-1`, and `rsa-2`.. for "rotate"), P-256 (`ec-1`), Ed25519 (`ed-1`), and an RSA
//! key that is never published (`foreign-rsa`).

use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

macro_rules! fixture {
    ($name:literal) => {
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/api/fixtures/oidc/",
            $name
        ))
    };
}

/// A signing key: its private DER, its public JWK (as published) and its algorithm.
struct Key {
    alg: Algorithm,
    der: &'static [u8],
    jwk: &'static [u8],
}

impl Key {
    fn kid(&self) -> String {
        self.public()["kid"].as_str().unwrap().to_owned()
    }

    fn public(&self) -> Value {
        serde_json::from_slice(self.jwk).expect("a fixture JWK is JSON")
    }

    fn encoding(&self) -> EncodingKey {
        match self.alg {
            Algorithm::RS256 => EncodingKey::from_rsa_der(self.der),
            Algorithm::ES256 => EncodingKey::from_ec_der(self.der),
            Algorithm::EdDSA => EncodingKey::from_ed_der(self.der),
            other => unreachable!("no fixture key for {other:?}"),
        }
    }
}

const fn rsa(der: &'static [u8], jwk: &'static [u8]) -> Key {
    Key {
        alg: Algorithm::RS256,
        der,
        jwk,
    }
}

/// The keys published from the start.
fn initial_keys() -> Vec<Key> {
    vec![
        rsa(fixture!("rsa-1.der"), fixture!("rsa-1.jwk.json")),
        Key {
            alg: Algorithm::ES256,
            der: fixture!("ec-1.p8.der"),
            jwk: fixture!("ec-1.jwk.json"),
        },
        Key {
            alg: Algorithm::EdDSA,
            der: fixture!("ed-1.p8.der"),
            jwk: fixture!("ed-1.jwk.json"),
        },
    ]
}

/// The keys "rotate" adds, one at a time (`rsa-2`, `rsa-3`, ...).
fn rotation_keys() -> Vec<Key> {
    vec![
        rsa(fixture!("rsa-2.der"), fixture!("rsa-2.jwk.json")),
        rsa(fixture!("rsa-3.der"), fixture!("rsa-3.jwk.json")),
        rsa(fixture!("rsa-4.der"), fixture!("rsa-4.jwk.json")),
    ]
}

/// The key no JWK set holds.
const FOREIGN: &[u8] = fixture!("foreign-rsa.der");

/// What the server and the commands share.
struct Shared {
    issuer: String,
    published: Mutex<Vec<Key>>,
    jwks: AtomicU64,
}

impl Shared {
    fn jwk_set(&self) -> Value {
        let keys: Vec<Value> = self
            .published
            .lock()
            .unwrap()
            .iter()
            .map(Key::public)
            .collect();
        json!({ "keys": keys })
    }
}

/// A running Rust provider; stopped when dropped.
pub struct RustProvider {
    pub issuer: String,
    shared: Arc<Shared>,
    rotations: Mutex<std::vec::IntoIter<Key>>,
    server: Mutex<Option<Server>>,
}

/// The serving thread and the signal that stops it.
struct Server {
    stop: tokio::sync::oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Server {
    /// Stops serving: the listener and every open connection close (the thread's runtime is
    /// dropped with its tasks) before this returns.
    fn stop(self) {
        let _ = self.stop.send(());
        self.thread
            .join()
            .expect("the provider's thread ends cleanly");
    }
}

impl RustProvider {
    pub fn start() -> RustProvider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
        listener.set_nonblocking(true).unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let shared = Arc::new(Shared {
            issuer: issuer.clone(),
            published: Mutex::new(initial_keys()),
            jwks: AtomicU64::new(0),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let router = router(shared.clone());
        let thread = std::thread::Builder::new()
            .name("oidc-provider".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                    tokio::select! {
                        served = axum::serve(listener, router) => served.unwrap(),
                        _ = stopped => {}
                    }
                });
                // Dropping the runtime here drops the connections' tasks too.
            })
            .unwrap();
        RustProvider {
            issuer,
            shared,
            rotations: Mutex::new(rotation_keys().into_iter()),
            server: Mutex::new(Some(Server { stop, thread })),
        }
    }

    /// One command's answer, as `.ci/oidc-provider.mjs` gives it (`{"error": ..}` when the
    /// command cannot be done).
    pub fn ask(&self, command: &Value) -> Value {
        let claims = &command["claims"];
        let kid = command["kid"].as_str().unwrap_or_default();
        match command["op"].as_str().unwrap_or_default() {
            "token" => {
                let published = self.shared.published.lock().unwrap();
                let Some(key) = published.iter().find(|key| key.kid() == kid) else {
                    return json!({ "error": "Cannot build token: Unknown key." });
                };
                let now = chrono::Utc::now().timestamp();
                let expires_in = command["expiresIn"].as_i64().unwrap_or(3600);
                let mut payload = json!({ "iss": self.issuer, "iat": now,
                                          "exp": now + expires_in, "nbf": now - 10 });
                apply(&mut payload, claims);
                json!({ "token": sign(key.alg, kid, &payload, &key.encoding()) })
            }
            "rotate" => {
                let Some(key) = self.rotations.lock().unwrap().next() else {
                    return json!({ "error": "no pre-made RSA key is left to rotate to" });
                };
                let kid = key.kid();
                self.shared.published.lock().unwrap().push(key);
                json!({ "kid": kid })
            }
            "foreign" => {
                let payload = self.base_payload(claims);
                let key = EncodingKey::from_rsa_der(FOREIGN);
                json!({ "token": sign(Algorithm::RS256, kid, &payload, &key) })
            }
            "hs256" => {
                // The secret is the key's public JWK as the set publishes it, in JSON.
                let published = self.shared.published.lock().unwrap();
                let Some(key) = published.iter().find(|key| key.kid() == kid) else {
                    return json!({ "error": format!("no published key {kid}") });
                };
                let secret = key.public().to_string();
                let payload = self.base_payload(claims);
                let key = EncodingKey::from_secret(secret.as_bytes());
                json!({ "token": sign(Algorithm::HS256, kid, &payload, &key) })
            }
            "none" => {
                let b64 = |value: &Value| {
                    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
                };
                let header = json!({ "alg": "none", "kid": kid, "typ": "JWT" });
                let payload = self.base_payload(claims);
                json!({ "token": format!("{}.{}.", b64(&header), b64(&payload)) })
            }
            "count" => json!({ "jwks": self.shared.jwks.load(Ordering::SeqCst) }),
            "stop" => {
                if let Some(server) = self.server.lock().unwrap().take() {
                    server.stop();
                }
                json!({ "stopped": true })
            }
            other => json!({ "error": format!("unknown op {other} (the browser's code flow \
                                               and its \"login\" are the npm provider's)") }),
        }
    }

    /// The claims of a token not made by the provider's own signing: `iss`, `iat`, `nbf` and
    /// a `exp` an hour away, then `claims`.
    fn base_payload(&self, claims: &Value) -> Value {
        let now = chrono::Utc::now().timestamp();
        let mut payload =
            json!({ "iss": self.issuer, "iat": now, "nbf": now - 10, "exp": now + 3600 });
        apply(&mut payload, claims);
        payload
    }
}

impl Drop for RustProvider {
    fn drop(&mut self) {
        if let Some(server) = self.server.get_mut().unwrap().take() {
            server.stop();
        }
    }
}

/// `claims` over `payload`; a `null` removes the claim.
fn apply(payload: &mut Value, claims: &Value) {
    let payload = payload.as_object_mut().unwrap();
    for (name, value) in claims.as_object().into_iter().flatten() {
        if value.is_null() {
            payload.remove(name);
        } else {
            payload.insert(name.clone(), value.clone());
        }
    }
}

/// A JWT of `payload` with the header `{typ: JWT, alg, kid}`.
fn sign(alg: Algorithm, kid: &str, payload: &Value, key: &EncodingKey) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, payload, key).expect("a fixture key signs")
}

/// Discovery, the JWK set (counted), and 404 for anything else.
fn router(shared: Arc<Shared>) -> axum::Router {
    use axum::Json;
    use axum::extract::State;
    use axum::routing::get;
    async fn discovery(State(shared): State<Arc<Shared>>) -> Json<Value> {
        let issuer = &shared.issuer;
        Json(json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        }))
    }
    async fn jwks(State(shared): State<Arc<Shared>>) -> Json<Value> {
        shared.jwks.fetch_add(1, Ordering::SeqCst);
        Json(shared.jwk_set())
    }
    axum::Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/jwks", get(jwks))
        .with_state(shared)
}
