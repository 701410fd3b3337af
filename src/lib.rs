//! Vane: customer-success metrics as code.
//!
//! A pipeline file (YAML plus a small expression language) goes through
//! visible stages, each taking the previous stage's output:
//!
//! | stage | function | takes | gives |
//! |---|---|---|---|
//! | syntax | [`syntax::load_path`] | file text | [`syntax::ast::Pipeline`] |
//! | check | [`check::check`] | AST + data schemas | [`check::model::Model`] |
//!
//! ```
//! let text = r#"
//! vane: 1
//! sources:
//!   accounts: { path: accounts.csv }
//! entity: { name: account, source: accounts, key: account_id }
//! "#;
//! let (loaded, diagnostics) = vane::syntax::load_text("p.yaml", text.to_string());
//! assert!(diagnostics.is_empty());
//! let (model, diagnostics) = vane::check::check(&loaded.unwrap().pipeline, &Default::default());
//! assert!(diagnostics.is_empty());
//! assert_eq!(model.unwrap().entity.name, "account");
//! ```

// Diagnostics are the error type everywhere; they are large (spans, labels,
// help) and only travel the cold path, so boxing them would buy nothing.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod commands;
pub mod diagnostics;
pub mod diff;
pub mod docs;
pub mod plan;
pub mod run;
pub mod sample;
pub mod syntax;
pub mod test;
