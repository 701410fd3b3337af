//! What each front-end case is made of.

use super::*;

/// Where an input comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A pipeline built from the grammar.
    Generated,
    /// A generated pipeline, then mutated.
    GeneratedMutated,
    /// An example pipeline (`pipelines/*.yaml`), mutated.
    Example,
    /// A file of `tests/corpus`, mutated.
    Corpus,
    /// A small pipeline with one random or mutated expression.
    Expression,
}

impl Kind {
    /// The kind's name in reports.
    pub(super) fn name(self) -> &'static str {
        match self {
            Kind::Generated => "generated",
            Kind::GeneratedMutated => "generated, mutated",
            Kind::Example => "example, mutated",
            Kind::Corpus => "corpus, mutated",
            Kind::Expression => "expression",
        }
    }
}

/// One input: its bytes and where they come from.
pub(super) struct Input {
    pub(super) kind: Kind,
    pub(super) bytes: Vec<u8>,
}

impl Input {
    /// A random input of a random kind.
    pub(super) fn generate(rng: &mut ChaCha8Rng, corpus: &Corpus) -> Input {
        // Shares, in thousandths, weighed by cost: an example pipeline
        // takes ten times as long as a generated one to load in a debug build.
        let (kind, bytes) = match rng.random_range(0..1000) {
            0..400 => (Kind::Generated, Gen::new(rng).pipeline().into_bytes()),
            400..500 => {
                let mut bytes = Gen::new(rng).pipeline().into_bytes();
                mutate(rng, &mut bytes, corpus);
                (Kind::GeneratedMutated, bytes)
            }
            500..510 => {
                let mut bytes = corpus.examples[rng.random_range(0..corpus.examples.len())].clone();
                mutate(rng, &mut bytes, corpus);
                (Kind::Example, bytes)
            }
            510..880 => {
                let files = &corpus.files;
                let mut bytes = files[rng.random_range(0..files.len())].clone();
                mutate(rng, &mut bytes, corpus);
                (Kind::Corpus, bytes)
            }
            _ => (
                Kind::Expression,
                Gen::new(rng).expression_pipeline().into_bytes(),
            ),
        };
        Input { kind, bytes }
    }
}

/// The files mutations start from and splice in.
pub(super) struct Corpus {
    /// `pipelines/*.yaml`.
    pub(super) examples: Vec<Vec<u8>>,
    /// The files under `tests/corpus`, but alias bombs: expanding one to
    /// the YAML limits takes most of a second in a debug build (as long
    /// again under load), so they would make the time budget flaky; the
    /// corpus test covers them.
    pub(super) files: Vec<Vec<u8>>,
    /// Every line of all of them, to splice into others.
    pub(super) lines: Vec<Vec<u8>>,
}

impl Corpus {
    /// Read the example pipelines and the corpus.
    pub(super) fn load() -> Corpus {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let read_all = |dir: &Path| -> Vec<Vec<u8>> {
            let mut paths = Vec::new();
            let mut pending = vec![dir.to_path_buf()];
            while let Some(dir) = pending.pop() {
                for entry in std::fs::read_dir(&dir).expect("corpus folder") {
                    let path = entry.expect("entry").path();
                    if path.is_dir() {
                        pending.push(path);
                    } else if path.extension().is_some_and(|e| e == "yaml") {
                        paths.push(path);
                    }
                }
            }
            paths.sort();
            paths
                .iter()
                .map(|p| std::fs::read(p).expect("corpus file"))
                .collect()
        };
        let examples = read_all(&root.join("pipelines"));
        let anchors = |f: &Vec<u8>| {
            f.windows(2)
                .filter(|w| w[0] == b'&' && w[1].is_ascii_alphabetic())
                .count()
        };
        let files: Vec<Vec<u8>> = read_all(&root.join("tests/corpus"))
            .into_iter()
            .filter(|f| anchors(f) < 3)
            .collect();
        assert!(
            examples.len() >= 2 && files.len() >= 10,
            "the corpus is missing"
        );
        let lines = examples
            .iter()
            .chain(&files)
            .flat_map(|f| f.split(|&b| b == b'\n').map(<[u8]>::to_vec))
            .filter(|l| !l.is_empty())
            .collect();
        Corpus {
            examples,
            files,
            lines,
        }
    }
}
