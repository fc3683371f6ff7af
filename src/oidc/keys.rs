//! The issuer's signing keys: read from its `jwks_uri`, kept in memory, fetched again when a
//! token names a key id not among them, at most once per [`KeySet::refetch_every`] (60 s).
//!
//! Each key's algorithm comes from the key itself (an RSA key is RS256, a P-256 key ES256,
//! an Ed25519 key EdDSA); a token's `alg` must match it, so a token cannot choose how it is
//! checked (no `none`, no HS256 with the public key as the secret). Symmetric keys, keys for
//! encryption and keys of other algorithms in the set are skipped.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};

/// One verification key and the one algorithm it verifies.
#[derive(Clone)]
pub(super) struct Key {
    pub alg: Algorithm,
    pub key: DecodingKey,
}

/// The keys by `kid` (a key without one is kept under the empty string).
type Keys = Arc<HashMap<String, Key>>;

/// The cached key set and the rule for fetching it again.
pub(super) struct KeySet {
    client: reqwest013::Client,
    jwks_uri: String,
    keys: RwLock<Keys>,
    /// When an unknown `kid` last made us fetch (the start's fetch does not count, so a key
    /// rotated before the first minute is found too); held while fetching, so a flood of
    /// unknown ids waits for one fetch instead of making many.
    last_refetch: tokio::sync::Mutex<Option<Instant>>,
    refetch_every: Duration,
}

impl KeySet {
    /// The key set at `jwks_uri`, fetched now.
    pub async fn load(
        client: reqwest013::Client,
        jwks_uri: String,
        refetch_every: Duration,
    ) -> Result<KeySet, String> {
        let keys = fetch(&client, &jwks_uri).await?;
        if keys.is_empty() {
            return Err(format!(
                "{jwks_uri} holds no RS256, ES256 or EdDSA signing key"
            ));
        }
        Ok(KeySet {
            client,
            jwks_uri,
            keys: RwLock::new(Arc::new(keys)),
            last_refetch: tokio::sync::Mutex::new(None),
            refetch_every,
        })
    }

    fn current(&self) -> Keys {
        self.keys
            .read()
            .map(|keys| keys.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }

    /// The key named `kid`; an unknown one fetches the set again unless that was done less
    /// than `refetch_every` ago. A provider that does not answer leaves the cached keys as
    /// they were.
    pub async fn find(&self, kid: &str) -> Option<Key> {
        if let Some(key) = self.current().get(kid) {
            return Some(key.clone());
        }
        let mut last = self.last_refetch.lock().await;
        // Another request may have fetched while this one waited for the lock.
        if let Some(key) = self.current().get(kid) {
            return Some(key.clone());
        }
        if last.is_some_and(|at| at.elapsed() < self.refetch_every) {
            return None;
        }
        *last = Some(Instant::now());
        match fetch(&self.client, &self.jwks_uri).await {
            Ok(keys) if !keys.is_empty() => {
                tracing::info!(keys = keys.len(), "fetched the OpenID issuer's keys again");
                let found = keys.get(kid).cloned();
                match self.keys.write() {
                    Ok(mut cached) => *cached = Arc::new(keys),
                    Err(poisoned) => *poisoned.into_inner() = Arc::new(keys),
                }
                found
            }
            Ok(_) => {
                tracing::warn!(uri = %self.jwks_uri, "the OpenID issuer's key set is empty; keeping the cached keys");
                None
            }
            Err(err) => {
                tracing::warn!(%err, "cannot fetch the OpenID issuer's keys; keeping the cached keys");
                None
            }
        }
    }
}

/// The usable keys at `uri`.
async fn fetch(client: &reqwest013::Client, uri: &str) -> Result<HashMap<String, Key>, String> {
    let body = get_json(client, uri).await?;
    let listed = body
        .get("keys")
        .and_then(|keys| keys.as_array())
        .ok_or_else(|| format!("{uri} is not a JWK set (no \"keys\" list)"))?;
    Ok(listed
        .iter()
        .filter_map(|value| serde_json::from_value::<Jwk>(value.clone()).ok())
        .filter_map(|jwk| {
            let key = usable(&jwk)?;
            Some((jwk.common.key_id.clone().unwrap_or_default(), key))
        })
        .collect())
}

/// The key and its algorithm, when it is a public signing key of RS256, ES256 or EdDSA.
fn usable(jwk: &Jwk) -> Option<Key> {
    if matches!(
        jwk.common.public_key_use,
        Some(PublicKeyUse::Encryption | PublicKeyUse::Other(_))
    ) {
        return None;
    }
    let declared = jwk.common.key_algorithm;
    let alg = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => {
            matches!(declared, None | Some(KeyAlgorithm::RS256)).then_some(Algorithm::RS256)
        }
        AlgorithmParameters::EllipticCurve(ec) => (ec.curve == EllipticCurve::P256
            && matches!(declared, None | Some(KeyAlgorithm::ES256)))
        .then_some(Algorithm::ES256),
        AlgorithmParameters::OctetKeyPair(okp) => (okp.curve == EllipticCurve::Ed25519
            && matches!(declared, None | Some(KeyAlgorithm::EdDSA)))
        .then_some(Algorithm::EdDSA),
        // A shared secret in a public key set would let anyone who reads it sign.
        AlgorithmParameters::OctetKey(_) => None,
    }?;
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key { alg, key })
}

/// A JSON document fetched from the provider, or why not (one line).
pub(super) async fn get_json(
    client: &reqwest013::Client,
    url: &str,
) -> Result<serde_json::Value, String> {
    let one_line = |err: &dyn std::error::Error| {
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        text.replace('\n', " ")
    };
    let response = client
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|err| format!("{url} does not answer: {}", one_line(&err)))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let body = response
        .bytes()
        .await
        .map_err(|err| format!("{url}: {}", one_line(&err)))?;
    serde_json::from_slice(&body).map_err(|_| format!("{url} did not answer JSON"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwk(value: serde_json::Value) -> Jwk {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn the_algorithm_comes_from_the_key() {
        let ec = jwk(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "e",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        }));
        assert_eq!(usable(&ec).map(|k| k.alg), Some(Algorithm::ES256));
        let ed = jwk(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "d",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        }));
        assert_eq!(usable(&ed).map(|k| k.alg), Some(Algorithm::EdDSA));
        let secret = jwk(serde_json::json!({"kty": "oct", "k": "c2VjcmV0", "kid": "s"}));
        assert!(usable(&secret).is_none(), "a symmetric key is never used");
        let encryption = jwk(serde_json::json!({
            "kty": "OKP", "crv": "Ed25519", "kid": "d", "use": "enc",
            "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        }));
        assert!(
            usable(&encryption).is_none(),
            "an encryption key signs nothing"
        );
        let es384 = jwk(serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "e", "alg": "ES384",
            "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
            "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
        }));
        assert!(
            usable(&es384).is_none(),
            "a key's declared algorithm must be one we take"
        );
    }
}
