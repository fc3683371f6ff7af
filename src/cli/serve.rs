//! `keepsake serve`: the first start's admin and its token, the demo data when asked, then
//! the server until a signal.

use std::io::Write as _;

use anyhow::Context as _;

use super::client_error;
use crate::app::{self, App, FIRST_START_TOKEN_TTL};
use crate::config::Settings;
use crate::entity;
use crate::ids::{self, Kind};
use crate::service::setup;

/// `keepsake serve`: first-start admin, optional demo data, then serve until a signal.
pub(super) async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let db = &app.state().db;
    let playground = format!("http://{}/playground", app.address());
    let first_start = match setup::ensure_admin(db).await.map_err(client_error)? {
        Some(admin) => {
            let token = app
                .state()
                .services
                .tokens
                .issue(admin.id, FIRST_START_TOKEN_TTL)?;
            Some(banner(&admin, &token, app.address()))
        }
        None => None,
    };
    if settings.demo {
        let created = setup::load_demo(db, &app.state().services.storage)
            .await
            .map_err(client_error)?;
        tracing::info!(created, "demo data loaded");
    }
    // After every start-up log line (migrations, the generated secret, the demo data), set
    // off by a blank line and rules, so that it stands out of the logs around it.
    if let Some(banner) = first_start {
        // A closed stdout (`keepsake serve | head`) must not take the server down.
        let _ = writeln!(std::io::stdout(), "{banner}");
    }
    tracing::info!(address = %app.address(), %playground, "Keepsake is serving");
    app.run(app::shutdown_signal())
        .await
        .context("server stopped")
}

/// The first start's block: the admin it created and a token for them. Scripts read the
/// token as the second whitespace-separated field of the line that starts `token:`.
fn banner(admin: &entity::user::Model, token: &str, address: std::net::SocketAddr) -> String {
    let rule = "=".repeat(78);
    format!(
        "\n{rule}\n  \
         No admin existed, so Keepsake created one.\n  \
         admin:      {email}\n  \
         id:         {id}\n  \
         token:      {token}\n  \
         (valid for 24 h; later: keepsake token --email {email})\n  \
         (paste {{\"Authorization\": \"Bearer <token>\"}} into the playground's headers)\n  \
         playground: http://{address}/playground\n  \
         trash:      http://{address}/trash#token={token}\n\
         {rule}\n",
        email = admin.email,
        id = ids::encode(Kind::User, admin.id),
    )
}
