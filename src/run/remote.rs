//! Where the facts run: in this process, or on an Apache Ballista cluster
//! (`--engine ballista://HOST:PORT`, built with the `ballista` feature).
//!
//! Only the facts' parts that read sources go to the cluster — the
//! population and each source's aggregation, the heavy part, one row per
//! entity coming back. Parts over the earlier nights Vane holds in memory,
//! the entity steps, playbooks and writing stay here, so a night on the
//! cluster is written exactly as a local one.

use crate::diagnostics::{Code, Diagnostic};

/// The environment variable that names the engine when `--engine` does not.
pub const ENGINE_VARIABLE: &str = "VANE_ENGINE";

/// Whether this build can run the facts on Ballista.
pub const BALLISTA_BUILT: bool = cfg!(feature = "ballista");

pub use crate::base::engine::EngineChoice;

/// How the message of a part that ran out of time begins.
pub const TIMED_OUT: &str = "no result within";

/// A part of the facts the cluster could not compute: the sources it
/// reads and the cluster's own message, so the diagnostic can name both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterFailure {
    /// The scheduler, as `ballista://HOST:PORT`.
    pub scheduler: String,
    /// The sources the part reads.
    pub sources: Vec<String>,
    /// What the cluster said (the scheduler's or an executor's message).
    pub message: String,
}

impl std::fmt::Display for ClusterFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the Ballista cluster at {} failed on the part that reads {}: {}",
            self.scheduler,
            self.sources_named(),
            self.message
        )
    }
}

impl std::error::Error for ClusterFailure {}

impl ClusterFailure {
    /// "`events`" or "`events`, `tickets`".
    fn sources_named(&self) -> String {
        let named: Vec<String> = self.sources.iter().map(|s| format!("`{s}`")).collect();
        match named.as_slice() {
            [] => "no source".to_string(),
            _ => named.join(", "),
        }
    }

    /// The diagnostic a person sees: a scheduler of another Ballista
    /// version, executors that cannot read a source, or the cluster's
    /// failure as it reported it.
    pub fn diagnostic(&self) -> Diagnostic {
        let said = &self.message;
        let lower = said.to_ascii_lowercase();
        if said.contains("cannot be used with") && said.contains("Ballista") {
            return unavailable(
                format!(
                    "the scheduler at {} runs another version of Ballista: {said}",
                    self.scheduler
                ),
                &format!(
                    "this vane speaks Ballista {}: run the scheduler and executors from the \
                     `vane-cluster` of the same build (see docs/distributed.md)",
                    BALLISTA_VERSION
                ),
            );
        }
        if said.starts_with(TIMED_OUT) {
            return unavailable(
                format!(
                    "the Ballista cluster at {} gave {said} for the part that reads {}; \
                     it may have lost executors or have no task slot free",
                    self.scheduler,
                    self.sources_named()
                ),
                "check the scheduler's and executors' logs (RUST_LOG=info); a Ballista 55 \
                 scheduler can wait forever after losing an executor while every slot of the \
                 others is busy (docs/distributed.md). Raise --engine-timeout for parts that \
                 take longer. Earlier nights are untouched",
            );
        }
        // A file an executor cannot open; not a shuffle file or a
        // connection of a lost executor, which read much the same.
        let unreadable = ["no such file", "permission denied", "object store"];
        let between_executors = ["shuffle", "fetch partition", "connect"];
        if unreadable.iter().any(|words| lower.contains(words))
            && !between_executors.iter().any(|words| lower.contains(words))
        {
            return Diagnostic::error(
                Code::DataUnreadable,
                format!(
                    "executors of the Ballista cluster at {} cannot read source {}: {said}",
                    self.scheduler,
                    self.sources_named()
                ),
            )
            .help(
                "executors open a source's files by the path this machine resolves it to: \
                 every executor must see the same files at the same path (a shared \
                 filesystem; see docs/distributed.md)",
            );
        }
        Diagnostic::error(Code::RunFailed, self.to_string()).help(
            "see the cluster's message; `RUST_LOG=info vane-cluster …` logs what the \
             scheduler and executors did. Earlier nights are untouched",
        )
    }
}

/// The Ballista version this build speaks (its client, scheduler and
/// executor crates).
pub const BALLISTA_VERSION: &str = "55";

/// The diagnostic for an engine that cannot be used.
pub fn unavailable(message: String, help: &str) -> Diagnostic {
    Diagnostic::error(Code::EngineUnavailable, message).help(help.to_string())
}

/// What the cluster ran for a run: jobs (one per part of the facts sent
/// there) and the rows they sent back, so a run says where its facts ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWork {
    /// The scheduler, as `ballista://HOST:PORT`.
    pub scheduler: String,
    /// Jobs the cluster ran.
    pub jobs: usize,
    /// Rows those jobs sent back (about one per entity per part).
    pub rows_back: usize,
}

impl RemoteWork {
    /// This work and `more` (on the same scheduler) together.
    pub fn plus(&self, more: &RemoteWork) -> RemoteWork {
        RemoteWork {
            scheduler: self.scheduler.clone(),
            jobs: self.jobs + more.jobs,
            rows_back: self.rows_back + more.rows_back,
        }
    }
}

#[cfg(not(feature = "ballista"))]
mod cluster {
    use datafusion::prelude::SessionContext;

    use super::{EngineChoice, RemoteWork, unavailable};
    use crate::diagnostics::Diagnostic;

    /// Without the `ballista` feature nothing runs remotely.
    pub fn remote_work(_ctx: &SessionContext) -> Option<RemoteWork> {
        None
    }

    /// Without the `ballista` feature only the local engine exists.
    pub async fn attach(
        _ctx: &SessionContext,
        choice: &EngineChoice,
        _timeout: std::time::Duration,
    ) -> Result<(), Diagnostic> {
        match choice {
            EngineChoice::Local => Ok(()),
            EngineChoice::Ballista { .. } => Err(unavailable(
                format!(
                    "`{}`: this build of vane has no Ballista engine",
                    choice.name()
                ),
                "build vane with the `ballista` feature (cargo build --release --features ballista), \
                 or leave out --engine to run on this machine",
            )),
        }
    }
}

#[cfg(feature = "ballista")]
mod cluster;

#[cfg(feature = "ballista")]
pub use cluster::{Cluster, on_cluster};
pub use cluster::{attach, remote_work};

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(message: &str) -> ClusterFailure {
        ClusterFailure {
            scheduler: "ballista://sched:50050".into(),
            sources: vec!["events".into(), "tickets".into()],
            message: message.into(),
        }
    }

    #[test]
    fn cluster_failures_say_what_went_wrong_and_name_the_sources() {
        let version = failure(
            "Execution error: Ballista client 55.0.0 cannot be used with scheduler 54.0.0. \
             The client and the scheduler must have the same major version.",
        )
        .diagnostic();
        assert_eq!(version.code, Code::EngineUnavailable);
        assert!(version.message.contains("another version of Ballista"));
        assert!(
            version
                .help
                .as_deref()
                .is_some_and(|h| h.contains("vane-cluster"))
        );

        let unreadable = failure(
            "Execution error: Job 0A failed: Task failed: IO error: Permission denied (os error 13)",
        )
        .diagnostic();
        assert_eq!(unreadable.code, Code::DataUnreadable);
        assert!(
            unreadable
                .message
                .contains("cannot read source `events`, `tickets`")
        );
        assert!(unreadable.message.contains("Permission denied"));

        let lost = failure(
            "External error: Shuffle fetch partition error from Executor 5f, map_stage 2: \
             tcp connect error: Connection refused (os error 111)",
        )
        .diagnostic();
        assert_eq!(
            lost.code,
            Code::RunFailed,
            "a lost executor is no unreadable source"
        );

        let timeout = failure(&format!("{TIMED_OUT} 1h (--engine-timeout)")).diagnostic();
        assert_eq!(timeout.code, Code::EngineUnavailable);
        assert!(timeout.message.contains("gave no result within 1h"));

        let other = failure("Execution error: Job 0A failed: task failed 4 times").diagnostic();
        assert_eq!(other.code, Code::RunFailed);
        assert!(
            other
                .message
                .contains("the part that reads `events`, `tickets`")
        );
    }

    #[test]
    fn engines_are_local_or_a_ballista_scheduler() {
        assert_eq!(EngineChoice::parse("local"), Ok(EngineChoice::Local));
        assert_eq!(
            EngineChoice::parse("ballista://sched.example:50050/"),
            Ok(EngineChoice::Ballista {
                host: "sched.example".into(),
                port: 50050
            })
        );
        for bad in [
            "ballista://host",
            "ballista://:50050",
            "ballista://host:0",
            "ballista://host:99999",
            "spark://host:7077",
            "",
        ] {
            assert!(EngineChoice::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            EngineChoice::parse("ballista://h:1").map(|e| e.name()),
            Ok("ballista://h:1".to_string())
        );
    }
}
