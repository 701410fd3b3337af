//! `vane report`: a static HTML site from the nights already written in
//! an output folder — an overview of the book, one page per owner and one
//! per entity — that opens from disk with no network and is the same
//! bytes for the same nights.
//!
//! [`data`] reads the nights (the chosen one in full, every earlier one's
//! key, health and band only), [`pages`] turns them into what each page
//! shows, [`charts`] lays out the inline SVG charts, and [`site`] renders
//! the templates in `templates/` (minijinja, HTML escaped by default) and
//! writes the folder atomically.

pub mod backtest;
pub mod charts;
pub mod data;
pub mod pages;
pub mod site;

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use serde::Serialize;

use crate::check::model::Model;
use crate::diagnostics::{Code, Diagnostic};
use pages::{Pages, band_colours, list_href};
use site::Staging;

/// What `vane report` is asked for.
#[derive(Debug, Clone, Default)]
pub struct ReportOptions {
    /// The output folder the nights were written to; default the
    /// pipeline's `outputs.dir`.
    pub outputs: Option<PathBuf>,
    /// The folder the site is written to; default `report` inside the
    /// output folder.
    pub site: Option<PathBuf>,
    /// The night shown; default the newest night written.
    pub as_of: Option<NaiveDate>,
    /// The JSON report of `vane backtest` to summarise; default
    /// `backtest.json` in the output folder, when it exists.
    pub backtest: Option<PathBuf>,
}

/// What a report wrote.
#[derive(Debug, Clone)]
pub struct ReportSummary {
    /// The site's folder.
    pub site: PathBuf,
    /// The night shown.
    pub as_of: NaiveDate,
    /// The nights read (up to the one shown).
    pub nights: usize,
    /// Entities on the night shown.
    pub entities: usize,
    /// `(band, entities)` on the night shown.
    pub bands: Vec<(String, usize)>,
    /// Owner pages written.
    pub owners: usize,
    /// Files written in all.
    pub files: usize,
    /// The overview's size in bytes.
    pub overview_bytes: usize,
}

/// The stylesheet's inputs: the bands' colours.
#[derive(Serialize)]
struct Stylesheet {
    bands: Vec<pages::BandColour>,
}

/// The search index as a script that sets `window.VANE_SEARCH` (a
/// script, not JSON, because pages opened from disk cannot fetch files).
fn search_script(entries: &[pages::SearchEntry]) -> Result<String, Diagnostic> {
    let json = serde_json::to_string(entries).map_err(|e| {
        Diagnostic::error(
            Code::Internal,
            format!("the search index cannot be written: {e}"),
        )
        .help("this is a bug in Vane; please report it")
    })?;
    Ok(format!("window.VANE_SEARCH = {json};\n"))
}

/// Read the nights of the output folder up to the chosen night and write
/// the site. `pipeline` is the pipeline's path as given, for help lines.
pub fn write_report(
    model: &Model,
    pipeline: &Path,
    options: &ReportOptions,
) -> Result<ReportSummary, Vec<Diagnostic>> {
    let outputs = options
        .outputs
        .clone()
        .unwrap_or_else(|| model.outputs.dir.clone());
    let target = options
        .site
        .clone()
        .unwrap_or_else(|| outputs.join("report"));
    let (nights, later) =
        data::choose_nights(&outputs, options.as_of, pipeline).map_err(|d| vec![d])?;
    let book = data::read_book(model, &outputs, &nights, later).map_err(|d| vec![d])?;
    let backtest = match &options.backtest {
        Some(file) => backtest::read_backtest(file, true),
        None => backtest::read_backtest(&outputs.join(backtest::DEFAULT_FILE), false),
    }
    .map_err(|d| vec![d])?;
    let pages = Pages::new(model, &book);
    let env = site::environment().map_err(|d| vec![d])?;
    let staging = Staging::new(&target).map_err(|d| vec![d])?;
    let one = |d: Diagnostic| vec![d];

    let css = site::render(
        &env,
        "report.css",
        &Stylesheet {
            bands: band_colours(&book.bands),
        },
    )
    .map_err(one)?;
    staging
        .write("static/report.css", css.as_bytes())
        .map_err(one)?;
    let search = pages.search();
    staging
        .write(
            "static/search.js",
            search_script(&search).map_err(one)?.as_bytes(),
        )
        .map_err(one)?;
    let mut overview = pages.overview(&search);
    overview.backtest = backtest;
    let overview = site::render(&env, "overview.html", &overview).map_err(one)?;
    staging
        .write("index.html", overview.as_bytes())
        .map_err(one)?;
    let mut files = 4;
    let list_pages = search.len().div_ceil(pages::LIST_PAGE).max(1);
    for n in 1..=list_pages {
        let html = site::render(&env, "list.html", &pages.list_page(n)).map_err(one)?;
        staging.write(&list_href(n), html.as_bytes()).map_err(one)?;
        files += 1;
    }
    for owner in &pages.owners {
        let html = site::render(&env, "owner.html", &pages.owner_page(owner)).map_err(one)?;
        staging
            .write(&Pages::owner_href(owner), html.as_bytes())
            .map_err(one)?;
        files += 1;
    }
    let rows = book.scorecard.rows;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8);
    let failures: Vec<Diagnostic> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (pages, env, staging) = (&pages, &env, &staging);
                scope.spawn(move || -> Result<(), Diagnostic> {
                    for row in (t..rows).step_by(threads) {
                        let page = pages.entity_page(row);
                        let html = site::render(env, "entity.html", &page)?;
                        staging.write(&page.entity.href, html.as_bytes())?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers
            .into_iter()
            .filter_map(|w| match w.join() {
                Ok(result) => result.err(),
                Err(_) => Some(
                    Diagnostic::error(Code::Internal, "rendering the entity pages stopped")
                        .help("this is a bug in Vane; please report it"),
                ),
            })
            .collect()
    });
    if !failures.is_empty() {
        return Err(failures);
    }
    files += rows;
    let site = staging.commit().map_err(one)?;
    let counts = book.counts.last();
    Ok(ReportSummary {
        site,
        as_of: book.as_of(),
        nights: book.nights.len(),
        entities: rows,
        bands: book
            .bands
            .iter()
            .enumerate()
            .map(|(i, b)| {
                (
                    b.clone(),
                    counts.and_then(|c| c.bands.get(i).copied()).unwrap_or(0),
                )
            })
            .collect(),
        owners: pages.owners.len(),
        files,
        overview_bytes: overview.len(),
    })
}
