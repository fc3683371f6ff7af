//! `KEEPSAKE_WEBHOOK_URL` and `KEEPSAKE_WEBHOOK_SECRET`: where events are POSTed and the key
//! they are signed with (Standard Webhooks: `whsec_` and the base64 of 24 to 64 random bytes).
//! Both or neither.

use std::time::Duration;

use base64::Engine as _;

use super::ConfigError;

/// The checked webhook settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookSettings {
    /// The receiver, an `http://` or `https://` URL.
    pub url: String,
    /// The signing key, decoded.
    pub key: Vec<u8>,
    /// How long a server holds an event it is sending (20 s, the service's `LEASE`, which
    /// says why; shorter in tests).
    pub lease: Duration,
    /// The waits between attempts (5 s, 30 s, 2 min, 10 min, 1 h, then hourly; shorter in
    /// tests).
    pub schedule: Vec<Duration>,
}

const URL: &str = "KEEPSAKE_WEBHOOK_URL (--webhook-url)";
const SECRET: &str = "KEEPSAKE_WEBHOOK_SECRET (--webhook-secret)";

impl WebhookSettings {
    /// Settings for `url` signed with `key` (raw bytes), with the production lease and
    /// schedule.
    pub fn new(url: impl Into<String>, key: Vec<u8>) -> WebhookSettings {
        WebhookSettings {
            url: url.into(),
            key,
            lease: Duration::from_secs(20),
            schedule: [5, 30, 120, 600, 3600]
                .into_iter()
                .map(Duration::from_secs)
                .collect(),
        }
    }

    /// Checks the two settings as given: both or neither.
    pub fn from_args(
        url: Option<&str>,
        secret: Option<&str>,
    ) -> Result<Option<WebhookSettings>, ConfigError> {
        let (url, secret) = match (url, secret) {
            (None, None) => return Ok(None),
            (Some(_), None) => {
                return Err(ConfigError {
                    setting: SECRET,
                    problem: "is unset, yet KEEPSAKE_WEBHOOK_URL is set: set both or neither"
                        .into(),
                });
            }
            (None, Some(_)) => {
                return Err(ConfigError {
                    setting: URL,
                    problem: "is unset, yet KEEPSAKE_WEBHOOK_SECRET is set: set both or neither"
                        .into(),
                });
            }
            (Some(url), Some(secret)) => (url.trim(), secret.trim()),
        };
        let host = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        if host.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
            return Err(ConfigError {
                setting: URL,
                problem: "is not an http:// or https:// URL; write it like \
                          https://hooks.example.com/keepsake"
                    .into(),
            });
        }
        let key = secret
            .strip_prefix("whsec_")
            .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
            .filter(|key| (24..=64).contains(&key.len()))
            .ok_or_else(|| ConfigError {
                setting: SECRET,
                problem: "is not whsec_ followed by the base64 of 24 to 64 random bytes; make one \
                          with: echo whsec_$(openssl rand -base64 32)"
                    .into(),
            })?;
        Ok(Some(WebhookSettings::new(url, key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_or_neither_an_http_url_and_a_whsec_key() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        assert_eq!(WebhookSettings::from_args(None, None).unwrap(), None);
        let ok = WebhookSettings::from_args(Some("http://127.0.0.1:9/x"), Some(secret));
        assert_eq!(ok.unwrap().unwrap().key.len(), 24);
        for (url, secret, setting) in [
            (Some("http://h/"), None, SECRET),
            (None, Some(secret), URL),
            (Some("ftp://h/"), Some(secret), URL),
            (Some("https://"), Some(secret), URL),
            (
                Some("https://h/"),
                Some("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
                SECRET,
            ),
            (Some("https://h/"), Some("whsec_c2hvcnQ="), SECRET),
            (Some("https://h/"), Some("whsec_not base64!"), SECRET),
        ] {
            let err = WebhookSettings::from_args(url, secret).unwrap_err();
            assert_eq!(err.setting, setting, "{url:?} {secret:?}");
        }
    }
}
