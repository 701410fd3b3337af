//! The grammar random pipelines and expressions are generated from.

use super::*;

/// A YAML value of a generated pipeline, rendered with random layout and quoting.
#[derive(Debug, Clone)]
pub(super) enum Y {
    /// A scalar written as is (numbers, booleans, plain words).
    Raw(String),
    /// Text (an expression, a template, a path), quoted as its content needs.
    Str(String),
    /// A mapping, in block or flow style.
    Map(Vec<(String, Y)>),
    /// A list, in block or flow style.
    List(Vec<Y>),
}

/// A scalar written as is.
pub(super) fn raw(text: impl Into<String>) -> Y {
    Y::Raw(text.into())
}

/// Text, quoted as its content needs.
pub(super) fn text(text: impl Into<String>) -> Y {
    Y::Str(text.into())
}

/// A mapping with these entries, in order.
pub(super) fn map(entries: Vec<(&str, Y)>) -> Y {
    Y::Map(
        entries
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
    )
}

/// Where an expression is, which decides what it may name and call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Scope {
    /// A row of the source at this index (`where:`, `population:`, aggregate arguments).
    Row(usize),
    /// The `value:` of a metric over the source at this index.
    Aggregate(usize),
    /// A derived metric or a health model.
    Entity,
    /// An indicator's score (`value` is the metric's value).
    Score,
    /// A playbook (`health`, `band`, `score(…)`).
    Playbook,
}

/// A source the generated pipeline declares.
pub(super) struct SourceDef {
    pub(super) name: String,
    pub(super) time: Option<String>,
    pub(super) columns: Vec<(String, Ty)>,
}

/// The names a generated pipeline declares, for its expressions to use.
pub(super) struct World {
    pub(super) sources: Vec<SourceDef>,
    pub(super) entity: String,
    pub(super) attributes: Vec<(String, Ty)>,
    pub(super) metrics: Vec<(String, Ty)>,
    pub(super) indicators: Vec<String>,
    /// Whether the pipeline has a `targets:` section (for `target`, `attainment`).
    pub(super) has_targets: bool,
    /// Whether it has a `health:` section (for `health`, `band`).
    pub(super) has_health: bool,
}

impl World {
    /// The fixture's sources and an `account` entity.
    pub(super) fn fixture() -> World {
        World {
            sources: FIXTURE
                .iter()
                .map(|(name, time, columns)| SourceDef {
                    name: name.to_string(),
                    time: time.map(str::to_string),
                    columns: columns.iter().map(|(c, t)| (c.to_string(), *t)).collect(),
                })
                .collect(),
            entity: "account".to_string(),
            attributes: FIXTURE[0].2[1..]
                .iter()
                .map(|(c, t)| (c.to_string(), *t))
                .collect(),
            metrics: Vec::new(),
            indicators: Vec::new(),
            has_targets: true,
            has_health: true,
        }
    }
}

/// An expression's text and whether it can be an operand without parentheses.
pub(super) struct E {
    pub(super) text: String,
    pub(super) atomic: bool,
}

/// An expression that is an operand as it is.
pub(super) fn atom(text: impl Into<String>) -> E {
    E {
        text: text.into(),
        atomic: true,
    }
}

/// An expression that needs parentheses as an operand.
pub(super) fn compound(text: impl Into<String>) -> E {
    E {
        text: text.into(),
        atomic: false,
    }
}

/// Names for definitions.
#[rustfmt::skip]
pub(super) const NAMES: &[&str] = &[
    "logins", "users", "revenue", "tickets", "nps", "usage", "trend", "ratio", "first_seen",
    "churn_risk", "m", "x1", "_hidden", "Seats",
];
/// Names the language rejects for definitions (keywords, names that are
/// not identifiers, names of columns Vane adds or of attributes).
#[rustfmt::skip]
pub(super) const BAD_NAMES: &[&str] = &[
    "and", "bad name", "1st", "health", "score__x", "__x", "account_id", "é", "value", "band",
    "case", "seats",
];
/// Identifiers that are nobody's, and near misses of real ones.
#[rustfmt::skip]
pub(super) const STRANGERS: &[&str] = &[
    "nope", "logns", "acount", "evnt_type", "user", "x", "_", "ü", "END", "Null", "as_of2",
];
/// The types of generated metrics, numbers the most often.
#[rustfmt::skip]
pub(super) const METRIC_TYPES: &[Ty] = &[
    Ty::Int, Ty::Int, Ty::Num, Ty::Num, Ty::Num, Ty::Time, Ty::Str, Ty::Bool, Ty::Dur,
];
/// Windows: ones the language accepts, and ones it rejects.
#[rustfmt::skip]
pub(super) const WINDOWS: Literals = Literals {
    accepted: &["30d", "7d", "90d", "4w", "1h", "365d", "1s", "36500d"],
    rejected: &["0d", "-1d", "30", "1mo", "110000000d", "30 days", "1.5d", "'30d'", "[30d]"],
};
/// Names of functions the language does not have, some near real ones.
#[rustfmt::skip]
pub(super) const UNKNOWN_FUNCTIONS: &[&str] = &[
    "cout", "sum_iff", "Avg", "percentil", "prev", "lower_", "now", "date_trunc",
];
/// Literal text of message templates (a `#` is not a comment there).
#[rustfmt::skip]
pub(super) const TEMPLATE_TEXT: &[&str] = &["Account ", " has ", " logins", ": ", "x", "ü ", " # not a comment"];
/// Token soup for broken expressions.
#[rustfmt::skip]
pub(super) const EXPR_TOKENS: &[&str] = &[
    "(", ")", "[", "]", "{", "}", ",", "+", "-", "*", "/", "=", "!=", "<>", "<", "<=", ">", ">=",
    "==", "&&", "||", "and", "or", "not", "in", "is", "null", "between", "case", "when", "then",
    "else", "end", "true", "as_of", "value", "health", "band", "account", ".", "account.seats",
    "`", "'", "''", "\"", "@", "@2026-01-31", "@2026-02-30", "30d", "0d", "110000000d", "1e309",
    "9223372036854775808", "%", "95%", "1.5", "0", "count(", "sum(", "previous(", "change(",
    "score(", "x", "é", "\\", "#", ":", "|", "\t", "\n", "..", "1.", ".5", "30 days", "1mo",
];

/// A pipeline and expression generator over one RNG stream.
pub(super) struct Gen<'r> {
    pub(super) rng: &'r mut ChaCha8Rng,
    pub(super) world: World,
    /// The chance that an expression node is something off the grammar.
    pub(super) noise: f64,
    /// How many expressions are being generated inside one another; past
    /// [`MAX_NESTING`] only literals are.
    pub(super) nesting: u32,
}

/// The deepest generated expressions nest (noise aside, which writes its
/// deep nesting as text).
pub(super) const MAX_NESTING: u32 = 24;

impl<'r> Gen<'r> {
    /// A generator over the fixture's world, with a random amount of noise.
    pub(super) fn new(rng: &'r mut ChaCha8Rng) -> Gen<'r> {
        let noise = [0.0, 0.0, 0.003, 0.01, 0.04][rng.random_range(0..5)];
        Gen {
            rng,
            world: World::fixture(),
            noise,
            nesting: 0,
        }
    }

    /// True with probability `p`.
    pub(super) fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p.clamp(0.0, 1.0))
    }

    /// A number in `0..n`.
    pub(super) fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }

    /// One of `items`.
    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }

    /// A keyword, sometimes in upper or title case.
    pub(super) fn kw(&mut self, word: &str) -> String {
        match self.below(10) {
            0 => word.to_uppercase(),
            1 => {
                let mut chars = word.chars();
                chars
                    .next()
                    .map(|c| c.to_uppercase().chain(chars).collect())
                    .unwrap_or_default()
            }
            _ => word.to_string(),
        }
    }

    /// A name as written in an expression: plain, or in backticks.
    pub(super) fn name(&mut self, name: &str) -> String {
        let plain = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain || self.chance(0.04) {
            format!("`{name}`")
        } else {
            name.to_string()
        }
    }

    // --- expressions -------------------------------------------------------

    /// An expression of type `want` in `scope`, at most `depth` levels deep.
    pub(super) fn expr(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        if self.nesting >= MAX_NESTING {
            return self.literal(want);
        }
        self.nesting += 1;
        let e = if self.chance(self.noise) {
            self.noise(scope, want, depth)
        } else if depth == 0 || self.chance(0.3) {
            self.leaf(scope, want)
        } else {
            self.compound(scope, want, depth - 1)
        };
        self.nesting -= 1;
        e
    }

    /// An operand: parenthesised unless atomic (and sometimes anyway, or
    /// sometimes not, which may regroup it).
    pub(super) fn operand(&mut self, scope: Scope, want: Ty, depth: u32) -> String {
        let e = self.expr(scope, want, depth);
        if (!e.atomic && !self.chance(0.03)) || self.chance(0.03) {
            format!("({})", e.text)
        } else {
            e.text
        }
    }

    /// A name `scope` can see of type `want`, a literal, or (in an aggregate
    /// metric) an aggregate call.
    pub(super) fn leaf(&mut self, scope: Scope, want: Ty) -> E {
        let mut names: Vec<String> = Vec::new();
        match scope {
            Scope::Row(s) => {
                let columns: Vec<String> = self.world.sources[s]
                    .columns
                    .iter()
                    .filter(|(_, t)| t.fits(want))
                    .map(|(c, _)| c.clone())
                    .collect();
                for c in columns {
                    names.push(self.name(&c));
                }
            }
            Scope::Aggregate(s) => {
                if self.chance(0.8)
                    && let Some(call) = self.call(Scope::Aggregate(s), want, 1, true)
                {
                    return call;
                }
            }
            Scope::Entity | Scope::Score | Scope::Playbook => {
                let metrics: Vec<String> = self
                    .world
                    .metrics
                    .iter()
                    .filter(|(_, t)| t.fits(want))
                    .map(|(m, _)| m.clone())
                    .collect();
                for m in metrics {
                    names.push(self.name(&m));
                }
                let attributes: Vec<String> = self
                    .world
                    .attributes
                    .iter()
                    .filter(|(_, t)| t.fits(want))
                    .map(|(a, _)| a.clone())
                    .collect();
                for a in attributes {
                    let attribute = self.name(&a);
                    names.push(format!("{}.{attribute}", self.world.entity));
                }
                let health = self.world.has_health || self.chance(self.noise);
                match (scope, want) {
                    (Scope::Score, Ty::Num | Ty::Int) => names.push("value".into()),
                    (Scope::Playbook, Ty::Num) if health => names.push("health".into()),
                    (Scope::Playbook, Ty::Str) if health => names.push("band".into()),
                    _ => {}
                }
            }
        }
        if want == Ty::Time {
            names.push("as_of".into());
        }
        if names.is_empty() || self.chance(0.35) {
            self.literal(want)
        } else {
            let i = self.below(names.len());
            atom(names.swap_remove(i))
        }
    }

    /// A literal of type `want` (or `null`; with noise, one the language rejects).
    pub(super) fn literal(&mut self, want: Ty) -> E {
        if self.chance(0.04) {
            return atom(self.kw("null"));
        }
        let literals = want.literals();
        if self.chance(self.noise) {
            return atom(self.pick(literals.rejected));
        }
        let text = match (want, self.below(3)) {
            (Ty::Int, 0) => self.rng.random_range(0..1000u32).to_string(),
            (Ty::Num, 0) => format!("{}.{}", self.below(100), self.below(100)),
            (Ty::Num, 1) => format!("{}%", self.below(150)),
            (Ty::Dur, 0) => format!(
                "{}{}",
                self.below(1000),
                self.pick(&["w", "d", "h", "min", "s"])
            ),
            _ => self.pick(literals.accepted).to_string(),
        };
        atom(text)
    }

    /// An operator, a call or a `case` giving `want`, its operands at most
    /// `depth` deep.
    pub(super) fn compound(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        if self.chance(0.25)
            && let Some(call) = self.call(scope, want, depth, false)
        {
            return call;
        }
        if self.chance(0.06) {
            return self.case(scope, want, depth);
        }
        match want {
            Ty::Bool => self.condition(scope, depth),
            Ty::Int | Ty::Num => {
                let ops: &[&str] = if want == Ty::Int {
                    &["+", "-", "*"]
                } else {
                    &["+", "-", "*", "/"]
                };
                if self.chance(0.1) {
                    let operand = self.operand(scope, want, depth);
                    return compound(format!("-{operand}"));
                }
                if self.chance(0.004) {
                    // A long flat chain: deep trees without any nesting.
                    let n = 20 + self.below(500);
                    let terms: Vec<String> =
                        (0..n).map(|_| self.leaf(scope, Ty::Int).text).collect();
                    return compound(terms.join(self.pick(&[" + ", "+", " * ", "-"])));
                }
                let op = self.pick(ops);
                let operand_ty = if want == Ty::Num && self.chance(0.5) {
                    Ty::Int
                } else {
                    want
                };
                let left = self.operand(scope, operand_ty, depth);
                let right = self.operand(scope, want, depth);
                compound(self.binary(&left, op, &right))
            }
            Ty::Time | Ty::Date => {
                let time = self.operand(scope, Ty::Time, depth);
                let duration = self.operand(scope, Ty::Dur, depth);
                let op = self.pick(&["+", "-"]);
                compound(self.binary(&time, op, &duration))
            }
            Ty::Dur => match self.below(3) {
                0 => {
                    let a = self.operand(scope, Ty::Time, depth);
                    let b = self.operand(scope, Ty::Time, depth);
                    compound(self.binary(&a, "-", &b))
                }
                1 => {
                    let a = self.operand(scope, Ty::Dur, depth);
                    let b = self.operand(scope, Ty::Num, depth);
                    compound(self.binary(&a, "*", &b))
                }
                _ => {
                    let a = self.operand(scope, Ty::Dur, depth);
                    let b = self.operand(scope, Ty::Dur, depth);
                    let op = self.pick(&["+", "-"]);
                    compound(self.binary(&a, op, &b))
                }
            },
            Ty::Str => self
                .call(scope, want, depth, false)
                .unwrap_or_else(|| self.leaf(scope, want)),
        }
    }

    /// `left op right` with random spacing (words always get spaces).
    pub(super) fn binary(&mut self, left: &str, op: &str, right: &str) -> String {
        let space = if op.chars().all(char::is_alphabetic) {
            " "
        } else {
            self.pick(&[" ", " ", " ", "", "  "])
        };
        let op = if op.chars().all(char::is_alphabetic) {
            self.kw(op)
        } else {
            op.to_string()
        };
        format!("{left}{space}{op}{space}{right}")
    }

    /// A boolean: a comparison, `and`/`or`/`not`, `is [not] null`,
    /// `[not] in`, `[not] between`.
    pub(super) fn condition(&mut self, scope: Scope, depth: u32) -> E {
        match self.below(8) {
            0 | 1 => {
                let ty = self.pick(&Ty::ALL);
                let op = self.pick(&["=", "!=", "<>", "<", "<=", ">", ">="]);
                let left = self.operand(scope, ty, depth);
                let right = self.operand(scope, ty, depth);
                compound(self.binary(&left, op, &right))
            }
            2 | 3 => {
                let op = self.pick(&["and", "or"]);
                let left = self.operand(scope, Ty::Bool, depth);
                let right = self.operand(scope, Ty::Bool, depth);
                compound(self.binary(&left, op, &right))
            }
            4 => {
                let not = self.kw("not");
                let operand = self.operand(scope, Ty::Bool, depth);
                compound(format!("{not} {operand}"))
            }
            5 => {
                let ty = self.pick(&Ty::ALL);
                let operand = self.operand(scope, ty, depth);
                let is = self.kw("is");
                let not = if self.chance(0.5) {
                    format!(" {}", self.kw("not"))
                } else {
                    String::new()
                };
                let null = self.kw("null");
                compound(format!("{operand} {is}{not} {null}"))
            }
            6 => {
                let ty = self.pick(&[Ty::Int, Ty::Num, Ty::Str, Ty::Date]);
                let operand = self.operand(scope, ty, depth);
                let n = self.below(4);
                let items: Vec<String> = (0..n)
                    .map(|_| self.operand(scope, ty, depth.min(1)))
                    .collect();
                let (open, close) = if self.chance(0.8) {
                    ("[", "]")
                } else {
                    ("(", ")")
                };
                let not = if self.chance(0.3) {
                    format!("{} ", self.kw("not"))
                } else {
                    String::new()
                };
                let in_ = self.kw("in");
                compound(format!(
                    "{operand} {not}{in_} {open}{}{close}",
                    items.join(", ")
                ))
            }
            _ => {
                let ty = self.pick(&[Ty::Int, Ty::Num, Ty::Time, Ty::Str]);
                let operand = self.operand(scope, ty, depth);
                let low = self.operand(scope, ty, depth.min(1));
                let high = self.operand(scope, ty, depth.min(1));
                let not = if self.chance(0.3) {
                    format!("{} ", self.kw("not"))
                } else {
                    String::new()
                };
                let between = self.kw("between");
                let and = self.kw("and");
                compound(format!("{operand} {not}{between} {low} {and} {high}"))
            }
        }
    }

    /// `case when … then … [else …] end` giving `want`.
    pub(super) fn case(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        let mut text = self.kw("case");
        for _ in 0..1 + self.below(3) {
            let when = self.kw("when");
            let then = self.kw("then");
            let condition = self.expr(scope, Ty::Bool, depth).text;
            let value = self.expr(scope, want, depth).text;
            write!(text, " {when} {condition} {then} {value}").expect("write");
        }
        if self.chance(0.6) {
            let value = self.expr(scope, want, depth).text;
            write!(text, " {} {value}", self.kw("else")).expect("write");
        }
        write!(text, " {}", self.kw("end")).expect("write");
        atom(text)
    }

    /// A call of a function from the language's table that may be called
    /// in `scope` (only an aggregate with `aggregates_only`) and can give
    /// `want`, with arguments typed from its parameters; `None` when no
    /// function fits.
    pub(super) fn call(
        &mut self,
        scope: Scope,
        want: Ty,
        depth: u32,
        aggregates_only: bool,
    ) -> Option<E> {
        let anything = self.chance(self.noise);
        let world = &self.world;
        let fits = |f: &&FunctionDef| {
            let needs = |p: Param| f.params.contains(&p);
            place_fits(f.place, scope)
                && returns_fit(f, want)
                && (!aggregates_only || f.place == Place::Aggregate)
                && (anything || !needs(Param::Kpi) || world.has_targets)
                && (anything || !needs(Param::Indicator) || !world.indicators.is_empty())
                && (anything || !needs(Param::Metric) || !world.metrics.is_empty())
        };
        let candidates: Vec<&FunctionDef> = FUNCTIONS.iter().filter(fits).collect();
        if candidates.is_empty() {
            return None;
        }
        let f = candidates[self.below(candidates.len())];
        let extra = match f.max_args() {
            usize::MAX => self.below(3),
            max => self.below(max - f.min_args() + 1),
        };
        let count = if self.chance(self.noise) {
            self.below(5)
        } else if f.params.contains(&Param::Period) && self.chance(0.85) {
            // A metric without a window needs the period.
            f.params.len()
        } else {
            f.min_args() + extra
        };
        let arguments_scope = match (f.place, scope) {
            (Place::Aggregate, Scope::Aggregate(s)) => Scope::Row(s),
            _ => scope,
        };
        let mut args = Vec::new();
        let mut thresholds = None;
        for i in 0..count {
            args.push(self.argument(f, i, arguments_scope, want, depth, &mut thresholds));
        }
        let name = match self.below(40) {
            0 => f.name.to_uppercase(),
            1 if self.noise > 0.0 => format!("{}s", f.name),
            _ => f.name.to_string(),
        };
        Some(atom(format!("{name}({})", args.join(", "))))
    }

    /// Argument `i` of a call of `f` that should give `want`.
    pub(super) fn argument(
        &mut self,
        f: &FunctionDef,
        i: usize,
        scope: Scope,
        want: Ty,
        depth: u32,
        thresholds: &mut Option<usize>,
    ) -> String {
        let param = f.param(i);
        let follows = match f.returns {
            Returns::First | Returns::Numeric { .. } => i == 0,
            Returns::Common(from) => i >= from,
            _ => false,
        };
        if follows && param.accepts(want.vane()) && !matches!(param, Param::Metric) {
            return self.expr(scope, want, depth).text;
        }
        match param {
            Param::Digits => self.pick(&["0", "1", "2", "15", "16", "-1", "1.5"]).into(),
            Param::Fraction => self
                .pick(&["0.9", "90%", "0", "1", "50%", "1.5", "0.25"])
                .into(),
            Param::Numbers => {
                let n = match thresholds.take() {
                    Some(n) => n + 1,
                    None => {
                        let n = 1 + self.below(3);
                        *thresholds = Some(n);
                        n
                    }
                };
                let mut value = 0i64;
                let items: Vec<String> = (0..n)
                    .map(|_| {
                        value += self.rng.random_range(1..40);
                        value.to_string()
                    })
                    .collect();
                format!("[{}]", items.join(", "))
            }
            Param::Metric => {
                if scope == Scope::Score && self.chance(0.3) {
                    return "value".into();
                }
                let names: Vec<String> =
                    self.world.metrics.iter().map(|(m, _)| m.clone()).collect();
                match names.len() {
                    0 => self.pick(STRANGERS).into(),
                    n => names[self.below(n)].clone(),
                }
            }
            Param::Period if self.chance(self.noise * 3.0) => {
                self.pick(&["0d", "110000000d", "x", "-1d"]).into()
            }
            Param::Period => self.pick(&["30d", "7d", "4w", "1h", "52w"]).into(),
            Param::Kpi => {
                if !self.chance(self.noise * 3.0) {
                    format!("'{}'", self.pick(KPIS))
                } else {
                    self.pick(&["difot", "'nope'", "1"]).into()
                }
            }
            Param::Indicator => {
                let names = self.world.indicators.clone();
                match names.len() {
                    0 => self.pick(STRANGERS).into(),
                    n => names[self.below(n)].clone(),
                }
            }
            other => {
                let ty = match other {
                    Param::Number => self.pick(&[Ty::Num, Ty::Int]),
                    Param::Temporal | Param::Timestamp => self.pick(&[Ty::Time, Ty::Date]),
                    Param::Duration => Ty::Dur,
                    Param::Text => Ty::Str,
                    Param::Condition | Param::RowCondition => Ty::Bool,
                    Param::Ordered => self.pick(&[Ty::Num, Ty::Int, Ty::Time, Ty::Str]),
                    _ => self.pick(&Ty::ALL),
                };
                self.expr(scope, ty, depth).text
            }
        }
    }

    /// Something off the grammar: a stranger's name, token soup, another
    /// type, a name from another scope, a misspelled call, deep nesting,
    /// long prefix chains, a very long expression, or a cut-off one.
    pub(super) fn noise(&mut self, scope: Scope, want: Ty, depth: u32) -> E {
        match self.below(11) {
            0 => atom(self.pick(STRANGERS)),
            1 => {
                let n = 1 + self.below(6);
                let tokens: Vec<&str> = (0..n).map(|_| self.pick(EXPR_TOKENS)).collect();
                compound(tokens.join(self.pick(&[" ", ""])))
            }
            2 => {
                let other = self.pick(&Ty::ALL);
                self.expr(scope, other, depth)
            }
            3 => {
                let other = match scope {
                    Scope::Row(_) | Scope::Aggregate(_) => {
                        self.pick(&[Scope::Entity, Scope::Playbook, Scope::Aggregate(1)])
                    }
                    _ => self.pick(&[Scope::Row(1), Scope::Aggregate(1), Scope::Playbook]),
                };
                self.expr(other, want, depth)
            }
            4 => atom(format!(
                "{}({})",
                self.pick(UNKNOWN_FUNCTIONS),
                self.expr(scope, want, depth).text
            )),
            5 => {
                let n = 60 + self.below(8);
                let (open, close) =
                    self.pick(&[("(", ")"), ("[", "]"), ("case when true then ", " end")]);
                let leaf = self.leaf(scope, want).text;
                compound(format!("{}{leaf}{}", open.repeat(n), close.repeat(n)))
            }
            6 => {
                let n = 14 + self.below(5);
                let prefix = if want == Ty::Bool {
                    "not "
                } else {
                    self.pick(&["- ", "-"])
                };
                let leaf = self.leaf(scope, want).text;
                compound(format!("{}{leaf}", prefix.repeat(n)))
            }
            7 => {
                let n = if self.chance(0.02) { 3_000 } else { 50 };
                let leaf = self.leaf(scope, want).text;
                compound(vec![leaf; n].join(" + "))
            }
            8 => {
                let full = self.expr(scope, want, depth).text;
                let cut = boundary(full.as_bytes(), self.below(full.len() + 1));
                compound(full[..cut].to_string())
            }
            9 => compound(format!(
                "{}{}",
                self.expr(scope, want, depth).text,
                self.pick(&[")", "]", ",", " end", " and", "'", " #x"])
            )),
            _ => {
                let other = self.pick(&Ty::ALL);
                self.literal(other)
            }
        }
    }

    // --- pipelines ---------------------------------------------------------

    /// A whole pipeline: every section with plausible, mostly valid
    /// content, then some structural damage, rendered as YAML.
    pub(super) fn pipeline(&mut self) -> String {
        let mut top: Vec<(String, Y)> = Vec::new();
        let version = if !self.chance(self.noise * 2.0) {
            "1"
        } else {
            self.pick(&["2", "\"1\"", "1.0", "true", "", "[1]"])
        };
        top.push(("vane".into(), raw(version)));
        if self.chance(0.4) {
            let name = if !self.chance(self.noise * 5.0) {
                "fuzzed"
            } else {
                self.pick(&["bad name", "../x", ""])
            };
            top.push(("name".into(), text(name)));
        }
        if self.chance(0.3) {
            top.push((
                "description".into(),
                text("A fuzzed pipeline: {not a template}"),
            ));
        }
        if self.chance(0.2) {
            let zone = if self.chance(self.noise * 5.0) {
                "Europe/Paris"
            } else {
                self.pick(&["UTC", "Etc/UTC", "utc", "Z"])
            };
            top.push(("timezone".into(), text(zone)));
        }

        // Sources: the fixture's, sometimes one more that is nowhere.
        if self.chance(0.2) {
            self.world.sources.pop();
        }
        if self.chance(0.05) {
            self.world.sources.push(SourceDef {
                name: "misc".into(),
                time: Some("t".into()),
                columns: vec![
                    ("t".into(), Ty::Time),
                    ("n".into(), Ty::Int),
                    ("s".into(), Ty::Str),
                ],
            });
        }
        let sources = self.sources();
        top.push(("sources".into(), sources));
        let entity = self.entity();
        top.push(("entity".into(), entity));
        let has_targets =
            self.world.sources.iter().any(|s| s.name == "targets") && self.chance(0.9);
        if has_targets {
            top.push(("targets".into(), self.targets()));
        }
        self.world.has_targets = has_targets;
        self.world.has_health = false;

        // Metrics: names and types first; each metric reads those before it
        // (and rarely any, which may make a cycle).
        let count = self.below(5);
        let mut plans = Vec::new();
        for i in 0..count {
            let name = if self.chance(self.noise * 2.0) {
                self.pick(BAD_NAMES).to_string()
            } else {
                format!("{}_{i}", self.pick(NAMES))
            };
            let ty = self.pick(METRIC_TYPES);
            let source = self.chance(0.7).then(|| {
                if self.chance(0.8) {
                    self.world
                        .sources
                        .iter()
                        .position(|s| s.name == "events")
                        .unwrap_or(0)
                } else {
                    self.below(self.world.sources.len())
                }
            });
            plans.push((name.clone(), ty, source));
            self.world.metrics.push((name, ty));
        }
        let indicator_count = if plans.is_empty() { 0 } else { self.below(3) };
        self.world.indicators = (0..indicator_count).map(|i| format!("ind_{i}")).collect();
        let all_metrics = std::mem::take(&mut self.world.metrics);
        let mut metrics = Vec::new();
        for (i, (name, ty, source)) in plans.iter().enumerate() {
            self.world.metrics = if self.chance(0.05) {
                all_metrics.clone()
            } else {
                all_metrics[..i].to_vec()
            };
            metrics.push((name.clone(), self.metric(*ty, *source)));
        }
        self.world.metrics = all_metrics;
        if !metrics.is_empty() || self.chance(0.1) {
            top.push(("metrics".into(), Y::Map(metrics)));
        }

        let groups = ["adoption", "support", "outcomes", "sentiment"];
        let mut used_groups = BTreeSet::new();
        let mut indicators = Vec::new();
        for name in self.world.indicators.clone() {
            let some = 1 + self.below(groups.len());
            let group = self.pick(&groups[..some]);
            used_groups.insert(group);
            indicators.push((name, self.indicator(&plans, group)));
        }
        if !indicators.is_empty() {
            top.push(("indicators".into(), Y::Map(indicators)));
        }
        if !used_groups.is_empty() && self.chance(0.9) || self.chance(0.05) {
            top.push(("health".into(), self.health(&used_groups)));
            self.world.has_health = true;
        }
        let playbook_count = self.below(3);
        if playbook_count > 0 {
            let playbooks = (0..playbook_count)
                .map(|i| (format!("play_{i}"), self.playbook()))
                .collect();
            top.push(("playbooks".into(), Y::Map(playbooks)));
        }
        if self.chance(0.3) {
            let format = if self.chance(self.noise * 5.0) {
                "xml"
            } else {
                self.pick(&["parquet", "csv", "jsonl"])
            };
            top.push((
                "outputs".into(),
                map(vec![("dir", text("out")), ("format", raw(format))]),
            ));
        }
        if self.chance(0.15) {
            top.push(("tests".into(), self.tests(&plans)));
        }
        if self.chance(0.1) {
            let i = self.below(top.len());
            let j = self.below(top.len());
            top.swap(i, j);
        }
        let mut root = Y::Map(top);
        if self.chance(self.noise * 5.0 + 0.05) {
            for _ in 0..1 + self.below(3) {
                self.damage(&mut root);
            }
        }
        self.render(&root)
    }

    /// The `sources:` section for the world's sources.
    pub(super) fn sources(&mut self) -> Y {
        let mut entries = Vec::new();
        for i in 0..self.world.sources.len() {
            let source = &self.world.sources[i];
            let (name, time) = (source.name.clone(), source.time.clone());
            let path = if name == "misc" {
                "nowhere/*.csv".to_string()
            } else {
                format!("data/{name}.parquet")
            };
            let mut fields = vec![("path", text(path))];
            if self.chance(0.1) {
                let format = if self.chance(self.noise * 5.0) {
                    self.pick(&["csv", "jsonl", "arrow", "xlsx"])
                } else {
                    "parquet"
                };
                fields.push(("format", raw(format)));
            }
            if let Some(time) = time {
                fields.push(("time", text(time)));
            }
            if self.chance(0.05) {
                fields.push(("key", text("account_id")));
            }
            if self.chance(0.05) {
                fields.push((
                    "missing_columns",
                    raw(if self.chance(self.noise * 5.0) {
                        "ignore"
                    } else {
                        self.pick(&["error", "read_as_null"])
                    }),
                ));
            }
            if self.chance(0.03) {
                fields.push(("partitions", Y::List(vec![raw("region")])));
            }
            if self.chance(0.1) {
                fields.push(("description", text("where: rows # not a comment")));
            }
            entries.push((name, map(fields)));
        }
        Y::Map(entries)
    }

    /// The `entity:` section, with some of the fixture's attributes.
    pub(super) fn entity(&mut self) -> Y {
        let mut attributes: Vec<(String, Ty)> = self.world.attributes.clone();
        attributes.retain(|_| self.rng.random_bool(0.7));
        let mut listed: Vec<Y> = attributes.iter().map(|(a, _)| raw(a.clone())).collect();
        if self.chance(self.noise * 3.0) {
            listed.push(raw(self.pick(&["csm", "health", "account_id", "seats"])));
        }
        self.world.attributes = attributes;
        let mut fields = vec![
            ("name", raw(self.world.entity.clone())),
            ("source", raw("accounts")),
            ("key", raw("account_id")),
            ("attributes", Y::List(listed)),
        ];
        if self.chance(0.4) {
            let population = self.expr(Scope::Row(0), Ty::Bool, 2).text;
            fields.push(("population", text(population)));
        }
        map(fields)
    }

    /// The `targets:` section (some columns named, rarely wrongly).
    pub(super) fn targets(&mut self) -> Y {
        let mut fields = vec![("source", raw("targets"))];
        for (key, column) in [
            ("kpi", "kpi"),
            ("value", "target"),
            ("direction", "direction"),
            ("effective_from", "effective_from"),
            ("effective_to", "effective_to"),
        ] {
            if self.chance(0.6) {
                let column = if self.chance(self.noise * 3.0) {
                    "nope"
                } else {
                    column
                };
                fields.push((key, raw(column)));
            }
        }
        map(fields)
    }

    /// A `window:` value.
    pub(super) fn window(&mut self) -> Y {
        let windows = if self.chance(self.noise * 3.0) {
            WINDOWS.rejected
        } else {
            WINDOWS.accepted
        };
        raw(self.pick(windows))
    }

    /// A metric of type `ty`: an aggregate one over `source`, or a derived one.
    pub(super) fn metric(&mut self, ty: Ty, source: Option<usize>) -> Y {
        let mut fields = Vec::new();
        match source {
            Some(s) => {
                fields.push(("from", raw(self.world.sources[s].name.clone())));
                if (self.world.sources[s].time.is_some() || self.chance(self.noise * 3.0))
                    && self.chance(0.6)
                {
                    let window = self.window();
                    fields.push(("window", window));
                }
                if self.chance(0.3) {
                    let filter = self.expr(Scope::Row(s), Ty::Bool, 2).text;
                    fields.push(("where", text(filter)));
                }
                let value = self.expr(Scope::Aggregate(s), ty, 2).text;
                fields.push(("value", text(value)));
            }
            None => {
                let value = self.expr(Scope::Entity, ty, 2).text;
                fields.push(("value", text(value)));
                if self.chance(self.noise * 3.0) {
                    let window = self.window();
                    fields.push(("window", window));
                }
            }
        }
        if self.chance(0.2) {
            fields.push(("unit", text(self.pick(&["days", "usd", "percent", "%"]))));
        }
        if self.chance(0.6) {
            fields.push((
                "unused",
                raw(if self.chance(self.noise * 3.0) {
                    "yes"
                } else {
                    "true"
                }),
            ));
        }
        if self.chance(0.1) {
            fields.push(("description", text("Counts things, or not: 'quoted'")));
        }
        if self.chance(self.noise * 2.0) {
            fields.swap_remove(self.below(fields.len()));
        }
        map(fields)
    }

    /// An indicator in `group` scoring one of the planned metrics.
    pub(super) fn indicator(&mut self, plans: &[(String, Ty, Option<usize>)], group: &str) -> Y {
        let numeric: Vec<&String> = plans
            .iter()
            .filter(|(_, t, _)| matches!(t, Ty::Int | Ty::Num))
            .map(|(n, _, _)| n)
            .collect();
        let metric = match (numeric.len(), plans.len()) {
            (0, 0) => "nope".to_string(),
            (0, n) => plans[self.below(n)].0.clone(),
            (n, _) => numeric[self.below(n)].clone(),
        };
        let kind = if !self.chance(self.noise * 3.0) {
            self.pick(&["leading", "lagging"])
        } else {
            "trailing"
        };
        let score = self.expr(Scope::Score, Ty::Num, 2).text;
        let mut fields = vec![
            ("kind", raw(kind)),
            ("metric", raw(metric)),
            ("score", text(score)),
            ("group", raw(group)),
        ];
        if self.chance(0.4) {
            fields.push(("weight", raw(self.weight())));
        }
        map(fields)
    }

    /// A weight (with noise, one the language rejects).
    pub(super) fn weight(&mut self) -> String {
        if self.chance(self.noise * 3.0) {
            self.pick(&["-1", "x", "1e999", "[1]", "''", ".inf", "~"])
                .into()
        } else {
            self.pick(&["1", "2", "35", "2.5", "1", "0.001", "3"])
                .into()
        }
    }

    /// The `health:` section: the groups in `used`, bands, sometimes models.
    pub(super) fn health(&mut self, used: &BTreeSet<&str>) -> Y {
        let mut groups: Vec<(String, Y)> = Vec::new();
        for group in used {
            let weight = self.weight();
            let value = if self.chance(0.2) {
                map(vec![
                    ("weight", raw(weight)),
                    ("description", text("a group")),
                ])
            } else {
                raw(weight)
            };
            groups.push((group.to_string(), value));
        }
        if self.chance(0.1) {
            groups.push(("empty".into(), raw("1")));
        }
        let bands: Vec<(&str, &str, &str)> = if self.chance(self.noise * 4.0) {
            vec![
                ("red", "0", "50"),
                ("green", "40", "100.5"),
                ("blue", "-1", "x"),
            ]
        } else {
            match self.below(3) {
                0 => vec![
                    ("red", "0", "40"),
                    ("yellow", "40", "70"),
                    ("green", "70", "100"),
                ],
                1 => vec![("low", "0", "50"), ("high", "50", "100")],
                _ => vec![("at risk", "0", "100")],
            }
        };
        let bands = bands
            .into_iter()
            .map(|(name, from, to)| {
                (
                    name.to_string(),
                    map(vec![("from", raw(from)), ("to", raw(to))]),
                )
            })
            .collect();
        let mut fields = vec![("groups", Y::Map(groups)), ("bands", Y::Map(bands))];
        if self.chance(0.3) {
            let mut models = Vec::new();
            for i in 0..1 + self.below(2) {
                let when = self.expr(Scope::Entity, Ty::Bool, 2).text;
                let mut model = vec![("when", text(when))];
                if let Some(group) = used.iter().next() {
                    let weight = self.weight();
                    model.push(("groups", map(vec![(group, raw(weight))])));
                }
                if let Some(indicator) = self.world.indicators.first().cloned()
                    && self.chance(0.5)
                {
                    model.push(("indicators", Y::Map(vec![(indicator, raw("0"))])));
                }
                models.push((format!("model_{i}"), map(model)));
            }
            fields.push(("models", Y::Map(models)));
        }
        map(fields)
    }

    /// A message template: text with `{expression}` holes and `{{`/`}}`.
    pub(super) fn template(&mut self) -> String {
        let mut text = String::new();
        for _ in 0..1 + self.below(3) {
            match self.below(6) {
                0 | 1 => text.push_str(self.pick(TEMPLATE_TEXT)),
                2 => text.push_str(self.pick(&["{{", "}}", "{{literal}}"])),
                3 if self.chance(self.noise * 5.0) => {
                    text.push_str(self.pick(&["}", "{", "{}", "{ "]))
                }
                _ => {
                    let ty = self.pick(&Ty::ALL);
                    let hole = self.expr(Scope::Playbook, ty, 1).text;
                    write!(text, "{{{hole}}}").expect("write");
                }
            }
        }
        text
    }

    /// A playbook with a condition, templates and sometimes a cooldown.
    pub(super) fn playbook(&mut self) -> Y {
        let when = self.expr(Scope::Playbook, Ty::Bool, 2).text;
        let mut fields = vec![
            ("when", text(when)),
            (
                "action",
                text(self.pick(&["call", "email", "exec_escalation"])),
            ),
            ("message", text(self.template())),
        ];
        if self.chance(0.5) {
            let priority = if !self.chance(self.noise * 3.0) {
                self.pick(&["high", "medium", "low"])
            } else {
                "urgent"
            };
            fields.push(("priority", raw(priority)));
        }
        if self.chance(0.5) {
            fields.push(("owner", text(self.template())));
        }
        if self.chance(0.3) {
            fields.push(("dedup_key", text(self.template())));
        }
        if self.chance(0.4) {
            let cooldown = if self.chance(self.noise * 3.0) {
                self.pick(&["-1d", "1.5d", "forever", "110000000d"])
            } else {
                self.pick(&["7d", "14d", "0d", "1d", "36h"])
            };
            fields.push(("cooldown", raw(cooldown)));
        }
        if self.chance(self.noise * 2.0) {
            fields.swap_remove(self.below(fields.len()));
        }
        map(fields)
    }

    /// A `tests:` section with fixture rows and expectations.
    pub(super) fn tests(&mut self, plans: &[(String, Ty, Option<usize>)]) -> Y {
        let mut given = Vec::new();
        for s in 0..self.world.sources.len() {
            if self.chance(0.4) {
                continue;
            }
            let source = &self.world.sources[s];
            let (name, columns) = (source.name.clone(), source.columns.clone());
            let mut rows = Vec::new();
            for r in 0..self.below(4) {
                let mut row = Vec::new();
                for (column, ty) in &columns {
                    if self.chance(0.9) {
                        row.push((column.clone(), self.fixture_value(*ty, r)));
                    }
                }
                rows.push(Y::Map(row));
            }
            given.push((name, Y::List(rows)));
        }
        let mut expect = Vec::new();
        for (name, ty, _) in plans.iter().take(3) {
            expect.push((name.clone(), self.fixture_value(*ty, 0)));
        }
        if let Some(indicator) = self.world.indicators.first() {
            expect.push((format!("score.{indicator}"), raw("50")));
        }
        if self.chance(0.5) {
            expect.push(("playbooks".into(), Y::List(vec![raw("play_0")])));
        }
        if self.chance(self.noise * 3.0) {
            expect.push(("nope".into(), raw("1")));
        }
        let as_of = if self.chance(0.95) {
            "2026-11-01"
        } else {
            self.pick(&["2026-13-01", "today", "1"])
        };
        let test = map(vec![
            ("as_of", raw(as_of)),
            ("given", Y::Map(given)),
            ("expect", map(vec![("a1", Y::Map(expect))])),
        ]);
        map(vec![("a_test", test)])
    }

    /// A value for a fixture row or an expectation.
    pub(super) fn fixture_value(&mut self, ty: Ty, row: usize) -> Y {
        if self.chance(0.1) {
            return raw("null");
        }
        match ty {
            Ty::Str => text(format!("a{}", row + 1)),
            Ty::Int => raw(self.rng.random_range(0..100u32).to_string()),
            Ty::Num => raw(self.pick(&["1.5", "30%", "0", "-2.25"])),
            Ty::Time => raw(self.pick(&[
                "2026-10-30T09:00:00",
                "2026-10-31T23:59:59Z",
                "2026-11-01T00:00:00",
            ])),
            Ty::Date => raw(self.pick(&["2026-10-30", "2024-02-29"])),
            Ty::Bool => raw(self.pick(&["true", "false"])),
            Ty::Dur => raw("30d"),
        }
    }

    /// Structural damage: drop, duplicate or misspell a key, or give a
    /// value the wrong shape.
    pub(super) fn damage(&mut self, root: &mut Y) {
        let kind = self.below(4);
        let mut shapes = vec![
            raw("1"),
            Y::List(vec![raw("a")]),
            Y::Map(Vec::new()),
            text(""),
            raw("null"),
            raw("&a x"),
            raw("*a"),
        ];
        let replacement = shapes.swap_remove(self.below(shapes.len()));
        let stranger = self
            .pick(&["vlaue", "windw", "x", "metric", "from ", "Value"])
            .to_string();
        let Some(entries) = random_map(self.rng, root) else {
            return;
        };
        if entries.is_empty() {
            entries.push((stranger, replacement));
            return;
        }
        let i = self.rng.random_range(0..entries.len());
        match kind {
            0 => {
                entries.remove(i);
            }
            1 => {
                let copy = entries[i].clone();
                entries.push(copy);
            }
            2 => entries.push((stranger, replacement)),
            _ => entries[i].1 = replacement,
        }
    }

    // --- expressions alone -------------------------------------------------

    /// A small valid pipeline with one expression site replaced by a random
    /// expression, token soup, or a mutated expression.
    pub(super) fn expression_pipeline(&mut self) -> String {
        self.world.metrics = vec![("logins".into(), Ty::Int), ("derived".into(), Ty::Num)];
        self.world.indicators = vec!["usage".into()];
        let sites = [
            ("POPULATION", Scope::Row(0), Ty::Bool, "seats > 0"),
            ("WHERE", Scope::Row(1), Ty::Bool, "event_type = 'login'"),
            ("AGGREGATE", Scope::Aggregate(1), Ty::Int, "count()"),
            ("DERIVED", Scope::Entity, Ty::Num, "logins / account.seats"),
            ("SCORE", Scope::Score, Ty::Num, "ramp(value, 0, 10)"),
            ("WHEN", Scope::Playbook, Ty::Bool, "band = 'red'"),
            (
                "MESSAGE",
                Scope::Playbook,
                Ty::Str,
                "{account.account_id} has {logins} logins",
            ),
        ];
        let site = self.below(sites.len());
        let (_, scope, want, _) = sites[site];
        let noise = self.noise;
        self.noise = noise.max(0.05);
        let expression = match self.below(10) {
            0..5 => self.expr(scope, want, 4).text,
            5..7 => {
                let n = 1 + self.below(12);
                (0..n)
                    .map(|_| self.pick(EXPR_TOKENS))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            _ => {
                let mut bytes = self.expr(scope, want, 3).text.into_bytes();
                for _ in 0..1 + self.below(3) {
                    let at = boundary(&bytes, self.below(bytes.len() + 1));
                    let token = self.pick(EXPR_TOKENS);
                    if self.chance(0.5) {
                        bytes.splice(at..at, token.bytes());
                    } else {
                        let end = boundary(&bytes, (at + 1 + self.below(4)).min(bytes.len()));
                        bytes.drain(at..end.max(at));
                    }
                }
                String::from_utf8_lossy(&bytes).into_owned()
            }
        };
        self.noise = noise;
        let _ = vane::syntax::parse_expr::parse_str(&expression);
        let mut text = String::from(
            "vane: 1
sources:
  accounts: { path: data/accounts.parquet }
  events: { path: data/events.parquet, time: event_time }
entity:
  name: account
  source: accounts
  key: account_id
  attributes: [seats, arr, segment, signed_at, renewal_date, churned_at, active]
  population: POPULATION
metrics:
  logins:
    from: events
    window: 30d
    where: WHERE
    value: AGGREGATE
  derived:
    value: DERIVED
    unused: true
indicators:
  usage:
    kind: leading
    metric: logins
    score: SCORE
    group: adoption
health:
  groups: { adoption: 1 }
  bands:
    red: { from: 0, to: 50 }
    green: { from: 50, to: 100 }
playbooks:
  quiet:
    when: WHEN
    action: call
    message: MESSAGE
",
        );
        for (i, (marker, _, _, valid)) in sites.iter().enumerate() {
            let value = if i == site {
                expression.as_str()
            } else {
                valid
            };
            let (scalar, _) = self.scalar(value, false, None);
            text = text.replacen(marker, &scalar, 1);
        }
        text
    }

    // --- rendering ---------------------------------------------------------

    /// The pipeline as YAML, sometimes with the schema comment and `---`.
    pub(super) fn render(&mut self, root: &Y) -> String {
        let mut out = String::new();
        if self.chance(0.2) {
            out.push_str("# yaml-language-server: $schema=../docs/vane.schema.json\n");
        }
        if self.chance(0.05) {
            out.push_str("---\n");
        }
        match root {
            Y::Map(entries) => self.block_map(entries, 0, &mut out),
            other => {
                let flow = self.flow(other);
                out.push_str(&flow);
                out.push('\n');
            }
        }
        out
    }

    /// A block mapping's entries at `indent`.
    pub(super) fn block_map(&mut self, entries: &[(String, Y)], indent: usize, out: &mut String) {
        for (key, value) in entries {
            out.push_str(&" ".repeat(indent));
            out.push_str(&yaml_key(key));
            out.push(':');
            self.block_value(value, indent, out);
        }
    }

    /// The value of a block mapping's entry, after its `key:`.
    pub(super) fn block_value(&mut self, value: &Y, indent: usize, out: &mut String) {
        match value {
            Y::Raw(s) => {
                out.push(' ');
                out.push_str(s);
                self.comment(out);
                out.push('\n');
            }
            Y::Str(s) => {
                out.push(' ');
                let (scalar, ends_line) = self.scalar(s, false, Some(indent));
                out.push_str(&scalar);
                if !ends_line {
                    self.comment(out);
                    out.push('\n');
                }
            }
            Y::Map(entries) if entries.is_empty() || self.chance(0.2) => {
                out.push(' ');
                let flow = self.flow(value);
                out.push_str(&flow);
                out.push('\n');
            }
            Y::Map(entries) => {
                self.comment(out);
                out.push('\n');
                self.block_map(entries, indent + 2, out);
            }
            Y::List(items) if items.is_empty() || self.chance(0.6) => {
                out.push(' ');
                let flow = self.flow(value);
                out.push_str(&flow);
                out.push('\n');
            }
            Y::List(items) => {
                out.push('\n');
                for item in items {
                    self.block_item(item, indent + 2, out);
                }
            }
        }
    }

    /// One `- item` of a block list at `indent`.
    pub(super) fn block_item(&mut self, item: &Y, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match item {
            Y::Map(entries) if !entries.is_empty() && self.chance(0.5) => {
                let mut body = String::new();
                self.block_map(entries, indent + 2, &mut body);
                // `- ` takes the place of the first entry's indentation.
                out.push_str(&pad);
                out.push_str("- ");
                out.push_str(&body[indent + 2..]);
            }
            Y::Raw(s) => {
                let _ = writeln!(out, "{pad}- {s}");
            }
            other => {
                let flow = self.flow(other);
                let _ = writeln!(out, "{pad}- {flow}");
            }
        }
    }

    /// A value in flow style (`{ … }`, `[ … ]`).
    pub(super) fn flow(&mut self, value: &Y) -> String {
        match value {
            Y::Raw(s) => s.clone(),
            Y::Str(s) => self.scalar(s, true, None).0,
            Y::Map(entries) if entries.is_empty() => "{}".into(),
            Y::Map(entries) => {
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{}: {}", yaml_key(k), self.flow(v)))
                    .collect();
                format!("{{ {} }}", parts.join(", "))
            }
            Y::List(items) => {
                let parts: Vec<String> = items.iter().map(|v| self.flow(v)).collect();
                format!("[{}]", parts.join(", "))
            }
        }
    }

    /// A scalar in one of YAML's styles: plain when that is safe (and
    /// rarely when it is not), double- or single-quoted, or a block scalar
    /// when `block_indent` allows one. The flag says the text ends its line.
    pub(super) fn scalar(
        &mut self,
        s: &str,
        flow: bool,
        block_indent: Option<usize>,
    ) -> (String, bool) {
        if (plain_safe(s, flow) && self.chance(0.75)) || self.chance(0.005) {
            return (s.to_string(), false);
        }
        match self.below(6) {
            0..3 => (double_quoted(s), false),
            3 | 4 => (format!("'{}'", s.replace('\'', "''")), false),
            _ => match block_indent {
                Some(indent) if !s.is_empty() && !s.contains('\n') && !s.starts_with(' ') => {
                    let style = self.pick(&["|", "|-", ">-", ">"]);
                    (format!("{style}\n{}{s}\n", " ".repeat(indent + 2)), true)
                }
                _ => (double_quoted(s), false),
            },
        }
    }

    /// Sometimes a comment at the end of the line.
    pub(super) fn comment(&mut self, out: &mut String) {
        if self.chance(0.03) {
            out.push_str(" # a comment: with {braces}");
        }
    }
}

/// Whether a place allows a function to be called in `scope`.
pub(super) fn place_fits(place: Place, scope: Scope) -> bool {
    match place {
        Place::Anywhere => true,
        Place::Aggregate => matches!(scope, Scope::Aggregate(_)),
        Place::Entity => matches!(scope, Scope::Entity | Scope::Score | Scope::Playbook),
        Place::Playbook => scope == Scope::Playbook,
    }
}

/// Whether `f` can return a value of type `want`.
pub(super) fn returns_fit(f: &FunctionDef, want: Ty) -> bool {
    match f.returns {
        Returns::Fixed(t) => t == want.vane() || (t == Type::Integer && want == Ty::Num),
        Returns::Numeric { .. } => matches!(want, Ty::Int | Ty::Num),
        Returns::First => f.param(0).accepts(want.vane()),
        Returns::Common(from) => f.param(from).accepts(want.vane()),
        Returns::MetricType => true,
    }
}

/// Whether `s` reads back as the same string when written plain in YAML.
pub(super) fn plain_safe(s: &str, flow: bool) -> bool {
    /// Characters that start YAML syntax.
    const SPECIAL_START: &[char] = &[
        '@', '\'', '"', '`', '%', '!', '&', '*', '|', '>', '[', ']', '{', '}', '#', ',', '?', ':',
        '-',
    ];
    !s.is_empty()
        && s.trim() == s
        && !s.chars().any(char::is_control)
        && !s.starts_with(SPECIAL_START)
        && !s.contains(": ")
        && !s.contains(" #")
        && !s.ends_with(':')
        && !(flow && s.contains([',', '[', ']', '{', '}']))
}

/// `s` as a double-quoted YAML scalar.
pub(super) fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A mapping key: plain when it is a simple name, else double-quoted.
pub(super) fn yaml_key(key: &str) -> String {
    let simple = key
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    if simple {
        key.to_string()
    } else {
        double_quoted(key)
    }
}

/// A random mapping somewhere in `y` (the root or a nested one).
pub(super) fn random_map<'y>(
    rng: &mut ChaCha8Rng,
    y: &'y mut Y,
) -> Option<&'y mut Vec<(String, Y)>> {
    match y {
        Y::Map(entries) => {
            let nested: Vec<usize> = (0..entries.len())
                .filter(|&i| matches!(entries[i].1, Y::Map(_) | Y::List(_)))
                .collect();
            if nested.is_empty() || rng.random_bool(0.35) {
                return Some(entries);
            }
            let i = nested[rng.random_range(0..nested.len())];
            random_map(rng, &mut entries[i].1)
        }
        Y::List(items) if !items.is_empty() => {
            let i = rng.random_range(0..items.len());
            random_map(rng, &mut items[i])
        }
        _ => None,
    }
}
