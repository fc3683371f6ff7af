//! `KEEPSAKE_OIDC_*`: tokens of one external OpenID Connect issuer. The issuer and the audience
//! go together; the other settings need the issuer. What can be checked without the network is
//! checked here; the issuer's discovery document and the role names are checked at start.

use std::time::Duration;

use super::ConfigError;

/// The checked settings of the external issuer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcSettings {
    /// The issuer's URL, exactly as its tokens' `iss` (`KEEPSAKE_OIDC_ISSUER`).
    pub issuer: String,
    /// What its tokens' `aud` must hold (`KEEPSAKE_OIDC_AUDIENCE`).
    pub audience: String,
    /// The public client the browser pages sign in as (`KEEPSAKE_OIDC_CLIENT_ID`).
    pub client_id: Option<String>,
    /// A JSON pointer to the claim that holds the role (`KEEPSAKE_OIDC_ROLE_CLAIM`).
    pub role_claim: Option<String>,
    /// The roles a claim may grant, comma-separated (`KEEPSAKE_OIDC_ROLES`).
    pub roles: String,
    /// Whether a first sign-in takes over the live user that holds its email.
    pub link_by_email: bool,
    /// How often an unknown key id may fetch the issuer's keys again (60 s; shorter in tests).
    pub refetch_every: Duration,
}

pub(super) const ISSUER: &str = "KEEPSAKE_OIDC_ISSUER (--oidc-issuer)";
const AUDIENCE: &str = "KEEPSAKE_OIDC_AUDIENCE (--oidc-audience)";
const ROLE_CLAIM: &str = "KEEPSAKE_OIDC_ROLE_CLAIM (--oidc-role-claim)";

/// The raw values, as clap read them.
pub struct OidcArgs<'a> {
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub client_id: Option<&'a str>,
    pub role_claim: Option<&'a str>,
    pub roles: &'a str,
    pub link_by_email: bool,
}

/// A value that is set and not blank, trimmed.
fn given(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

impl OidcSettings {
    /// The issuer's settings, `None` when no issuer is set (and no other OIDC setting).
    pub fn from_args(args: OidcArgs<'_>) -> Result<Option<OidcSettings>, ConfigError> {
        let Some(issuer) = given(args.issuer) else {
            if let Some(other) = [
                (args.audience, "KEEPSAKE_OIDC_AUDIENCE"),
                (args.client_id, "KEEPSAKE_OIDC_CLIENT_ID"),
                (args.role_claim, "KEEPSAKE_OIDC_ROLE_CLAIM"),
            ]
            .into_iter()
            .find_map(|(value, name)| given(value).map(|_| name))
            {
                return Err(ConfigError {
                    setting: ISSUER,
                    problem: format!("is unset, yet {other} is set: set the issuer too"),
                });
            }
            return Ok(None);
        };
        let host = issuer
            .strip_prefix("https://")
            .or_else(|| issuer.strip_prefix("http://"));
        if host.is_none_or(|rest| rest.is_empty() || rest.starts_with('/')) {
            return Err(ConfigError {
                setting: ISSUER,
                problem: format!(
                    "'{issuer}' is not an http:// or https:// URL; write it as the provider's \
                     tokens carry it in `iss`, like https://sso.example.com/realms/main"
                ),
            });
        }
        let audience = given(args.audience).ok_or_else(|| ConfigError {
            setting: AUDIENCE,
            problem: "is unset: set it to the audience (`aud`) the issuer puts in tokens for \
                      Keepsake, so that tokens meant for another application are refused"
                .into(),
        })?;
        let role_claim = given(args.role_claim);
        if let Some(pointer) = role_claim
            && !pointer.starts_with('/')
        {
            return Err(ConfigError {
                setting: ROLE_CLAIM,
                problem: format!(
                    "'{pointer}' is not a JSON pointer; write it like /realm_access/roles \
                     (`~1` stands for a `/` inside a name)"
                ),
            });
        }
        Ok(Some(OidcSettings {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            client_id: given(args.client_id).map(str::to_owned),
            role_claim: role_claim.map(str::to_owned),
            roles: args.roles.to_owned(),
            link_by_email: args.link_by_email,
            refetch_every: Duration::from_secs(60),
        }))
    }
}
