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

/// The diagnostic for an engine that cannot be used.
pub fn unavailable(message: String, help: &str) -> Diagnostic {
    Diagnostic::error(Code::EngineUnavailable, message).help(help.to_string())
}

#[cfg(not(feature = "ballista"))]
mod cluster {
    use datafusion::prelude::SessionContext;

    use super::{EngineChoice, unavailable};
    use crate::diagnostics::Diagnostic;

    /// Without the `ballista` feature only the local engine exists.
    pub async fn attach(_ctx: &SessionContext, choice: &EngineChoice) -> Result<(), Diagnostic> {
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

pub use cluster::attach;
#[cfg(feature = "ballista")]
pub use cluster::{Cluster, on_cluster};

#[cfg(test)]
mod tests {
    use super::*;

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
