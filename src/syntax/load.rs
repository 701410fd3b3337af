//! Node tree → [`Pipeline`] AST, checking keys and shapes against [`spec`]
//! and parsing every embedded expression. Problems are collected, never
//! returned early, so one run reports all of them.

use std::collections::HashMap;
use std::sync::Arc;

use super::ast::*;
use super::expr::{Expr, Template, is_identifier, is_keyword};
use super::parse_expr::{parse_expression, parse_template};
use super::scalar::{ScalarStyle, ScalarText};
use super::spec::{self, Field, Section, Shape};
use super::yaml::{Node, NodeKind};
use crate::base::{SourceFile, Span};
use crate::diagnostics::{Code, Diagnostic, suggestion};

/// An expression or template found in the file, for `fmt` to rewrite in place.
#[derive(Debug, Clone)]
pub struct ExpressionSite {
    /// The scalar's raw span in the file.
    pub span: Span,
    /// How the scalar was written.
    pub style: ScalarStyle,
    /// The value as YAML delivered it.
    pub original: String,
    /// The canonical text.
    pub canonical: String,
}

/// The loader's result: the AST (when the file had a usable shape), every
/// expression site, and the diagnostics found on the way.
#[derive(Debug)]
pub struct Loaded {
    /// The pipeline, with whatever parts could be read.
    pub pipeline: Pipeline,
    /// Expressions and templates with their canonical text.
    pub sites: Vec<ExpressionSite>,
}

struct Loader {
    file: Arc<SourceFile>,
    diagnostics: Vec<Diagnostic>,
    sites: Vec<ExpressionSite>,
}

/// The checked keys of one mapping.
struct Fields<'n> {
    entries: HashMap<&'n str, (&'n Node, &'n Node)>,
}

impl<'n> Fields<'n> {
    fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries.get(key).map(|(_, v)| *v)
    }
}

fn suggested_name(name: &str) -> String {
    let snake = snake_case(name);
    if is_keyword(&snake) || snake.is_empty() {
        format!("{snake}_value")
    } else {
        snake
    }
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for c in name.trim().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("_{out}")
    } else {
        out
    }
}

impl Loader {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn wrong_shape(&mut self, node: &Node, expected: &str, context: &str) {
        let d = Diagnostic::error(
            Code::WrongShape,
            format!("{context} should be {expected}, not {}", node.shape_name()),
        )
        .at(&self.file, node_span(node), format!("expected {expected}"))
        .help(match expected {
            "a mapping" => "write `key: value` pairs, indented under the key",
            "a list" => "write `[a, b]` or one `- item` per line",
            _ => "see docs/language.md for this key's format",
        });
        self.push(d);
    }

    /// Read a mapping's keys, reporting unknown, duplicate and missing keys.
    fn fields<'n>(&mut self, node: &'n Node, section: &Section, owner: Span) -> Option<Fields<'n>> {
        let NodeKind::Map(entries) = &node.kind else {
            let named = self.file.slice(owner);
            let context = if named.is_empty() || named == section.name || section.name == "pipeline"
            {
                format!("the {}", section.name)
            } else {
                format!("{} `{named}`", section.name)
            };
            self.wrong_shape(node, "a mapping", &context);
            return None;
        };
        let mut fields = Fields {
            entries: HashMap::new(),
        };
        for (key, value) in entries {
            let NodeKind::Str(name) = &key.kind else {
                self.wrong_shape(key, "text", "a key");
                continue;
            };
            if section.field(name).is_none() {
                let place = if section.name == "pipeline" {
                    "at the top level".to_string()
                } else {
                    format!("in {} `{}`", article(section.name), section.name)
                };
                let d =
                    Diagnostic::error(Code::UnknownKey, format!("unknown key `{name}` {place}"))
                        .at(&self.file, key.span, "unknown key")
                        .help(suggestion(
                            name,
                            "key",
                            section.fields.iter().map(|f| f.key),
                        ));
                self.push(d);
                continue;
            }
            if let Some((first, _)) = fields.entries.get(name.as_str()) {
                let d =
                    Diagnostic::error(Code::DuplicateKey, format!("key `{name}` appears twice"))
                        .at(&self.file, key.span, "second time")
                        .also(first.span, "first time")
                        .help("remove one of them");
                self.push(d);
                continue;
            }
            fields.entries.insert(name.as_str(), (key, value));
        }
        for field in section.fields.iter().filter(|f| f.required) {
            if !fields.entries.contains_key(field.key) {
                let d = Diagnostic::error(
                    Code::MissingKey,
                    format!("the {} is missing `{}`", section.name, field.key),
                )
                .at(&self.file, owner, format!("no `{}` here", field.key))
                .help(format!(
                    "add `{}:` — {}",
                    field.key,
                    lowercase_first(field.doc)
                ));
                self.push(d);
            }
        }
        Some(fields)
    }

    fn scalar(&mut self, node: &Node, field: &Field) -> Option<String> {
        match &node.kind {
            NodeKind::Str(s) => Some(s.clone()),
            NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                Some(self.file.slice(node.span).to_string())
            }
            NodeKind::Null => {
                let d =
                    Diagnostic::error(Code::WrongShape, format!("`{}` has no value", field.key))
                        .at(&self.file, node_span(node), "empty")
                        .help(format!("`{}`: {}", field.key, lowercase_first(field.doc)));
                self.push(d);
                None
            }
            _ => {
                self.wrong_shape(node, "a single value", &format!("`{}`", field.key));
                None
            }
        }
    }

    fn text(&mut self, fields: &Fields<'_>, section: &Section, key: &str) -> Option<Text> {
        let node = fields.get(key)?;
        let field = section.field(key)?;
        self.field_text(node, field)
    }

    /// A scalar field's text, checked against its choices if it has any.
    fn field_text(&mut self, node: &Node, field: &Field) -> Option<Text> {
        let key = field.key;
        let value = self.scalar(node, field)?;
        if let Shape::Choice(choices) = field.shape
            && !choices.contains(&value.as_str())
        {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{value}` is not a valid {key}"),
            )
            .at(&self.file, node.span, "not allowed here")
            .help(suggestion(&value, "value", choices.iter().copied()));
            self.push(d);
            return None;
        }
        Some(Text {
            value,
            span: node.span,
        })
    }

    fn number(&mut self, node: &Node, what: &str) -> Option<Number> {
        let value = match &node.kind {
            NodeKind::Int(i) => *i as f64,
            NodeKind::Float(f) => *f,
            NodeKind::Str(s) => match s.trim().strip_suffix('%').map(str::parse::<f64>) {
                Some(Ok(p)) => p,
                _ => {
                    self.wrong_shape(node, "a number", what);
                    return None;
                }
            },
            _ => {
                self.wrong_shape(node, "a number", what);
                return None;
            }
        };
        if !value.is_finite() || value < 0.0 {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("{what} must be a number of at least 0"),
            )
            .at(&self.file, node.span, "out of range")
            .help("weights and bounds are non-negative numbers");
            self.push(d);
            return None;
        }
        Some(Number {
            value,
            span: node.span,
        })
    }

    fn number_field(&mut self, fields: &Fields<'_>, key: &str) -> Option<Number> {
        let node = fields.get(key)?;
        self.number(node, &format!("`{key}`"))
    }

    fn bool_field(&mut self, fields: &Fields<'_>, key: &str) -> bool {
        match fields.get(key).map(|n| &n.kind) {
            None => false,
            Some(NodeKind::Bool(b)) => *b,
            Some(_) => {
                if let Some(node) = fields.get(key) {
                    self.wrong_shape(node, "`true` or `false`", &format!("`{key}`"));
                }
                false
            }
        }
    }

    fn scalar_text(&mut self, node: &Node, value: &str) -> ScalarText {
        ScalarText::new(&self.file, node, value)
    }

    fn expr(&mut self, fields: &Fields<'_>, section: &Section, key: &str) -> Option<Expr> {
        let node = fields.get(key)?;
        let field = section.field(key)?;
        let value = self.scalar(node, field)?;
        if value.trim().is_empty() {
            let d = Diagnostic::error(Code::ExprSyntax, format!("`{key}` is empty"))
                .at(&self.file, node_span(node), "no expression")
                .help(format!("`{key}`: {}", lowercase_first(field.doc)));
            self.push(d);
            return None;
        }
        let scalar = self.scalar_text(node, &value);
        match parse_expression(&self.file, &scalar) {
            Ok(expr) => {
                self.sites.push(ExpressionSite {
                    span: node.span,
                    style: scalar.style,
                    original: value,
                    canonical: super::print::print(&expr),
                });
                Some(expr)
            }
            Err(errors) => {
                self.diagnostics.extend(errors);
                None
            }
        }
    }

    fn template(&mut self, fields: &Fields<'_>, section: &Section, key: &str) -> Option<Template> {
        let node = fields.get(key)?;
        let field = section.field(key)?;
        let value = self.scalar(node, field)?;
        let scalar = self.scalar_text(node, &value);
        match parse_template(&self.file, &scalar) {
            Ok(template) => {
                self.sites.push(ExpressionSite {
                    span: node.span,
                    style: scalar.style,
                    original: value,
                    canonical: super::print::print_template(&template),
                });
                Some(template)
            }
            Err(errors) => {
                self.diagnostics.extend(errors);
                None
            }
        }
    }

    fn text_list(&mut self, fields: &Fields<'_>, key: &str) -> Vec<Text> {
        let Some(node) = fields.get(key) else {
            return Vec::new();
        };
        let items: Vec<&Node> = match &node.kind {
            NodeKind::Seq(items) => items.iter().collect(),
            NodeKind::Str(_) => vec![node],
            _ => {
                self.wrong_shape(node, "a list", &format!("`{key}`"));
                return Vec::new();
            }
        };
        let mut out = Vec::new();
        for item in items {
            match &item.kind {
                NodeKind::Str(s) => out.push(Text {
                    value: s.clone(),
                    span: item.span,
                }),
                _ => self.wrong_shape(item, "a name", &format!("an entry of `{key}`")),
            }
        }
        out
    }

    fn about(&mut self, fields: &Fields<'_>, section: &Section) -> About {
        About {
            description: self.text(fields, section, "description"),
            owner: self.text(fields, section, "owner"),
        }
    }

    /// A mapping of user-chosen names to values. Names must be identifiers
    /// when `identifiers` is set, because expressions refer to them.
    fn named<'n>(
        &mut self,
        node: &'n Node,
        what: &str,
        identifiers: bool,
    ) -> Vec<(Text, &'n Node)> {
        let NodeKind::Map(entries) = &node.kind else {
            if node.kind != NodeKind::Null {
                self.wrong_shape(node, "a mapping", &format!("the {what}s"));
            }
            return Vec::new();
        };
        let mut seen: HashMap<String, Span> = HashMap::new();
        let mut out = Vec::new();
        for (key, value) in entries {
            let name = match &key.kind {
                NodeKind::Str(s) => s.clone(),
                NodeKind::Int(_) | NodeKind::Float(_) | NodeKind::Bool(_) => {
                    self.file.slice(key.span).to_string()
                }
                _ => {
                    self.wrong_shape(key, "a name", &format!("a {what} name"));
                    continue;
                }
            };
            if identifiers && (!is_identifier(&name) || is_keyword(&name)) {
                let d = Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{name}` is not a valid {what} name"),
                )
                .at(&self.file, key.span, "not a name")
                .help(format!(
                    "names are letters, digits and `_`, not starting with a digit, and not a keyword; try `{}`",
                    suggested_name(&name)
                ));
                self.push(d);
                continue;
            }
            if let Some(first) = seen.get(&name) {
                let d = Diagnostic::error(
                    Code::DuplicateName,
                    format!("{what} `{name}` is defined twice"),
                )
                .at(&self.file, key.span, "second definition")
                .also(*first, "first definition")
                .help("rename or remove one of them");
                self.push(d);
                continue;
            }
            seen.insert(name.clone(), key.span);
            out.push((
                Text {
                    value: name,
                    span: key.span,
                },
                value,
            ));
        }
        out
    }

    fn named_numbers(&mut self, fields: &Fields<'_>, key: &str, what: &str) -> Vec<(Text, Number)> {
        let Some(node) = fields.get(key) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (name, value) in self.named(node, what, true) {
            if let Some(n) = self.number(value, &format!("the weight of `{}`", name.value)) {
                out.push((name, n));
            }
        }
        out
    }

    fn pipeline(&mut self, root: &Node) -> Pipeline {
        let mut pipeline = Pipeline {
            file: self.file.clone(),
            version: None,
            name: None,
            about: About::default(),
            timezone: None,
            sources: Vec::new(),
            entity: None,
            metrics: Vec::new(),
            targets: None,
            indicators: Vec::new(),
            health: None,
            playbooks: Vec::new(),
            outcomes: Vec::new(),
            rollups: Vec::new(),
            outputs: None,
            tests: Vec::new(),
        };
        let section = &spec::PIPELINE;
        let Some(fields) = self.fields(root, section, Span::new(0, 0)) else {
            return pipeline;
        };
        pipeline.version = self.version(&fields);
        pipeline.name = self.text(&fields, section, "name");
        pipeline.about = self.about(&fields, section);
        pipeline.timezone = self.text(&fields, section, "timezone");
        if let Some(node) = fields.get("sources") {
            for (name, value) in self.named(node, "source", true) {
                if let Some(source) = self.source(name, value) {
                    pipeline.sources.push(source);
                }
            }
        }
        if let Some((key, node)) = fields.entries.get("entity") {
            pipeline.entity = self.entity(node, key.span);
        }
        if let Some(node) = fields.get("metrics") {
            for (name, value) in self.named(node, "metric", true) {
                if let Some(metric) = self.metric(name, value) {
                    pipeline.metrics.push(metric);
                }
            }
        }
        if let Some((key, node)) = fields.entries.get("targets") {
            pipeline.targets = self.targets(node, key.span);
        }
        if let Some(node) = fields.get("indicators") {
            for (name, value) in self.named(node, "indicator", true) {
                if let Some(indicator) = self.indicator(name, value) {
                    pipeline.indicators.push(indicator);
                }
            }
        }
        if let Some((key, node)) = fields.entries.get("health") {
            pipeline.health = self.health(node, key.span);
        }
        if let Some(node) = fields.get("playbooks") {
            for (name, value) in self.named(node, "playbook", true) {
                if let Some(playbook) = self.playbook(name, value) {
                    pipeline.playbooks.push(playbook);
                }
            }
        }
        if let Some(node) = fields.get("outcomes") {
            for (name, value) in self.named(node, "outcome", true) {
                if let Some(outcome) = self.outcome(name, value) {
                    pipeline.outcomes.push(outcome);
                }
            }
        }
        if let Some(node) = fields.get("rollups") {
            for (name, value) in self.named(node, "rollup", true) {
                if let Some(rollup) = self.rollup(name, value) {
                    pipeline.rollups.push(rollup);
                }
            }
        }
        if let Some((key, node)) = fields.entries.get("outputs") {
            let section = &spec::OUTPUTS;
            if let Some(f) = self.fields(node, section, key.span) {
                pipeline.outputs = Some(OutputsDef {
                    dir: self.text(&f, section, "dir"),
                    format: self.text(&f, section, "format"),
                    engine: self.text(&f, section, "engine"),
                });
            }
        }
        if let Some(node) = fields.get("tests") {
            for (name, value) in self.named(node, "test", false) {
                if let Some(test) = self.test(name, value) {
                    pipeline.tests.push(test);
                }
            }
        }
        pipeline
    }

    fn version(&mut self, fields: &Fields<'_>) -> Option<Number> {
        let node = fields.get("vane")?;
        match node.kind {
            NodeKind::Int(v) if v == spec::SPEC_VERSION => Some(Number {
                value: v as f64,
                span: node.span,
            }),
            _ => {
                let d = Diagnostic::error(
                    Code::SpecVersion,
                    format!(
                        "unsupported file-format version `{}`",
                        self.file.slice(node.span)
                    ),
                )
                .at(&self.file, node_span(node), "here")
                .help(format!("this Vane reads `vane: {}`", spec::SPEC_VERSION));
                self.push(d);
                None
            }
        }
    }

    fn source(&mut self, name: Text, node: &Node) -> Option<SourceDef> {
        let section = &spec::SOURCE;
        let fields = self.fields(node, section, name.span)?;
        Some(SourceDef {
            about: self.about(&fields, section),
            path: self.text(&fields, section, "path"),
            format: self.text(&fields, section, "format"),
            time: self.text(&fields, section, "time"),
            key: self.text(&fields, section, "key"),
            partitions: self.text_list(&fields, "partitions"),
            table: self.text(&fields, section, "table"),
            missing_columns: self.text(&fields, section, "missing_columns"),
            columns: fields
                .get("columns")
                .map(|node| self.columns(node))
                .unwrap_or_default(),
            max_parse_failures: fields.get("max_parse_failures").and_then(|node| {
                let value = match &node.kind {
                    NodeKind::Str(s) => s.clone(),
                    NodeKind::Int(_) | NodeKind::Float(_) => self.file.slice(node.span).to_string(),
                    _ => {
                        self.wrong_shape(node, "a count or a percentage", "max_parse_failures");
                        return None;
                    }
                };
                Some(Text {
                    value,
                    span: node.span,
                })
            }),
            span: name.span,
            name,
        })
    }

    /// A source's `columns:`: each a type word or `{ type, format }`.
    fn columns(&mut self, node: &Node) -> Vec<ColumnDecl> {
        let section = &spec::COLUMN;
        let mut out = Vec::new();
        for (name, value) in self.named(node, "column", false) {
            let (ty, format) = match &value.kind {
                NodeKind::Map(_) => match self.fields(value, section, name.span) {
                    Some(fields) => (
                        self.text(&fields, section, "type"),
                        self.text(&fields, section, "format"),
                    ),
                    None => continue,
                },
                _ => (
                    section
                        .field("type")
                        .and_then(|field| self.field_text(value, field)),
                    None,
                ),
            };
            if let Some(ty) = ty {
                out.push(ColumnDecl { name, ty, format });
            }
        }
        out
    }

    fn entity(&mut self, node: &Node, span: Span) -> Option<EntityDef> {
        let section = &spec::ENTITY;
        let fields = self.fields(node, section, span)?;
        let name = self.text(&fields, section, "name");
        if let Some(n) = &name
            && (!is_identifier(&n.value) || is_keyword(&n.value))
        {
            let d = Diagnostic::error(
                Code::InvalidValue,
                format!("`{}` is not a valid entity name", n.value),
            )
            .at(&self.file, n.span, "not a name")
            .help(format!(
                "expressions write `name.attribute`; try `{}`",
                snake_case(&n.value)
            ));
            self.push(d);
        }
        Some(EntityDef {
            about: self.about(&fields, section),
            source: self.text(&fields, section, "source"),
            key: self.text(&fields, section, "key"),
            attributes: self.text_list(&fields, "attributes"),
            population: self.expr(&fields, section, "population"),
            display: fields
                .get("display")
                .is_some()
                .then(|| self.text_list(&fields, "display")),
            span,
            name,
        })
    }

    fn metric(&mut self, name: Text, node: &Node) -> Option<MetricDef> {
        let section = &spec::METRIC;
        let fields = self.fields(node, section, name.span)?;
        Some(MetricDef {
            about: self.about(&fields, section),
            from: self.text(&fields, section, "from"),
            window: self.expr(&fields, section, "window"),
            filter: self.expr(&fields, section, "where"),
            value: self.expr(&fields, section, "value"),
            unit: self.text(&fields, section, "unit"),
            unused: self.bool_field(&fields, "unused"),
            name,
        })
    }

    fn targets(&mut self, node: &Node, span: Span) -> Option<TargetsDef> {
        let section = &spec::TARGETS;
        let fields = self.fields(node, section, span)?;
        Some(TargetsDef {
            about: self.about(&fields, section),
            source: self.text(&fields, section, "source"),
            key: self.text(&fields, section, "key"),
            kpi: self.text(&fields, section, "kpi"),
            value: self.text(&fields, section, "value"),
            direction: self.text(&fields, section, "direction"),
            effective_from: self.text(&fields, section, "effective_from"),
            effective_to: self.text(&fields, section, "effective_to"),
            span,
        })
    }

    fn indicator(&mut self, name: Text, node: &Node) -> Option<IndicatorDef> {
        let section = &spec::INDICATOR;
        let fields = self.fields(node, section, name.span)?;
        Some(IndicatorDef {
            about: self.about(&fields, section),
            kind: self.text(&fields, section, "kind"),
            metric: self.text(&fields, section, "metric"),
            score: self.expr(&fields, section, "score"),
            weight: self.number_field(&fields, "weight"),
            group: self.text(&fields, section, "group"),
            name,
        })
    }

    fn health(&mut self, node: &Node, span: Span) -> Option<HealthDef> {
        let section = &spec::HEALTH;
        let fields = self.fields(node, section, span)?;
        let mut health = HealthDef {
            about: self.about(&fields, section),
            groups: Vec::new(),
            bands: Vec::new(),
            models: Vec::new(),
            span,
        };
        if let Some(node) = fields.get("groups") {
            for (name, value) in self.named(node, "group", true) {
                let is_number = match &value.kind {
                    NodeKind::Int(_) | NodeKind::Float(_) => true,
                    NodeKind::Str(s) => s.trim().strip_suffix('%').is_some(),
                    _ => false,
                };
                let group_fields = match is_number {
                    true => {
                        let weight = self.number(value, "a group weight");
                        health.groups.push(GroupDef {
                            name,
                            about: About::default(),
                            weight,
                        });
                        continue;
                    }
                    false => self.fields(value, &spec::GROUP, name.span),
                };
                if let Some(f) = group_fields {
                    health.groups.push(GroupDef {
                        about: self.about(&f, &spec::GROUP),
                        weight: self.number_field(&f, "weight"),
                        name,
                    });
                }
            }
        }
        if let Some(node) = fields.get("bands") {
            for (name, value) in self.named(node, "band", false) {
                if let Some(f) = self.fields(value, &spec::BAND, name.span) {
                    health.bands.push(BandDef {
                        from: self.number_field(&f, "from"),
                        to: self.number_field(&f, "to"),
                        name,
                    });
                }
            }
        }
        if let Some(node) = fields.get("models") {
            for (name, value) in self.named(node, "model", true) {
                let section = &spec::MODEL;
                if let Some(f) = self.fields(value, section, name.span) {
                    health.models.push(ModelDef {
                        about: self.about(&f, section),
                        when: self.expr(&f, section, "when"),
                        groups: self.named_numbers(&f, "groups", "group"),
                        indicators: self.named_numbers(&f, "indicators", "indicator"),
                        name,
                    });
                }
            }
        }
        Some(health)
    }

    fn playbook(&mut self, name: Text, node: &Node) -> Option<PlaybookDef> {
        let section = &spec::PLAYBOOK;
        let fields = self.fields(node, section, name.span)?;
        Some(PlaybookDef {
            about: About {
                description: self.text(&fields, section, "description"),
                owner: None,
            },
            when: self.expr(&fields, section, "when"),
            action: self.text(&fields, section, "action"),
            priority: self.text(&fields, section, "priority"),
            assignee: self.template(&fields, section, "owner"),
            message: self.template(&fields, section, "message"),
            dedup_key: self.template(&fields, section, "dedup_key"),
            cooldown: self.expr(&fields, section, "cooldown"),
            name,
        })
    }

    fn outcome(&mut self, name: Text, node: &Node) -> Option<OutcomeDef> {
        let section = &spec::OUTCOME;
        let fields = self.fields(node, section, name.span)?;
        Some(OutcomeDef {
            about: self.about(&fields, section),
            from: self.text(&fields, section, "from"),
            filter: self.expr(&fields, section, "where"),
            at: self.expr(&fields, section, "at"),
            horizon: self.expr(&fields, section, "horizon"),
            value: self.expr(&fields, section, "value"),
            name,
        })
    }

    fn rollup(&mut self, name: Text, node: &Node) -> Option<RollupDef> {
        let section = &spec::ROLLUP;
        let fields = self.fields(node, section, name.span)?;
        Some(RollupDef {
            about: self.about(&fields, section),
            over: self.text(&fields, section, "over"),
            by: self.text_list(&fields, "by"),
            value: self.expr(&fields, section, "value"),
            unit: self.text(&fields, section, "unit"),
            name,
        })
    }

    fn test(&mut self, name: Text, node: &Node) -> Option<TestDef> {
        let section = &spec::TEST;
        let fields = self.fields(node, section, name.span)?;
        let mut test = TestDef {
            about: self.about(&fields, section),
            as_of: self.text(&fields, section, "as_of"),
            given: Vec::new(),
            expect: Vec::new(),
            name,
        };
        if let Some(node) = fields.get("given") {
            for (source, rows) in self.named(node, "source", true) {
                let rows = match &rows.kind {
                    NodeKind::Seq(rows) => rows.iter().filter_map(|r| self.row(r)).collect(),
                    NodeKind::Null => Vec::new(),
                    _ => {
                        self.wrong_shape(rows, "a list", "fixture rows");
                        continue;
                    }
                };
                test.given.push((source, rows));
            }
        }
        if let Some(node) = fields.get("expect") {
            for (entity, expected) in self.named(node, "entity", false) {
                if let Some(row) = self.row(expected) {
                    test.expect.push((entity, row));
                }
            }
        }
        Some(test)
    }

    fn row(&mut self, node: &Node) -> Option<Vec<(Text, Node)>> {
        let NodeKind::Map(entries) = &node.kind else {
            self.wrong_shape(node, "a mapping", "a fixture row");
            return None;
        };
        let mut row = Vec::new();
        for (key, value) in entries {
            match &key.kind {
                NodeKind::Str(s) => row.push((
                    Text {
                        value: s.clone(),
                        span: key.span,
                    },
                    value.clone(),
                )),
                _ => self.wrong_shape(key, "a column name", "a key"),
            }
        }
        Some(row)
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().collect::<String>() + chars.as_str(),
        None => String::new(),
    }
}

/// Collections have an empty span at their start; give them one character so
/// a label has something to underline.
fn node_span(node: &Node) -> Span {
    if node.span.end > node.span.start {
        node.span
    } else {
        Span::new(node.span.start, node.span.start + 1)
    }
}

/// Load a parsed YAML tree into the pipeline AST.
pub fn load_pipeline(file: &Arc<SourceFile>, root: &Node) -> (Loaded, Vec<Diagnostic>) {
    let mut loader = Loader {
        file: file.clone(),
        diagnostics: Vec::new(),
        sites: Vec::new(),
    };
    let pipeline = loader.pipeline(root);
    (
        Loaded {
            pipeline,
            sites: loader.sites,
        },
        loader.diagnostics,
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_group_weight_may_be_written_as_a_percentage() {
        let text = "vane: 1\nhealth:\n  groups: { a: 40%, b: { weight: 60% } }\n";
        let (loaded, diagnostics) = super::super::load_text("p.yaml", text.to_string());
        let shapes: Vec<_> = diagnostics
            .iter()
            .filter(|d| d.code == crate::diagnostics::Code::WrongShape)
            .collect();
        assert!(shapes.is_empty(), "{shapes:?}");
        let health = loaded.and_then(|l| l.pipeline.health).expect("health");
        let weights: Vec<f64> = health
            .groups
            .iter()
            .filter_map(|g| g.weight.as_ref().map(|w| w.value))
            .collect();
        assert_eq!(weights, [40.0, 60.0]);
    }
}
