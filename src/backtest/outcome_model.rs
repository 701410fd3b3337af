//! An outcome read from a source's rows, as metrics the nights machinery
//! computes: an outcome holds for night D when one of its rows lies in
//! [D, D + horizon), which is a window of length `horizon` ending at
//! D + horizon. So the outcome of nights D₁, D₂, … is the scorecard of a
//! small model — the rows counted, the first row's time and the value, all
//! over that window, for every entity (no population filter) — on nights
//! D₁ + horizon, D₂ + horizon, …, which a backfill's shared pass computes
//! in one read of the source.

use crate::base::types::{ColumnType, Schemas, Type};
use crate::base::units::Seconds;
use crate::check::functions::Aggregate;
use crate::check::model::{Metric, MetricKind, Model, Outcome, OutcomeKind, TypedExpr, TypedKind};

/// The outcome model's metric counting the outcome's rows in the horizon.
pub const ROWS: &str = "outcome_rows";
/// Its metric holding the first row's time in the horizon.
pub const FIRST: &str = "outcome_first";
/// Its metric holding the outcome's value in the horizon (null without `value:`).
pub const VALUE: &str = "outcome_value";

/// The model whose night D + horizon holds `outcome` for night D, when
/// the outcome comes from a source's rows (`None` for an `at:` outcome,
/// which the scored nights' entity attribute answers).
pub fn outcome_model(model: &Model, outcome: &Outcome, schemas: &Schemas) -> Option<Model> {
    let OutcomeKind::Rows {
        source,
        filter,
        filter_text,
        value,
        value_text,
    } = &outcome.kind
    else {
        return None;
    };
    let time = model.source(source)?.time.clone()?;
    let time_type = match schemas.get(source).and_then(|s| s.column(&time)) {
        Some(ColumnType::Known(t)) => *t,
        _ => Type::Timestamp,
    };
    let span = outcome.span;
    let aggregate = |function, args: Vec<TypedExpr>, ty| TypedExpr {
        kind: TypedKind::Aggregate {
            function,
            args,
            filter: None,
        },
        ty,
        span,
    };
    let metric = |name: &str, value: TypedExpr, text: String| Metric {
        name: name.to_string(),
        about: outcome.about.clone(),
        kind: MetricKind::Aggregate {
            source: source.clone(),
            window: Some(outcome.horizon),
            filter: filter.clone(),
            value: value.clone(),
        },
        ty: value.ty,
        unit: None,
        unused: false,
        value_text: text,
        filter_text: filter_text.clone(),
        span,
    };
    let time_column = TypedExpr {
        kind: TypedKind::Column(time.clone()),
        ty: time_type,
        span,
    };
    let mut metrics = vec![
        metric(
            ROWS,
            aggregate(Aggregate::Count, Vec::new(), Type::Integer),
            "count()".into(),
        ),
        metric(
            FIRST,
            aggregate(Aggregate::Min, vec![time_column], time_type),
            format!("min({time})"),
        ),
    ];
    if let (Some(value), Some(text)) = (value, value_text) {
        metrics.push(metric(VALUE, value.clone(), text.clone()));
    }
    let mut entity = model.entity.clone();
    entity.population = None;
    entity.attributes = Vec::new();
    entity.display = Vec::new();
    Some(Model {
        file: model.file.clone(),
        name: model.name.clone(),
        about: model.about.clone(),
        sources: model.sources.clone(),
        entity,
        evaluations: metrics
            .iter()
            .map(|m| (m.name.clone(), Seconds::ZERO))
            .collect(),
        metrics,
        targets: None,
        indicators: Vec::new(),
        health: None,
        playbooks: Vec::new(),
        outcomes: Vec::new(),
        rollups: Vec::new(),
        outputs: model.outputs.clone(),
        tests: Vec::new(),
        edges: Vec::new(),
    })
}
