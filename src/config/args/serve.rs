//! `keepsake serve`'s own flags: what only a running server reads.

use clap::Args;

/// `keepsake serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on; `:PORT` means 127.0.0.1:PORT (this host only), and port 0 picks
    /// a free port. Use 0.0.0.0:PORT to listen on every interface.
    #[arg(
        long,
        env = "KEEPSAKE_BIND",
        default_value = "127.0.0.1:8000",
        hide_env_values = true
    )]
    pub bind: String,
    /// Load a small demo data set (idempotent).
    #[arg(long)]
    pub demo: bool,
    /// Purge rows soft-deleted longer ago than this, on a schedule (unset: never).
    #[arg(long, env = "KEEPSAKE_RETENTION", hide_env_values = true)]
    pub retention: Option<String>,
    /// Erase archived rows (what purges keep of erased rows) archived longer ago than this, on
    /// the retention job's schedule (unset: keep the archive forever).
    #[arg(long, env = "KEEPSAKE_ARCHIVE_RETENTION", hide_env_values = true)]
    pub archive_retention: Option<String>,
    /// How often the retention job runs: the purge (with --retention), dropping old events,
    /// and erasing old archived rows (with --archive-retention).
    #[arg(
        long,
        env = "KEEPSAKE_RETENTION_INTERVAL",
        default_value = "1h",
        hide_env_values = true
    )]
    pub retention_interval: String,
    /// Origins whose pages may call the API from a browser (CORS), comma-separated, like
    /// `https://app.example.com,http://localhost:5173`; `*` for any origin. Unset: none.
    #[arg(long, env = "KEEPSAKE_CORS_ORIGINS", hide_env_values = true)]
    pub cors_origins: Option<String>,
    /// The largest attachment content accepted, like `100MiB`, `512KiB` or a byte count; a
    /// larger upload is refused with 413 and leaves nothing behind.
    #[arg(
        long,
        env = "KEEPSAKE_MAX_UPLOAD",
        default_value = "100MiB",
        hide_env_values = true
    )]
    pub max_upload: String,
    /// The most SQL statements one GraphQL request may run; past it, its remaining fields
    /// fail with LIMIT_EXCEEDED (batch jobs such as purgeDeleted run outside it).
    #[arg(
        long,
        env = "KEEPSAKE_MAX_STATEMENTS",
        default_value = "100",
        hide_env_values = true
    )]
    pub max_statements: String,
    /// The most requests one viewer (or one address without a token) may have in flight at
    /// once; more are answered 429 with Retry-After.
    #[arg(
        long,
        env = "KEEPSAKE_MAX_CONCURRENT",
        default_value = "32",
        hide_env_values = true
    )]
    pub max_concurrent: String,
    /// The most subscriptions one viewer may have open at once (over `/graphql/ws`); they
    /// do not count against the requests in flight.
    #[arg(
        long,
        env = "KEEPSAKE_MAX_SUBSCRIPTIONS",
        default_value = "16",
        hide_env_values = true
    )]
    pub max_subscriptions: String,
    /// The most lexical tokens a GraphQL document may hold; a longer one is refused before
    /// it is parsed.
    #[arg(
        long,
        env = "KEEPSAKE_MAX_TOKENS",
        default_value = "5000",
        hide_env_values = true
    )]
    pub max_tokens: String,
    /// The most files (and `map` entries) one multipart GraphQL request may carry.
    #[arg(
        long,
        env = "KEEPSAKE_MAX_FILES",
        default_value = "10",
        hide_env_values = true
    )]
    pub max_files: String,
    /// A second address serving `/metrics` to anyone who reaches it (for a scraper on a
    /// private network); unset, `/metrics` answers only an admin's token.
    #[arg(long, env = "KEEPSAKE_METRICS_BIND", hide_env_values = true)]
    pub metrics_bind: Option<String>,
    /// Where each event is POSTed, signed (Standard Webhooks); needs --webhook-secret.
    #[arg(long, env = "KEEPSAKE_WEBHOOK_URL", hide_env_values = true)]
    pub webhook_url: Option<String>,
    /// The webhook's signing key: `whsec_` and the base64 of 24 to 64 random bytes.
    #[arg(long, env = "KEEPSAKE_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// An OpenID Connect issuer whose tokens sign users in (docs/sign-in.md).
    #[arg(long, env = "KEEPSAKE_OIDC_ISSUER", hide_env_values = true)]
    pub oidc_issuer: Option<String>,
    /// The audience (`aud`) the issuer's tokens must hold; needed with --oidc-issuer.
    #[arg(long, env = "KEEPSAKE_OIDC_AUDIENCE", hide_env_values = true)]
    pub oidc_audience: Option<String>,
    /// The public client id the trash page signs in as (authorization code with PKCE).
    #[arg(long, env = "KEEPSAKE_OIDC_CLIENT_ID", hide_env_values = true)]
    pub oidc_client_id: Option<String>,
    /// A JSON pointer to the claim holding the role, like /realm_access/roles.
    #[arg(long, env = "KEEPSAKE_OIDC_ROLE_CLAIM", hide_env_values = true)]
    pub oidc_role_claim: Option<String>,
    /// The roles the role claim may grant.
    #[arg(
        long,
        env = "KEEPSAKE_OIDC_ROLES",
        default_value = "member,support",
        hide_env_values = true
    )]
    pub oidc_roles: String,
    /// Let a first sign-in take over the live user holding its email (off: refused).
    #[arg(long, env = "KEEPSAKE_OIDC_LINK_BY_EMAIL", hide_env_values = true)]
    pub oidc_link_by_email: bool,
    /// After SIGTERM or Ctrl-C, how long the server keeps accepting and answering requests
    /// while `/healthz` answers 503, so that load balancers see it leave first (`0s`: stop
    /// accepting at once).
    #[arg(
        long,
        env = "KEEPSAKE_DRAIN",
        default_value = "5s",
        hide_env_values = true
    )]
    pub drain: String,
    /// After the drain, how long requests in flight may take to finish before the server
    /// exits anyway.
    #[arg(
        long,
        env = "KEEPSAKE_SHUTDOWN_GRACE",
        default_value = "30s",
        hide_env_values = true
    )]
    pub shutdown_grace: String,
}

impl Default for ServeArgs {
    fn default() -> ServeArgs {
        ServeArgs {
            max_upload: "100MiB".into(),
            bind: "127.0.0.1:8000".into(),
            demo: false,
            retention: None,
            archive_retention: None,
            retention_interval: "1h".into(),
            cors_origins: None,
            max_statements: "100".into(),
            max_concurrent: "32".into(),
            max_subscriptions: "16".into(),
            max_tokens: "5000".into(),
            max_files: "10".into(),
            metrics_bind: None,
            webhook_url: None,
            webhook_secret: None,
            oidc_issuer: None,
            oidc_audience: None,
            oidc_client_id: None,
            oidc_role_claim: None,
            oidc_roles: "member,support".into(),
            oidc_link_by_email: false,
            drain: "5s".into(),
            shutdown_grace: "30s".into(),
        }
    }
}
