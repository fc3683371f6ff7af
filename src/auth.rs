//! Who is asking: bearer tokens, roles, and the [`Viewer`] every request runs as.
//!
//! A token is an HS256 JWT whose `sub` is the user's GraphQL id. The role is never taken from
//! the token: each request loads the user's *live* row, so a demotion or a soft delete takes
//! effect at once (a deleted user's token is `UNAUTHENTICATED`).
//!
//! Tokens of one external OpenID Connect issuer are accepted too when one is configured
//! ([`Tokens::with_issuer`]; `oidc` verifies them and finds or creates their user).
//!
//! One other kind of token exists: the undo credential ([`UndoGrant`]) that deleting one's
//! own account returns once. Its `undo` claim names that deletion; it signs nobody in, and
//! can only restore that deletion inside the undo window.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::entity::user;
use crate::error::{Error, Result};
use crate::ids::{self, Kind};
use crate::oidc::Issuer;
pub use crate::role::Role;
use crate::soft_delete::{Db, Scope, Scoped, SeeDeleted};

/// The authenticated user a request runs as. Only [`Tokens::authenticate`] makes one, from
/// a valid token and the user's live row, so a role (and the [`SeeDeleted`] proof it may
/// grant) cannot be forged elsewhere in the code.
#[derive(Clone, Debug)]
pub struct Viewer {
    id: i64,
    role: Role,
}

impl Viewer {
    /// The user's row id.
    pub fn id(&self) -> i64 {
        self.id
    }

    /// The role read from the user's live row at this request.
    pub fn role(&self) -> Role {
        self.role
    }

    /// A viewer made by hand, for unit tests of the rules.
    #[cfg(test)]
    pub(crate) fn for_tests(id: i64, role: Role) -> Viewer {
        Viewer { id, role }
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
    /// Only on an undo credential: the id of the one deletion it may restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    undo: Option<String>,
}

/// A checked undo credential: user `user` may restore deletion `deletion` (their own
/// account's), and nothing else, until `until`. Only [`Tokens::authenticate`] makes one, from
/// a token this server signed; the restore checks the deletion again under its lock.
#[derive(Clone, Debug)]
pub struct UndoGrant {
    user: i64,
    deletion: i64,
    until: DateTime<Utc>,
}

impl UndoGrant {
    /// The deleted user the credential was given to.
    pub fn user(&self) -> i64 {
        self.user
    }

    /// The one deletion it may restore.
    pub fn deletion(&self) -> i64 {
        self.deletion
    }

    /// When it stops working (the deletion's time plus the undo window).
    pub fn until(&self) -> DateTime<Utc> {
        self.until
    }
}

/// Who a bearer token speaks for.
#[derive(Clone, Debug)]
pub enum Bearer {
    /// A live user, signed in.
    Viewer(Viewer),
    /// Nobody signed in: the holder of an undo credential.
    Undo(UndoGrant),
}

/// Signs and checks tokens with one HS256 secret.
#[derive(Clone)]
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key id put in every token's `kid` header: the first 8 hex digits of the secret's
    /// SHA-256. 32 bits of a hash of a secret of at least 16 characters give nothing away,
    /// and they tell "signed with another secret" apart from "forged or damaged".
    kid: String,
    /// The external issuer whose tokens are accepted too, when one is configured.
    issuer: Option<Arc<Issuer>>,
}

/// Told to a holder of a token whose `kid` names another secret.
pub const OTHER_SECRET: &str = "the token was signed with a different secret (another database \
     or KEEPSAKE_JWT_SECRET); get a new one with keepsake token";

/// Told to a holder of something that is not a token at all (a JWT is three dot-separated
/// base64 parts): most often a token pasted with more around it.
pub const NOT_A_TOKEN: &str = "the token is not valid: it is not a JWT (three parts separated \
     by dots, starting eyJ) — paste only the token, without `Bearer ` or JSON";

/// The key id of a secret: the first 8 hex digits of its SHA-256.
pub fn key_id(secret: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(secret)
        .iter()
        .take(4)
        .map(|b| format!("{b:02x}"))
        .collect()
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(<secret>)")
    }
}

impl Tokens {
    /// Keys from a shared secret.
    pub fn new(secret: &[u8]) -> Tokens {
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            kid: key_id(secret),
            issuer: None,
        }
    }

    /// These keys, accepting `issuer`'s tokens too.
    pub fn with_issuer(mut self, issuer: Arc<Issuer>) -> Tokens {
        self.issuer = Some(issuer);
        self
    }

    /// The external issuer, when one is configured.
    pub fn issuer(&self) -> Option<&Issuer> {
        self.issuer.as_deref()
    }

    /// A token for user `user_id`, valid for `ttl`.
    pub fn issue(&self, user_id: i64, ttl: Duration) -> anyhow::Result<String> {
        let now = Utc::now().timestamp();
        self.sign(&Claims {
            sub: ids::encode(Kind::User, user_id),
            iat: now,
            exp: now.saturating_add(i64::try_from(ttl.as_secs())?),
            undo: None,
        })
    }

    /// The undo credential for user `user_id`'s deletion of their own account, `deletion_id`,
    /// valid until `until`. It signs nobody in: see [`UndoGrant`].
    pub fn issue_undo(
        &self,
        user_id: i64,
        deletion_id: i64,
        until: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        self.sign(&Claims {
            sub: ids::encode(Kind::User, user_id),
            iat: Utc::now().timestamp(),
            exp: until.timestamp(),
            undo: Some(ids::encode(Kind::Deletion, deletion_id)),
        })
    }

    fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        Ok(jsonwebtoken::encode(&header, claims, &self.encoding)?)
    }

    /// The claims of a token signed with our secret and unexpired; an expired undo
    /// credential says what it was.
    fn verify(&self, token: &str) -> Result<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        // Checked below, once the signature holds, so that the message can say which kind
        // of token expired.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|err| {
                match err.kind() {
                    jsonwebtoken::errors::ErrorKind::InvalidSignature
                        if self.signed_with_another_secret(token) =>
                    {
                        Error::Unauthenticated(OTHER_SECRET.into())
                    }
                    jsonwebtoken::errors::ErrorKind::InvalidToken
                    | jsonwebtoken::errors::ErrorKind::Base64(_)
                    | jsonwebtoken::errors::ErrorKind::Json(_)
                    | jsonwebtoken::errors::ErrorKind::Utf8(_) => {
                        Error::Unauthenticated(NOT_A_TOKEN.into())
                    }
                    _ => Error::Unauthenticated("the token is not valid".into()),
                }
            })?;
        if data.claims.exp <= Utc::now().timestamp() {
            return Err(Error::Unauthenticated(match data.claims.undo {
                None => "the token has expired; ask for a new one".into(),
                Some(_) => "the undo credential has expired: the undo window has passed; an admin \
                     can still restore the account"
                    .into(),
            }));
        }
        Ok(data.claims)
    }

    /// Whether the token's `kid` names a secret other than ours (tokens without one, issued
    /// before key ids, cannot tell).
    fn signed_with_another_secret(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|header| header.kid)
            .is_some_and(|kid| kid != self.kid)
    }

    /// The user a header's token was signed for, if it is one of ours and unexpired: the
    /// signature alone, nothing read. For counting a user's requests before any work is done
    /// for them; [`Tokens::authenticate`] decides who is signed in.
    pub fn claimed_user(&self, header: Option<&str>) -> Option<i64> {
        let token = bearer_token(header?)?;
        let claims = self.verify(token).ok()?;
        ids::decode(Kind::User, &claims.sub).ok()
    }

    /// Who an `Authorization` header value speaks for: a signed-in viewer, checked against
    /// the live users, or the holder of an undo credential. A token of the external issuer
    /// signs its user in (created on first sight).
    pub async fn authenticate(&self, h: &Db, header: Option<&str>) -> Result<Bearer> {
        let header = header.ok_or_else(|| {
            Error::Unauthenticated("sign in: send an Authorization: Bearer <token> header".into())
        })?;
        let token = bearer_token(header).ok_or_else(|| {
            Error::Unauthenticated(
                "the Authorization header must be 'Bearer <token>' — paste only the token \
                 after `Bearer `, without JSON"
                    .into(),
            )
        })?;
        if let Some(issuer) = &self.issuer
            && issuer.claims_token(token)
        {
            let identity = issuer.verify(token).await?;
            let user = issuer.sign_in(h, &identity).await?;
            return Ok(Bearer::Viewer(Viewer {
                id: user.id,
                role: stored_role(&user)?,
            }));
        }
        let claims = self.verify(token)?;
        let invalid = || Error::Unauthenticated("the token is not valid".into());
        let user_id = ids::decode(Kind::User, &claims.sub).map_err(|_| invalid())?;
        if let Some(undo) = claims.undo {
            // The account is deleted: nothing is read here. The restore checks, under the
            // deletion's lock, that it is this user's deletion of their own account.
            return Ok(Bearer::Undo(UndoGrant {
                user: user_id,
                deletion: ids::decode(Kind::Deletion, &undo).map_err(|_| invalid())?,
                until: DateTime::from_timestamp(claims.exp, 0).ok_or_else(invalid)?,
            }));
        }
        let user = Scoped::<user::Entity>::live()
            .by_id(h, user_id)
            .await?
            .ok_or_else(|| Error::Unauthenticated("the token's user no longer exists".into()))?;
        Ok(Bearer::Viewer(Viewer {
            id: user.id,
            role: stored_role(&user)?,
        }))
    }
}

/// The role in a user's row.
fn stored_role(user: &user::Model) -> Result<Role> {
    Ok(Role::parse(&user.role)
        .ok_or_else(|| anyhow::anyhow!("user {} has an unknown role {:?}", user.id, user.role))?)
}

/// The token of an `Authorization` header value, however it was pasted: `Bearer <token>`,
/// the prefix doubled (`Bearer Bearer <token>`, from a client that adds its own), the whole
/// `Authorization: Bearer <token>` line, the token alone, any of these in quotes or with
/// spaces around. `None` when what is left is no single word (another scheme, `Basic …`).
pub fn bearer_token(header: &str) -> Option<&str> {
    let mut rest = header;
    loop {
        let unquoted = rest.trim().trim_matches(['"', '\'']).trim();
        let next = strip_word(strip_word(unquoted, "authorization"), "bearer");
        if next == rest {
            break;
        }
        rest = next;
    }
    (!rest.is_empty() && !rest.contains(char::is_whitespace)).then_some(rest)
}

/// `text` without a leading `word` (any case) that whitespace, a colon or the end ends.
fn strip_word<'a>(text: &'a str, word: &str) -> &'a str {
    match text.get(..word.len()) {
        Some(head) if head.eq_ignore_ascii_case(word) => {
            let tail = &text[word.len()..];
            match tail.strip_prefix(':') {
                Some(after) => after.trim_start(),
                None if tail.is_empty() || tail.starts_with(char::is_whitespace) => {
                    tail.trim_start()
                }
                None => text,
            }
        }
        _ => text,
    }
}

/// A fresh random secret, hex-encoded (32 bytes).
pub fn generate_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

impl Viewer {
    /// The proof that this viewer may see deleted rows, or `FORBIDDEN`.
    pub fn see_deleted(&self) -> Result<SeeDeleted> {
        // The one place that grants the proof: the role is this viewer's, read from their
        // live row at this request. The build refuses `for_role` anywhere else (clippy.toml).
        #[allow(clippy::disallowed_methods)]
        SeeDeleted::for_role(self.role).ok_or_else(|| {
            Error::forbidden(
                "includeDeleted/onlyDeleted: only support and admins may see deleted rows",
            )
        })
    }

    /// The scope a read asks for with `includeDeleted`/`onlyDeleted`: `FORBIDDEN` for a member
    /// who asks for deleted rows, `BAD_USER_INPUT` for both flags at once.
    pub fn scope(&self, include_deleted: bool, only_deleted: bool) -> Result<Scope> {
        match (include_deleted, only_deleted) {
            (false, false) => Ok(Scope::Live),
            (true, true) => Err(Error::bad_input(
                "includeDeleted and onlyDeleted: pass at most one of them",
            )),
            (true, false) => Ok(Scope::WithDeleted(self.see_deleted()?)),
            (false, true) => Ok(Scope::OnlyDeleted(self.see_deleted()?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bearer_token;

    #[test]
    fn a_token_is_found_however_it_was_pasted() {
        for pasted in [
            "Bearer eyJ.a.b",
            "bearer eyJ.a.b",
            "Bearer Bearer eyJ.a.b",
            "  Bearer   eyJ.a.b  ",
            "\"Bearer eyJ.a.b\"",
            "Bearer \"eyJ.a.b\"",
            "eyJ.a.b",
            "Authorization: Bearer eyJ.a.b",
            "Bearer: eyJ.a.b",
        ] {
            assert_eq!(bearer_token(pasted), Some("eyJ.a.b"), "{pasted:?}");
        }
        for refused in ["", "Bearer ", "Basic dXNlcjpwYXNz", "Bearer two words"] {
            assert_eq!(bearer_token(refused), None, "{refused:?}");
        }
    }
}
