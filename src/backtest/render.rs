//! A backtest report as Markdown: a few sentences a CS leader can read,
//! then the tables. Undefined figures show as `—`, never NaN.

use std::fmt::Write;

use super::report::{Auc, FlagRow, Report, SignalRow};

fn percent(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{:.1}%", v * 100.0))
}

fn ratio(value: Option<f64>) -> String {
    value.map_or("—".into(), |v| format!("{v:.2}×"))
}

fn decimal(value: Option<f64>, places: usize) -> String {
    value.map_or("—".into(), |v| format!("{v:.places$}"))
}

fn auc(a: &Auc) -> String {
    match (a.value, a.low, a.high) {
        (Some(v), Some(lo), Some(hi)) => format!("{v:.3} ({lo:.3}–{hi:.3})"),
        (Some(v), _, _) => format!("{v:.3}"),
        _ => "—".into(),
    }
}

/// A table's header: the first column left-aligned, the others (numbers)
/// right-aligned; `extra` is an optional last column.
fn header(out: &mut String, columns: &[&str], extra: Option<&str>) {
    let columns: Vec<&str> = columns.iter().copied().chain(extra).collect();
    let _ = writeln!(out, "| {} |", columns.join(" | "));
    let _ = writeln!(out, "|---|{}", "---:|".repeat(columns.len() - 1));
}

/// One table row.
fn row(out: &mut String, cells: Vec<String>) {
    let _ = writeln!(out, "| {} |", cells.join(" | "));
}

fn flag_table(out: &mut String, rows: &[FlagRow], valued: bool) {
    header(
        out,
        &[
            "flagged when",
            "entity-nights flagged",
            "precision",
            "recall",
            "F1",
        ],
        valued.then_some("value caught"),
    );
    for r in rows {
        let mut cells = vec![
            r.flagged_when.clone(),
            r.flagged.to_string(),
            percent(r.precision),
            percent(r.recall),
            decimal(r.f1, 3),
        ];
        if valued {
            cells.push(percent(r.value_recall));
        }
        row(out, cells);
    }
}

fn signal_table(out: &mut String, what: &str, rows: &[SignalRow]) {
    header(
        out,
        &[
            what,
            "AUC alone (95% interval)",
            "mean with outcome",
            "mean without",
            "missing",
            "verdict",
        ],
        None,
    );
    for r in rows {
        row(
            out,
            vec![
                format!("`{}`", r.name),
                auc(&r.auc),
                decimal(r.mean_with, 2),
                decimal(r.mean_without, 2),
                percent(Some(r.missing)),
                r.verdict.clone(),
            ],
        );
    }
}

/// The report as Markdown.
pub fn markdown(r: &Report) -> String {
    let mut out = String::new();
    let valued = r.bands.iter().any(|b| b.share_of_value.is_some());
    let _ = writeln!(
        out,
        "# Backtest of `{}`: does health predict `{}` within {}?\n",
        r.pipeline, r.outcome, r.horizon
    );
    let _ = writeln!(
        out,
        "Nights {} to {} every {}d: {} scored, {} left out because their {} horizon runs past the end of the data{}. {} entity-nights over {} entities; `{}` followed {} of them (base rate {}).\n",
        r.nights.from,
        r.nights.to,
        r.nights.every_days,
        r.nights.scored,
        r.nights.censored,
        r.horizon,
        r.nights.data_end.map_or(String::new(), |d| format!(
            " (data through {})",
            d.pred_opt().unwrap_or(d)
        )),
        r.entity_nights,
        r.entities,
        r.outcome,
        r.outcomes,
        percent(r.base_rate)
    );
    let _ = writeln!(
        out,
        "**AUC of health: {}** (1.0 ranks every entity-night the outcome followed below every other; 0.5 is chance; interval: {} bootstrap resamples by entity, seed {}).\n",
        auc(&r.auc),
        r.resamples,
        r.seed
    );
    for note in &r.notes {
        let _ = writeln!(out, "> {note}\n");
    }
    let _ = writeln!(out, "## By band\n");
    header(
        &mut out,
        &[
            "band",
            "entity-nights",
            "with outcome",
            "rate",
            "lift",
            "share of outcomes",
        ],
        valued.then_some("share of value"),
    );
    for b in &r.bands {
        let mut cells = vec![
            b.band.clone(),
            b.entity_nights.to_string(),
            b.outcomes.to_string(),
            percent(b.rate),
            ratio(b.lift),
            percent(b.share_of_outcomes),
        ];
        if valued {
            cells.push(percent(b.share_of_value));
        }
        row(&mut out, cells);
    }
    let _ = writeln!(out, "\n## Flagging by band\n");
    flag_table(&mut out, &r.flags, valued);
    let _ = writeln!(out, "\n## If the lowest band ended elsewhere\n");
    flag_table(&mut out, &r.thresholds, valued);
    let _ = writeln!(out, "\n## Calibration by health decile\n");
    header(&mut out, &["health", "entity-nights", "outcome rate"], None);
    for c in &r.calibration {
        row(
            &mut out,
            vec![
                format!("{:.1}–{:.1}", c.from, c.to),
                c.entity_nights.to_string(),
                percent(Some(c.rate)),
            ],
        );
    }
    let _ = writeln!(out, "\n## Indicators alone (a lower score = more risk)\n");
    signal_table(&mut out, "indicator", &r.indicators);
    let _ = writeln!(out, "\n## Metrics alone (a higher value = more risk)\n");
    signal_table(&mut out, "metric", &r.metrics);
    if !r.playbooks.is_empty() {
        let _ = writeln!(out, "\n## Playbooks\n");
        header(
            &mut out,
            &[
                "playbook",
                "firings",
                "followed by the outcome",
                "lift",
                "median lead (days)",
            ],
            None,
        );
        for p in &r.playbooks {
            row(
                &mut out,
                vec![
                    format!("`{}`", p.name),
                    p.firings.to_string(),
                    percent(p.rate),
                    ratio(p.lift),
                    decimal(p.median_lead_days, 1),
                ],
            );
        }
    }
    if let Some(s) = &r.suggestion {
        let _ = writeln!(out, "\n## Suggested weights\n");
        let _ = writeln!(
            out,
            "Fitted on {} entity-nights before {}, judged on the {} from {} on (a split in time). Out-of-time AUC: current weights {}, suggested {}.{}\n",
            s.fitted,
            s.split,
            s.judged,
            s.split,
            decimal(s.auc_current, 3),
            decimal(s.auc_suggested, 3),
            if s.converged {
                ""
            } else {
                " (the regression did not converge: read the weights with care)"
            }
        );
        if let Some(caveat) = &s.caveat {
            let _ = writeln!(out, "> {caveat}\n");
        }
        header(
            &mut out,
            &["indicator", "group", "share of health now", "suggested"],
            None,
        );
        for w in &s.weights {
            row(
                &mut out,
                vec![
                    format!("`{}`", w.indicator),
                    w.group.clone(),
                    format!("{:.1}%", w.current),
                    format!("{:.1}%", w.suggested),
                ],
            );
        }
    }
    let _ = writeln!(out, "\n## Lead time\n");
    let _ = writeln!(
        out,
        "Of {} entities the outcome happened to, {} were in the lowest band on a night within the horizon before it; median lead {} days.",
        r.lead.entities,
        r.lead.flagged_before,
        decimal(r.lead.median_days, 1)
    );
    out
}

fn change(base: Option<f64>, head: Option<f64>, scale: f64, places: usize) -> String {
    match (base, head) {
        (Some(b), Some(h)) => format!("{:+.places$}", (h - b) * scale),
        _ => "—".into(),
    }
}

/// A table of named rows of base and head by name (`(none)` where a side
/// lacks one): `cell` gives a row's name and its text.
fn side_by_side<T>(
    out: &mut String,
    what: &str,
    base: &[T],
    head: &[T],
    cell: impl Fn(&T) -> (&str, String),
) {
    header(out, &[what, "base", "head"], None);
    let cells = |rows: &[T]| -> std::collections::BTreeMap<String, String> {
        rows.iter()
            .map(|r| {
                let (name, text) = cell(r);
                (name.to_string(), text)
            })
            .collect()
    };
    let (base, head) = (cells(base), cells(head));
    let names: std::collections::BTreeSet<&String> = base.keys().chain(head.keys()).collect();
    let text = |side: &std::collections::BTreeMap<String, String>, name: &String| {
        side.get(name).cloned().unwrap_or_else(|| "(none)".into())
    };
    for name in names {
        row(
            out,
            vec![format!("`{name}`"), text(&base, name), text(&head, name)],
        );
    }
}

/// Base and head backtests side by side, for `vane diff --backtest`: does
/// the change make the score better at its job?
pub fn comparison(base: &Report, head: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Backtest: does health predict `{}` within {}?\n",
        head.outcome, head.horizon
    );
    let _ = writeln!(
        out,
        "Nights {} to {} every {}d, scored with each side's definitions: {} entity-nights (base) and {} (head), base rate {} and {}.\n",
        head.nights.from,
        head.nights.to,
        head.nights.every_days,
        base.entity_nights,
        head.entity_nights,
        percent(base.base_rate),
        percent(head.base_rate)
    );
    header(&mut out, &["", "base", "head", "change"], None);
    row(
        &mut out,
        vec![
            "AUC of health".into(),
            auc(&base.auc),
            auc(&head.auc),
            change(base.auc.value, head.auc.value, 1.0, 3),
        ],
    );
    for (b, h) in base.flags.iter().zip(&head.flags) {
        for (what, bv, hv) in [
            ("precision", b.precision, h.precision),
            ("recall", b.recall, h.recall),
        ] {
            row(
                &mut out,
                vec![
                    format!("{what} of {}", h.flagged_when),
                    percent(bv),
                    percent(hv),
                    format!("{} pts", change(bv, hv, 100.0, 1)),
                ],
            );
        }
    }
    let _ = writeln!(out, "\n### Indicators alone (AUC)\n");
    side_by_side(
        &mut out,
        "indicator",
        &base.indicators,
        &head.indicators,
        |s| (s.name.as_str(), format!("{} {}", auc(&s.auc), s.verdict)),
    );
    let _ = writeln!(out, "\n### Playbooks (lift over the base rate, firings)\n");
    side_by_side(
        &mut out,
        "playbook",
        &base.playbooks,
        &head.playbooks,
        |p| {
            (
                p.name.as_str(),
                format!("{} ({})", ratio(p.lift), p.firings),
            )
        },
    );
    out
}
