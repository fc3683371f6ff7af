//! An upload while it is written, aborted if it is dropped unfinished.

use std::sync::Arc;

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt as _, WriteMultipart};

/// An upload being written. If it is dropped unfinished (the request's future was dropped:
/// the client hung up), its parts are aborted in the background: an S3 multipart upload is
/// not an object, so nothing would list it, yet the store would keep its parts.
pub(super) struct Unfinished {
    pub(super) writer: Option<WriteMultipart>,
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) temp: Path,
}

impl Unfinished {
    pub(super) async fn put(&mut self, chunk: Bytes) -> object_store::Result<()> {
        if let Some(writer) = self.writer.as_mut() {
            writer.wait_for_capacity(1).await?;
            writer.put(chunk);
        }
        Ok(())
    }

    pub(super) async fn finish(mut self) -> object_store::Result<()> {
        match self.writer.take() {
            Some(writer) => writer.finish().await.map(drop),
            None => Ok(()),
        }
    }

    pub(super) async fn abort(mut self) {
        if let Some(writer) = self.writer.take() {
            let _ = writer.abort().await;
        }
        let _ = self.store.delete(&self.temp).await;
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        let (store, temp) = (self.store.clone(), self.temp.clone());
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                let _ = writer.abort().await;
                let _ = store.delete(&temp).await;
                tracing::info!(path = %temp, "an upload cut off by its client was aborted");
            });
        }
    }
}
