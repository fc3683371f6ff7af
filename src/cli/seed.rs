//! `keepsake seed`: bulk synthetic data for benchmarks and demos.

use super::progress::Progress;
use super::{Target, client_error};
use crate::service::{self, seed::SeedPlan};

/// `keepsake seed`: checks the plan, then creates its users and attachments.
pub(super) async fn seed(target: &Target, plan: SeedPlan) -> anyhow::Result<()> {
    let plan = plan.check().map_err(client_error)?;
    let db = target.connect().await?;
    let started = std::time::Instant::now();
    let bar = Progress::new("seeding", "users");
    let (users, attachments) =
        service::seed::seed(&db, plan, |done, total| bar.update(done, total))
            .await
            .map_err(client_error)?;
    bar.finish();
    println!(
        "seeded {users} users and {attachments} attachments in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    if plan.content_bytes > 0 {
        let storage = target.storage()?;
        let bar = Progress::new("content", "attachments");
        let filled = service::seed::fill_content(&db, &storage, plan.content_bytes, |done| {
            bar.update(done, attachments.max(done))
        })
        .await
        .map_err(client_error)?;
        bar.finish();
        println!(
            "gave {filled} attachments {} bytes of content each, in {}",
            plan.content_bytes,
            storage.label()
        );
    }
    Ok(())
}
