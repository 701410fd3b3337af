//! Local files for DataFusion, read on the thread that asks.
//!
//! `object_store`'s `LocalFileSystem` hands every read to tokio's blocking
//! pool and zero-fills each buffer before reading into it. For Vane's
//! reads (column chunks of Parquet files, usually in the page cache) the
//! hand-off costs more than the read. Here a read of a byte range happens
//! on the worker that decodes it, into a buffer that is not zeroed first,
//! which measured faster with fewer page faults (docs/benchmarks.md). The
//! cost: a read from a cold disk holds up its worker instead of a pool
//! thread. Everything else (listing, metadata, whole-object reads, writes)
//! is `LocalFileSystem`'s, and where this module is not built (it needs
//! Unix's positioned reads) `LocalFileSystem` does all of it.

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::ops::Range;
use std::os::unix::fs::FileExt;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::BoxStream;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// Read `file://` URLs of `ctx` with [`LocalFiles`].
pub fn register(ctx: &datafusion::prelude::SessionContext) {
    ctx.runtime_env().register_object_store(
        datafusion::execution::object_store::ObjectStoreUrl::local_filesystem().as_ref(),
        std::sync::Arc::new(LocalFiles::default()),
    );
}

/// The local file system, with reads of byte ranges done in place.
#[derive(Debug, Default)]
pub struct LocalFiles {
    inner: LocalFileSystem,
}

impl fmt::Display for LocalFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalFiles")
    }
}

fn read_failed(path: &std::path::Path, source: std::io::Error) -> object_store::Error {
    object_store::Error::Generic {
        store: "LocalFiles",
        source: format!("cannot read {}: {source}", path.display()).into(),
    }
}

/// Read `range` of `file` into a fresh buffer, without zero-filling it.
fn read_range(file: &File, path: &std::path::Path, range: &Range<u64>) -> Result<Bytes> {
    let wanted = range.end.saturating_sub(range.start);
    let wanted_len = usize::try_from(wanted).map_err(|_| {
        read_failed(
            path,
            std::io::Error::other("the range does not fit in memory"),
        )
    })?;
    let mut buffer = Vec::with_capacity(wanted_len);
    let mut reader = OffsetReader {
        file,
        offset: range.start,
    }
    .take(wanted);
    reader
        .read_to_end(&mut buffer)
        .map_err(|e| read_failed(path, e))?;
    if buffer.len() != wanted_len {
        return Err(read_failed(
            path,
            std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "wanted bytes {}..{}, the file ends after {}",
                    range.start,
                    range.end,
                    range.start + buffer.len() as u64
                ),
            ),
        ));
    }
    Ok(Bytes::from(buffer))
}

/// `Read` over a file from an offset, with positioned reads (no shared cursor).
struct OffsetReader<'a> {
    file: &'a File,
    offset: u64,
}

impl Read for OffsetReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

#[async_trait]
impl ObjectStore for LocalFiles {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let path = self.inner.path_to_filesystem(location)?;
        let file = File::open(&path).map_err(|e| read_failed(&path, e))?;
        ranges.iter().map(|r| read_range(&file, &path, r)).collect()
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store_with_file(bytes: &[u8]) -> (tempfile::TempDir, LocalFiles, Path) {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("data.bin");
        std::fs::write(&file, bytes).expect("write");
        let location = Path::from_absolute_path(&file).expect("path");
        (dir, LocalFiles::default(), location)
    }

    #[tokio::test]
    async fn ranges_read_the_bytes_asked_for() {
        let data: Vec<u8> = (0..=255).cycle().take(10_000).collect();
        let (_dir, store, location) = store_with_file(&data);
        let parts = store
            .get_ranges(&location, &[0..10, 9_000..10_000, 5..5])
            .await
            .expect("read");
        assert_eq!(parts[0].as_ref(), &data[0..10]);
        assert_eq!(parts[1].as_ref(), &data[9_000..10_000]);
        assert!(parts[2].is_empty());
    }

    #[tokio::test]
    async fn ranges_read_in_place_equal_the_standard_stores() {
        let data: Vec<u8> = (0..=255).cycle().take(100_000).collect();
        let (_dir, store, location) = store_with_file(&data);
        let ranges = [0..1, 17..4_113, 50_000..100_000, 99_999..100_000];
        let in_place = store.get_ranges(&location, &ranges).await.expect("read");
        let standard = LocalFileSystem::new()
            .get_ranges(&location, &ranges)
            .await
            .expect("read");
        assert_eq!(in_place, standard);
    }

    #[tokio::test]
    async fn a_range_past_the_end_is_an_error_not_short_data() {
        let (_dir, store, location) = store_with_file(b"short");
        let error = store
            .get_ranges(&location, &[0..2, 2..50])
            .await
            .expect_err("past the end");
        assert!(
            error.to_string().contains("the file ends after 5"),
            "{error}"
        );
    }
}
