//! The data files a night read, for its manifest: each source's files,
//! listed when an engine starts — once for all the nights of a backfill
//! or backtest, which read them as the first night found them (its shared
//! pass reads them then).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use datafusion::prelude::SessionContext;
use futures::TryStreamExt;

use crate::check::model::Model;
use crate::sources::{self, SourceLocation};

/// One data file a run read, for the manifest.
#[derive(Debug, Clone)]
pub struct InputFile {
    /// Its absolute path.
    pub path: String,
    /// Its size.
    pub bytes: u64,
    /// Its modification time (RFC 3339).
    pub modified: String,
}

/// Each source's files, by source name.
pub type Listed = BTreeMap<String, Vec<InputFile>>;

/// Every source's files, listed now.
pub async fn list_inputs(ctx: &SessionContext, model: &Model) -> Listed {
    let mut inputs = BTreeMap::new();
    for source in &model.sources {
        inputs.insert(
            source.name.clone(),
            input_files(ctx, &source.location).await,
        );
    }
    inputs
}

/// The sources' files as listed for the first night of a backfill or
/// backtest, which the later nights record too. Clones share one listing.
#[derive(Clone, Default)]
pub struct InputListing(Arc<Mutex<Option<Listed>>>);

impl std::fmt::Debug for InputListing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InputListing")
    }
}

impl InputListing {
    /// The listing made for an earlier night, else a new one, kept for
    /// the later nights.
    pub async fn get_or_list(&self, ctx: &SessionContext, model: &Model) -> Listed {
        if let Some(listed) = self.0.lock().ok().and_then(|l| l.clone()) {
            return listed;
        }
        let listed = list_inputs(ctx, model).await;
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some(listed.clone());
        }
        listed
    }
}

/// Every file a source's location lists, sorted by path (empty when they
/// cannot be listed).
async fn input_files(ctx: &SessionContext, location: &SourceLocation) -> Vec<InputFile> {
    let listed = async {
        let url = sources::table_url(location).ok()?;
        let store = ctx.runtime_env().object_store(&url).ok()?;
        let state = ctx.state();
        let stream = url.list_all_files(&state, store.as_ref(), "").await.ok()?;
        let mut files: Vec<_> = stream.try_collect().await.ok()?;
        files.sort_by(|a, b| a.location.cmp(&b.location));
        Some(
            files
                .into_iter()
                .map(|f| InputFile {
                    path: format!("/{}", f.location),
                    bytes: f.size,
                    modified: f.last_modified.to_rfc3339(),
                })
                .collect(),
        )
    };
    listed.await.unwrap_or_default()
}
