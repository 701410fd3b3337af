//! The scorecard plan, in two parts. The *facts* are DataFusion plans: the
//! population, and *sides* to left-join to it by entity key (one
//! aggregation per source, the effective KPI targets, the previous health).
//! The *steps* are entity-level columns computed row by row over the
//! facts: source metrics, derived metrics (by dependency level), indicator
//! scores, group scores, health, band and trend.
//!
//! Why this shape: the population and the sides read the data and need
//! DataFusion's optimizer (pruning, pushdown); each has at most one row per
//! entity. `run` plans and executes them concurrently and joins them in
//! memory: as one plan of eight joins they cost more to plan than their
//! joins cost to run. The steps see one row per entity too, and as a stack
//! of ~60-column projections they cost DataFusion more to plan than to run
//! (docs/benchmarks.md); `run` evaluates them as expressions.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::ScalarValue;
use datafusion::functions::core as core_fn;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder, cast, ident, lit, when};

use super::PlanError;
use super::aggregate::source_aggregate;
use super::exprs::{AsOf, LowerResult, Lowering, out_of_range, safe_div};
use crate::base::names;
use crate::base::units::{Micros, Seconds};
use crate::check::functions::Function;
use crate::check::model::{Health, MetricKind, Model, TypedKind};

/// What the planner needs from the data: scans and column types.
pub struct Inputs<'a> {
    /// A scan of each source by name (unoptimized `TableScan`s).
    pub scans: &'a BTreeMap<String, LogicalPlan>,
    /// The previous scorecard (key + health), when one exists.
    pub previous: Option<LogicalPlan>,
    /// Whether the previous scorecard was computed by other definitions
    /// (null when there is none or it does not say).
    pub previous_definitions_changed: Option<bool>,
    /// The as-of instant (midnight UTC at the start of the as-of date).
    pub as_of: Micros,
}

/// Entity-level columns computed row by row from the facts and earlier steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// What the step computes, for `vane plan`.
    pub label: String,
    /// The new columns, in order: name and expression over earlier columns.
    pub columns: Vec<(String, Expr)>,
}

/// A table with at most one row per entity, left-joined to the population
/// by key.
#[derive(Debug, Clone)]
pub struct Side {
    /// What the side holds: a source's name (`events`, `events__distinct0`),
    /// `targets` or `previous`.
    pub name: String,
    /// Its key column is [`names::side_key`] of the name, cast to the
    /// entity key's type; every other column but `rows` becomes a column
    /// of the facts.
    pub plan: LogicalPlan,
    /// The column counting the source rows read per key, when the side
    /// has one: the rows of keys outside the population are counted.
    pub rows: Option<String>,
    /// The side's columns as windows over its source's time, when they
    /// are (see [`super::windows`]): many nights can share one pass.
    pub windowed: Option<super::windows::Windowed>,
}

impl Side {
    /// The name of the side's key column.
    pub fn key(&self) -> String {
        names::side_key(&self.name)
    }
}

/// The scorecard as planned: the facts (population and sides), then steps.
#[derive(Debug, Clone)]
pub struct ScorecardPlan {
    /// One row per entity of the population: key and attributes. Unsorted:
    /// `run` sorts the entities by key in memory, because DataFusion's sort
    /// would count the string buffers the rows share once per batch and
    /// refuse to run under a memory limit.
    pub population: LogicalPlan,
    /// Every source aggregate, the effective targets and the previous
    /// health, each keyed by entity.
    pub sides: Vec<Side>,
    /// Entity-level steps, in evaluation order.
    pub steps: Vec<Step>,
    /// The rows of the targets that any night may find effective, for
    /// nights planned together (the `targets` side reads the one night's).
    pub effective_targets: Option<super::targets::EffectiveTargets>,
}

impl ScorecardPlan {
    /// The facts' schema: the population's columns, then every side's
    /// columns but its key, nullable (an entity may have no row in a side).
    pub fn facts_schema(&self) -> Schema {
        let population = self.population.schema().as_arrow().fields().iter().cloned();
        let sides = self.sides.iter().flat_map(|side| {
            let key = side.key();
            side.plan
                .schema()
                .as_arrow()
                .fields()
                .iter()
                .filter(|f| *f.name() != key && Some(f.name()) != side.rows.as_ref())
                .map(|f| std::sync::Arc::new(Field::clone(f).with_nullable(true)))
                .collect::<Vec<_>>()
        });
        Schema::new(population.chain(sides).collect::<Vec<_>>())
    }
}

fn err(e: impl ToString) -> PlanError {
    PlanError::Bug(e.to_string())
}

fn column_type(plan: &LogicalPlan, name: &str) -> Option<DataType> {
    plan.schema()
        .fields()
        .iter()
        .find(|f| f.name() == name)
        .map(|f| f.data_type().clone())
}

/// Plan the working scorecard: one row per entity of the population (`run`
/// sorts them by key), with every column playbooks may need (shifted
/// metrics, targets); [`output_columns`] selects what is written.
pub fn scorecard_plan(model: &Model, inputs: &Inputs<'_>) -> LowerResult<ScorecardPlan> {
    let entity = &model.entity;
    let key = entity.key.as_str();
    let entity_scan = inputs
        .scans
        .get(&entity.source)
        .cloned()
        .ok_or_else(|| format!("no scan for entity source `{}`", entity.source))?;
    let key_type = column_type(&entity_scan, key)
        .ok_or_else(|| format!("entity table has no column `{key}`"))?;
    let population_lowering = Lowering {
        as_of: AsOf::Literal(inputs.as_of),
        shift: Seconds::ZERO,
        key,
    };
    let lowering = Lowering {
        as_of: AsOf::Column,
        shift: Seconds::ZERO,
        key,
    };

    let mut builder = LogicalPlanBuilder::from(entity_scan);
    if let Some(population) = &entity.population {
        builder = builder
            .filter(population_lowering.lower(population)?)
            .map_err(err)?;
    }
    let mut columns: Vec<String> = vec![key.to_string()];
    columns.extend(
        entity
            .attributes
            .iter()
            .filter(|a| a.as_str() != key)
            .cloned(),
    );
    let population = builder
        .project(columns.iter().map(ident))
        .and_then(|b| b.build())
        .map_err(err)?;

    let mut sides = Vec::new();
    let mut source_metrics: Vec<(String, Expr)> = Vec::new();
    for source in &model.sources {
        let used = model.metrics.iter().any(
            |m| matches!(&m.kind, MetricKind::Aggregate { source: s, .. } if s == &source.name),
        );
        if !used {
            continue;
        }
        let scan = inputs
            .scans
            .get(&source.name)
            .cloned()
            .ok_or_else(|| format!("no scan for source `{}`", source.name))?;
        let time_type = source.time.as_deref().and_then(|t| column_type(&scan, t));
        let aggregate = source_aggregate(
            model,
            source,
            scan,
            time_type.as_ref(),
            &key_type,
            inputs.as_of,
        )?;
        sides.extend(
            aggregate
                .sides
                .into_iter()
                .map(|(name, plan, rows, windowed)| Side {
                    name,
                    plan,
                    rows,
                    windowed,
                }),
        );
        source_metrics.extend(aggregate.metrics);
    }
    if let Some(targets) =
        super::targets::targets_plan(model, inputs.scans, inputs.as_of, &key_type)?
    {
        sides.push(Side {
            name: names::TARGETS_SIDE.to_string(),
            plan: targets,
            rows: None,
            windowed: None,
        });
    }
    if let Some(previous) = &inputs.previous {
        let previous = LogicalPlanBuilder::from(previous.clone())
            .project(vec![
                cast(ident(key), key_type.clone()).alias(names::side_key(names::PREVIOUS_SIDE)),
                cast(ident(names::HEALTH), DataType::Float64).alias(names::PREVIOUS_HEALTH),
            ])
            .and_then(|b| b.build())
            .map_err(err)?;
        sides.push(Side {
            name: names::PREVIOUS_SIDE.to_string(),
            plan: previous,
            rows: None,
            windowed: None,
        });
    }
    let has_previous = inputs.previous.is_some();

    let mut steps = vec![
        Step {
            label: "the night".to_string(),
            columns: vec![(
                names::AS_OF_DATE.to_string(),
                cast(ident(names::AS_OF), DataType::Date32),
            )],
        },
        Step {
            label: "source metrics".to_string(),
            columns: source_metrics,
        },
    ];
    for (depth, level) in derived_levels(model).into_iter().enumerate() {
        let mut columns = Vec::new();
        for (name, shift) in level {
            let Some(MetricKind::Derived { value }) = model.metric(&name).map(|m| &m.kind) else {
                continue;
            };
            inputs
                .as_of
                .before(shift)
                .ok_or_else(|| out_of_range(&format!("`{name}` evaluated {shift} before as-of")))?;
            let shifted = Lowering {
                as_of: AsOf::Column,
                shift,
                key,
            };
            columns.push((names::metric(&name, shift), shifted.lower(value)?));
        }
        steps.push(Step {
            label: format!("derived metrics, level {}", depth + 1),
            columns,
        });
    }

    // Indicator scores, clamped to 0–100.
    let mut scores = Vec::new();
    for indicator in &model.indicators {
        let lowered = lowering.lower(&indicator.score)?;
        // `ramp` and `attainment` already clamp; clamping again would only
        // repeat their expression.
        let score = match &indicator.score.kind {
            TypedKind::Call(Function::Ramp | Function::Attainment, _) => lowered,
            _ => super::exprs::clamp(lowered, lit(0.0), lit(100.0)),
        };
        scores.push((names::score(&indicator.name), score));
    }
    steps.push(Step {
        label: "indicator scores".to_string(),
        columns: scores,
    });

    if let Some(health) = &model.health {
        steps.extend(health_steps(
            model,
            health,
            &lowering,
            has_previous,
            inputs.previous_definitions_changed,
        )?);
    }
    steps.retain(|s| !s.columns.is_empty());
    let effective_targets = super::targets::effective_rows(model, inputs.scans, &key_type)?;
    Ok(ScorecardPlan {
        population,
        sides,
        steps,
        effective_targets,
    })
}

/// The scorecard's columns, in output order.
pub fn output_columns(model: &Model) -> Vec<String> {
    let key = &model.entity.key;
    let mut out = vec![key.clone(), names::AS_OF_DATE.to_string()];
    out.extend(
        model
            .entity
            .attributes
            .iter()
            .filter(|a| *a != key)
            .cloned(),
    );
    let mut metrics: Vec<&crate::check::model::Metric> = model.metrics.iter().collect();
    metrics.sort_by_key(|m| m.span.start);
    out.extend(metrics.iter().map(|m| m.name.clone()));
    out.extend(
        metrics
            .iter()
            .filter(|m| m.has_rows_counted())
            .map(|m| names::rows_counted(&m.name)),
    );
    if let Some(targets) = &model.targets {
        for kpi in &targets.kpis {
            out.push(names::target(kpi));
            out.push(names::direction(kpi));
        }
    }
    out.extend(model.indicators.iter().map(|i| names::score(&i.name)));
    if let Some(health) = &model.health {
        out.extend(health.groups.iter().map(|g| names::group(&g.name)));
        out.extend(
            [
                names::HEALTH,
                names::BAND,
                names::HEALTH_MODEL,
                names::PREVIOUS_HEALTH,
                names::TREND,
                names::TREND_DEFINITION_CHANGED,
            ]
            .map(String::from),
        );
    }
    out
}

/// Derived `(metric, shift)` evaluations grouped by dependency level.
fn derived_levels(model: &Model) -> Vec<Vec<(String, Seconds)>> {
    let mut level: BTreeMap<(String, Seconds), usize> = BTreeMap::new();
    fn level_of(
        model: &Model,
        name: &str,
        shift: Seconds,
        memo: &mut BTreeMap<(String, Seconds), usize>,
    ) -> usize {
        if let Some(l) = memo.get(&(name.to_string(), shift)) {
            return *l;
        }
        let l = match model.metric(name).map(|m| &m.kind) {
            Some(MetricKind::Derived { value }) => {
                1 + value
                    .metric_refs()
                    .iter()
                    .filter_map(|(dep, s)| Some(level_of(model, dep, s.checked_add(shift)?, memo)))
                    .max()
                    .unwrap_or(0)
            }
            _ => 0,
        };
        memo.insert((name.to_string(), shift), l);
        l
    }
    for (name, shift) in &model.evaluations {
        level_of(model, name, *shift, &mut level);
    }
    let depth = level.values().copied().max().unwrap_or(0);
    (1..=depth)
        .map(|d| {
            level
                .iter()
                .filter(|(_, l)| **l == d)
                .map(|(k, _)| k.clone())
                .collect()
        })
        .collect()
}

/// Weighted mean of `scores` with `weights`, over the non-null scores only
/// (a null score drops out and the other weights are renormalized).
fn weighted_mean(parts: Vec<(Expr, Expr)>) -> Expr {
    let zero = || lit(0.0);
    let mut numerator = zero();
    let mut denominator = zero();
    for (score, weight) in parts {
        numerator = numerator
            + core_fn::coalesce().call(vec![
                cast(score.clone(), DataType::Float64) * weight.clone(),
                zero(),
            ]);
        denominator = denominator
            + when(score.is_null(), zero())
                .otherwise(weight)
                .unwrap_or_else(|_| zero());
    }
    safe_div(numerator, denominator)
}

/// A weight that segment models may override: `CASE WHEN model THEN w' … ELSE w END`.
fn weight(default: f64, overrides: &[(Expr, f64)]) -> Expr {
    let mut iter = overrides.iter();
    match iter.next() {
        None => lit(default),
        Some((condition, w)) => {
            let mut builder = when(condition.clone(), lit(*w));
            for (condition, w) in iter {
                builder = builder.when(condition.clone(), lit(*w));
            }
            builder
                .otherwise(lit(default))
                .unwrap_or_else(|_| lit(default))
        }
    }
}

/// Group scores and the health model; health; band, previous health and trend.
fn health_steps(
    model: &Model,
    health: &Health,
    lowering: &Lowering<'_>,
    has_previous: bool,
    previous_definitions_changed: Option<bool>,
) -> LowerResult<Vec<Step>> {
    // A model applies when its condition is true and no earlier model's is.
    let mut conditions: Vec<(String, Expr)> = Vec::new();
    let mut earlier: Option<Expr> = None;
    for m in &health.models {
        let own = core_fn::coalesce().call(vec![lowering.lower(&m.when)?, lit(false)]);
        let applies = match &earlier {
            Some(e) => own.clone().and(!e.clone()),
            None => own.clone(),
        };
        earlier = Some(match earlier {
            Some(e) => e.or(own),
            None => own,
        });
        conditions.push((m.name.clone(), applies));
    }
    let overrides =
        |pick: &dyn Fn(&crate::check::model::HealthModel) -> Option<f64>| -> Vec<(Expr, f64)> {
            health
                .models
                .iter()
                .zip(&conditions)
                .filter_map(|(m, (_, c))| pick(m).map(|w| (c.clone(), w)))
                .collect()
        };

    let mut groups = Vec::new();
    for group in &health.groups {
        let parts = model
            .indicators
            .iter()
            .filter(|i| i.group == group.name)
            .map(|i| {
                let w = weight(
                    i.weight,
                    &overrides(&|m| m.indicator_weights.get(&i.name).copied()),
                );
                (ident(names::score(&i.name)), w)
            })
            .collect::<Vec<_>>();
        let score = if parts.is_empty() {
            lit(ScalarValue::Float64(None))
        } else {
            weighted_mean(parts)
        };
        groups.push((names::group(&group.name), score));
    }
    let model_name = match conditions.first() {
        None => lit("default"),
        Some(_) => {
            let mut iter = conditions.iter();
            let (name, c) = iter.next().ok_or("no model")?;
            let mut b = when(c.clone(), lit(name.clone()));
            for (name, c) in iter {
                b = b.when(c.clone(), lit(name.clone()));
            }
            b.otherwise(lit("default")).map_err(err)?
        }
    };
    groups.push((names::HEALTH_MODEL.to_string(), model_name));

    let parts = health
        .groups
        .iter()
        .map(|g| {
            let w = weight(
                g.weight,
                &overrides(&|m| m.group_weights.get(&g.name).copied()),
            );
            (ident(names::group(&g.name)), w)
        })
        .collect();
    let score = vec![(names::HEALTH.to_string(), weighted_mean(parts))];

    let mut band = when(ident(names::HEALTH).is_null(), lit(ScalarValue::Utf8(None)));
    let last = health.bands.len().saturating_sub(1);
    for (i, b) in health.bands.iter().enumerate() {
        if i < last {
            band = band.when(ident(names::HEALTH).lt(lit(b.to)), lit(b.name.clone()));
        }
    }
    let top = health
        .bands
        .last()
        .map(|b| b.name.clone())
        .unwrap_or_default();
    let mut band_and_trend = vec![(
        names::BAND.to_string(),
        band.otherwise(lit(top)).map_err(err)?,
    )];
    let trend = if has_previous {
        ident(names::HEALTH) - ident(names::PREVIOUS_HEALTH)
    } else {
        band_and_trend.push((
            names::PREVIOUS_HEALTH.to_string(),
            lit(ScalarValue::Float64(None)),
        ));
        lit(ScalarValue::Float64(None))
    };
    band_and_trend.push((names::TREND.to_string(), trend));
    band_and_trend.push((
        names::TREND_DEFINITION_CHANGED.to_string(),
        lit(ScalarValue::Boolean(
            previous_definitions_changed.filter(|_| has_previous),
        )),
    ));
    Ok(vec![
        Step {
            label: "group scores and health model".to_string(),
            columns: groups,
        },
        Step {
            label: "health".to_string(),
            columns: score,
        },
        Step {
            label: "band and trend".to_string(),
            columns: band_and_trend,
        },
    ])
}
