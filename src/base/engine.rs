//! The engine a run's facts execute on, as written in `--engine`,
//! `VANE_ENGINE` or `outputs.engine` (checked by the checker, used by the
//! run: see `run::remote`).

/// The engine a run's facts execute on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum EngineChoice {
    /// DataFusion in this process.
    #[default]
    Local,
    /// A Ballista scheduler, and the executors it hands the work to.
    Ballista {
        /// The scheduler's host.
        host: String,
        /// The scheduler's gRPC port.
        port: u16,
    },
}

impl EngineChoice {
    /// Read `local` or `ballista://HOST:PORT`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<EngineChoice, String> {
        let text = text.trim();
        if text == "local" {
            return Ok(EngineChoice::Local);
        }
        let Some(address) = text.strip_prefix("ballista://") else {
            return Err(format!(
                "`{text}` is not an engine: write `local` or `ballista://HOST:PORT`"
            ));
        };
        let address = address.trim_end_matches('/');
        let Some((host, port)) = address.rsplit_once(':') else {
            return Err(format!(
                "`{text}` names no port: write `ballista://HOST:PORT`, e.g. ballista://localhost:50050"
            ));
        };
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|p| *p > 0)
            .ok_or_else(|| format!("`{port}` in `{text}` is not a port (1 to 65535)"))?;
        if host.is_empty() || host.contains('/') {
            return Err(format!(
                "`{text}` names no host: write `ballista://HOST:PORT`"
            ));
        }
        Ok(EngineChoice::Ballista {
            host: host.to_string(),
            port,
        })
    }

    /// The engine as written (`local`, `ballista://HOST:PORT`), for the
    /// manifest and messages.
    pub fn name(&self) -> String {
        match self {
            EngineChoice::Local => "local".to_string(),
            EngineChoice::Ballista { host, port } => format!("ballista://{host}:{port}"),
        }
    }
}
