//! `keepsake serve`: the first start's admin and its token, the demo data when asked, then
//! the server until a signal.

use std::io::Write as _;

use anyhow::Context as _;

use super::client_error;
use crate::app::{self, App, FIRST_START_TOKEN_TTL};
use crate::config::Settings;
use crate::ids::{self, Kind};
use crate::service::setup;

/// `keepsake serve`: first-start admin, optional demo data, then serve until a signal.
pub(super) async fn serve(settings: &Settings) -> anyhow::Result<()> {
    let app = App::build(settings).await?;
    let db = &app.state().db;
    let playground = format!("http://{}/playground", app.address());
    if let Some(admin) = setup::ensure_admin(db).await.map_err(client_error)? {
        let token = app
            .state()
            .services
            .tokens
            .issue(admin.id, FIRST_START_TOKEN_TTL)?;
        // A closed stdout (`keepsake serve | head`) must not take the server down.
        let _ = writeln!(
            std::io::stdout(),
            "No admin existed, so Keepsake created one.\n  \
             admin:      {}\n  \
             id:         {}\n  \
             token:      {token}\n  \
             (valid for 24 h; later: keepsake token --email {})\n  \
             (paste {{\"Authorization\": \"Bearer <token>\"}} into the playground's headers)\n  \
             playground: {playground}\n  \
             trash:      http://{}/trash#token={token}",
            admin.email,
            ids::encode(Kind::User, admin.id),
            admin.email,
            app.address()
        );
    }
    if settings.demo {
        let created = setup::load_demo(db).await.map_err(client_error)?;
        tracing::info!(created, "demo data loaded");
    }
    tracing::info!(address = %app.address(), %playground, "Keepsake is serving");
    app.run(app::shutdown_signal())
        .await
        .context("server stopped")
}
