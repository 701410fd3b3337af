//! Health checks that need no expressions: group weights, band coverage of
//! 0–100, and the names health models refer to.

use std::sync::Arc;

use super::model::{Band, Group, Health};
use crate::base::SourceFile;
use crate::diagnostics::{Code, Diagnostic, suggestion};
use crate::syntax::ast::{HealthDef, IndicatorDef};

/// Check the health section; returns the groups and bands (models are added by the caller).
pub(super) fn check_health(
    file: &Arc<SourceFile>,
    def: &HealthDef,
    indicators: &[IndicatorDef],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Health> {
    let mut ok = true;
    let mut error = |d: Diagnostic| {
        diagnostics.push(d);
    };
    let group_names: Vec<&str> = def.groups.iter().map(|g| g.name.value.as_str()).collect();
    let groups: Vec<Group> = def
        .groups
        .iter()
        .map(|g| Group {
            name: g.name.value.clone(),
            about: g.about.clone(),
            weight: g.weight.map_or(0.0, |w| w.value),
            indicators: Vec::new(),
        })
        .collect();
    if !def.groups.is_empty() && groups.iter().all(|g| g.weight <= 0.0) {
        ok = false;
        error(
            Diagnostic::error(
                Code::InvalidHealth,
                "every group weight is 0, so health cannot be computed",
            )
            .at(file, def.span, "health")
            .help("give at least one group a positive weight"),
        );
    }
    for indicator in indicators {
        if let Some(group) = &indicator.group
            && !group_names.contains(&group.value.as_str())
        {
            ok = false;
            error(
                Diagnostic::error(
                    Code::UnknownName,
                    format!("unknown health group `{}`", group.value),
                )
                .at(file, group.span, "not a group")
                .help(suggestion(
                    &group.value,
                    "group",
                    group_names.iter().copied(),
                )),
            );
        }
    }
    for group in &def.groups {
        let used = indicators.iter().any(|i| {
            i.group
                .as_ref()
                .is_some_and(|g| g.value == group.name.value)
        });
        if !used {
            error(
                Diagnostic::warning(Code::InvalidHealth, format!("health group `{}` has no indicators", group.name.value))
                    .at(file, group.name.span, "empty group")
                    .help("an empty group is always null and drops out of health; add indicators or remove it"),
            );
        }
    }
    let mut bands: Vec<(Band, crate::base::Span)> = def
        .bands
        .iter()
        .filter_map(|b| {
            Some((
                Band {
                    name: b.name.value.clone(),
                    from: b.from?.value,
                    to: b.to?.value,
                },
                b.name.span,
            ))
        })
        .collect();
    bands.sort_by(|a, b| a.0.from.total_cmp(&b.0.from));
    if bands.len() == def.bands.len() && !bands.is_empty() {
        let mut expected_from = 0.0;
        for (band, span) in &bands {
            if band.from >= band.to {
                ok = false;
                error(
                    Diagnostic::error(
                        Code::InvalidHealth,
                        format!(
                            "band `{}` is empty: from {} is not below to {}",
                            band.name, band.from, band.to
                        ),
                    )
                    .at(file, *span, "empty band")
                    .help("a band covers [from, to)"),
                );
            }
            if band.from > expected_from {
                ok = false;
                error(
                    Diagnostic::error(
                        Code::InvalidHealth,
                        format!("bands leave a gap from {expected_from} to {}", band.from),
                    )
                    .at(file, *span, "starts too high")
                    .help(format!("start band `{}` at {expected_from}", band.name)),
                );
            } else if band.from < expected_from {
                ok = false;
                error(
                    Diagnostic::error(
                        Code::InvalidHealth,
                        format!(
                            "band `{}` overlaps the band before it ({} < {expected_from})",
                            band.name, band.from
                        ),
                    )
                    .at(file, *span, "overlaps")
                    .help(format!("start band `{}` at {expected_from}", band.name)),
                );
            }
            expected_from = band.to;
        }
        if expected_from < 100.0 {
            ok = false;
            let span = bands.last().map(|(_, s)| *s).unwrap_or(def.span);
            error(
                Diagnostic::error(
                    Code::InvalidHealth,
                    format!("bands stop at {expected_from}, leaving up to 100 uncovered"),
                )
                .at(file, span, "ends too low")
                .help("the last band must end at 100"),
            );
        } else if expected_from > 100.0 {
            ok = false;
            let span = bands.last().map(|(_, s)| *s).unwrap_or(def.span);
            error(
                Diagnostic::error(
                    Code::InvalidHealth,
                    format!("bands end at {expected_from}, beyond 100"),
                )
                .at(file, span, "ends too high")
                .help("health is 0–100; end the last band at 100"),
            );
        }
    }
    let indicator_names: Vec<&str> = indicators.iter().map(|i| i.name.value.as_str()).collect();
    for model in &def.models {
        for (name, _) in &model.groups {
            if !group_names.contains(&name.value.as_str()) {
                ok = false;
                error(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown health group `{}`", name.value),
                    )
                    .at(file, name.span, "not a group")
                    .help(suggestion(
                        &name.value,
                        "group",
                        group_names.iter().copied(),
                    )),
                );
            }
        }
        for (name, _) in &model.indicators {
            if !indicator_names.contains(&name.value.as_str()) {
                ok = false;
                error(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown indicator `{}`", name.value),
                    )
                    .at(file, name.span, "not an indicator")
                    .help(suggestion(
                        &name.value,
                        "indicator",
                        indicator_names.iter().copied(),
                    )),
                );
            }
        }
    }
    ok.then(|| Health {
        about: def.about.clone(),
        groups,
        bands: bands.into_iter().map(|(b, _)| b).collect(),
        models: Vec::new(),
    })
}
