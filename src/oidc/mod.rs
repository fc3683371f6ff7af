//! Tokens of one external OpenID Connect issuer (`KEEPSAKE_OIDC_*`, docs/sign-in.md).
//!
//! At start, [`Issuer::discover`] reads `{issuer}/.well-known/openid-configuration` and the key
//! set at its `jwks_uri`; a provider that does not answer stops the start with one line naming
//! the setting. [`Issuer::verify`] then checks a token: signed by one of the issuer's keys with
//! that key's own algorithm (`keys.rs`), `iss` the issuer, `aud` holding the audience, `exp`
//! and `nbf` with [`LEEWAY_SECS`] of leeway for clocks that differ. Each refusal says which
//! check failed, and never repeats the token. [`Issuer::sign_in`] (`sign_in.rs`) finds or
//! creates the user the token speaks for.

mod keys;
mod roles;
mod sign_in;

use std::time::Duration;

use anyhow::Context as _;
use base64::Engine as _;
use jsonwebtoken::Validation;
use jsonwebtoken::errors::ErrorKind;
use serde_json::Value;

use crate::config::OidcSettings;
use crate::error::{Error, Result};
use keys::{KeySet, get_json};
pub use roles::RoleClaim;

/// How far `exp` and `nbf` may be off: 30 s, for clocks that differ a little between the
/// provider and this server.
pub const LEEWAY_SECS: u64 = 30;

/// How long a request to the provider (discovery, keys) may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The external issuer: its settings and its cached keys.
pub struct Issuer {
    issuer: String,
    audience: String,
    client_id: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    end_session_endpoint: Option<String>,
    keys: KeySet,
    role_claim: Option<RoleClaim>,
    link_by_email: bool,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("issuer", &self.issuer)
            .finish()
    }
}

/// Who a verified token says its holder is.
#[derive(Clone, Debug)]
pub struct Identity {
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub name: Option<String>,
    /// All the claims, for the role claim.
    pub claims: Value,
}

/// What a browser page needs to sign in through the issuer.
#[derive(Clone, Debug, serde::Serialize)]
pub struct BrowserSignIn {
    pub issuer: String,
    pub client_id: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_session_endpoint: Option<String>,
}

const ISSUER: &str = "KEEPSAKE_OIDC_ISSUER (--oidc-issuer)";
const ROLES: &str = "KEEPSAKE_OIDC_ROLES (--oidc-roles)";

impl Issuer {
    /// Reads the issuer's discovery document and keys; any failure is one line naming the
    /// setting.
    pub async fn discover(settings: &OidcSettings) -> anyhow::Result<Issuer> {
        let role_claim = match &settings.role_claim {
            Some(pointer) => Some(RoleClaim {
                pointer: pointer.clone(),
                allowed: roles::parse_allowed(&settings.roles)
                    .map_err(|problem| anyhow::anyhow!("{ROLES}: {problem}"))?,
            }),
            None => {
                roles::parse_allowed(&settings.roles)
                    .map_err(|problem| anyhow::anyhow!("{ROLES}: {problem}"))?;
                None
            }
        };
        let client = reqwest013::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .build()
            .context("an HTTP client for the OpenID issuer")?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            settings.issuer.trim_end_matches('/')
        );
        let document = get_json(&client, &url)
            .await
            .map_err(|err| anyhow::anyhow!("{ISSUER}: discovery failed: {err}"))?;
        let text = |name: &str| {
            document
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        if text("issuer").as_deref() != Some(settings.issuer.as_str()) {
            anyhow::bail!(
                "{ISSUER}: {url} names the issuer {:?}, not {:?}; set the setting to exactly the \
                 issuer's own name (its tokens carry it in `iss`)",
                text("issuer").unwrap_or_default(),
                settings.issuer
            );
        }
        let jwks_uri =
            text("jwks_uri").ok_or_else(|| anyhow::anyhow!("{ISSUER}: {url} names no jwks_uri"))?;
        let keys = KeySet::load(client, jwks_uri, settings.refetch_every)
            .await
            .map_err(|err| anyhow::anyhow!("{ISSUER}: the issuer's keys: {err}"))?;
        Ok(Issuer {
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            client_id: settings.client_id.clone(),
            authorization_endpoint: text("authorization_endpoint"),
            token_endpoint: text("token_endpoint"),
            end_session_endpoint: text("end_session_endpoint"),
            keys,
            role_claim,
            link_by_email: settings.link_by_email,
        })
    }

    /// The issuer's name, as its tokens' `iss`.
    pub fn name(&self) -> &str {
        &self.issuer
    }

    /// What the trash page needs to sign in here, when a client id is set.
    pub fn browser_sign_in(&self) -> Option<BrowserSignIn> {
        Some(BrowserSignIn {
            issuer: self.issuer.clone(),
            client_id: self.client_id.clone()?,
            authorization_endpoint: self.authorization_endpoint.clone()?,
            token_endpoint: self.token_endpoint.clone()?,
            end_session_endpoint: self.end_session_endpoint.clone(),
        })
    }

    /// Whether a token is meant for this verifier rather than Keepsake's own: it is not
    /// HS256, or its (not yet verified) `iss` is this issuer.
    pub fn claims_token(&self, token: &str) -> bool {
        let header = part(token, 0);
        let alg = header
            .as_ref()
            .and_then(|h| h.get("alg"))
            .and_then(Value::as_str);
        alg != Some("HS256")
            || part(token, 1)
                .as_ref()
                .and_then(|claims| claims.get("iss"))
                .and_then(Value::as_str)
                == Some(self.issuer.as_str())
    }

    /// The identity of a token this issuer signed, or `UNAUTHENTICATED` saying which check
    /// failed.
    pub async fn verify(&self, token: &str) -> Result<Identity> {
        let refused = |why: &str| Error::Unauthenticated(format!("the token is not valid: {why}"));
        let raw_alg = part(token, 0)
            .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
            .ok_or_else(|| {
                refused("it is not a JWT (three parts separated by dots, starting eyJ)")
            })?;
        if raw_alg.eq_ignore_ascii_case("none") {
            return Err(refused("it is not signed (alg none)"));
        }
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| refused("its alg is not one Keepsake verifies (RS256, ES256, EdDSA)"))?;
        let key = self
            .keys
            .find(header.kid.as_deref().unwrap_or_default())
            .await
            .ok_or_else(|| refused("it is signed by a key that is not among the issuer's keys"))?;
        if header.alg != key.alg {
            return Err(refused(&format!(
                "its alg {:?} is not its key's {:?}",
                header.alg, key.alg
            )));
        }
        let mut validation = Validation::new(key.alg);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<Value>(token, &key.key, &validation).map_err(|err| {
            refused(match err.kind() {
                ErrorKind::ExpiredSignature => "it has expired (exp); sign in again",
                ErrorKind::ImmatureSignature => "it is not valid yet (nbf)",
                ErrorKind::InvalidIssuer => "its issuer (iss) is not KEEPSAKE_OIDC_ISSUER",
                ErrorKind::InvalidAudience => {
                    "its audience (aud) does not hold KEEPSAKE_OIDC_AUDIENCE"
                }
                ErrorKind::InvalidSignature => "its signature does not verify",
                ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
                    "exp" => "it has no expiry (exp)",
                    "iss" => "it has no issuer (iss)",
                    "aud" => "it has no audience (aud)",
                    _ => "it has no subject (sub)",
                },
                ErrorKind::InvalidAlgorithm => "its alg is not its key's",
                _ => "it is not a well-formed JWT",
            })
        })?;
        let claims = data.claims;
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let subject = text("sub")
            .filter(|sub| !sub.is_empty())
            .ok_or_else(|| refused("its subject (sub) is not a string"))?;
        Ok(Identity {
            subject,
            email: text("email"),
            email_verified: claims.get("email_verified").and_then(Value::as_bool),
            name: text("name").or_else(|| text("preferred_username")),
            claims,
        })
    }
}

/// Part `n` of a JWT (0 the header, 1 the claims), decoded, without checking anything.
fn part(token: &str, n: usize) -> Option<Value> {
    let text = token.split('.').nth(n)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}
