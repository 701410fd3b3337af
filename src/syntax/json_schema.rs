//! `vane schema`: the JSON Schema of the pipeline file format, generated
//! from [`spec`](super::spec) so it always matches what the loader accepts.
//! Editors use it through a `# yaml-language-server: $schema=…` line.

use serde_json::{Map, Value, json};

use super::spec::{self, Section, Shape};

fn shape_schema(shape: &Shape, doc: &str) -> Value {
    let mut schema = match shape {
        Shape::Text => json!({ "type": "string" }),
        Shape::Expression => json!({
            "type": ["string", "number", "boolean"],
            "x-vane-kind": "expression"
        }),
        Shape::Template => json!({ "type": "string", "x-vane-kind": "template" }),
        Shape::Duration => json!({
            "type": "string",
            "pattern": "^\\s*[0-9]+(w|d|h|min|s)\\s*$",
            "examples": ["30d", "12w", "6h"]
        }),
        Shape::Number => json!({ "type": "number", "minimum": 0 }),
        Shape::Integer => json!({ "type": "integer" }),
        Shape::Bool => json!({ "type": "boolean" }),
        Shape::Choice(choices) => json!({ "enum": choices }),
        Shape::TextList => json!({
            "anyOf": [
                { "type": "array", "items": { "type": "string" } },
                { "type": "string" }
            ]
        }),
        Shape::Section(section) => section_schema(section),
        Shape::Named(section) => {
            let item = if std::ptr::eq(*section, &spec::GROUP) {
                json!({ "anyOf": [ { "type": "number", "minimum": 0 }, section_schema(section) ] })
            } else {
                section_schema(section)
            };
            // Bands and tests may have any names; everything else is referenced in expressions.
            let free_names =
                std::ptr::eq(*section, &spec::BAND) || std::ptr::eq(*section, &spec::TEST);
            if free_names {
                json!({ "type": "object", "additionalProperties": item })
            } else {
                json!({
                    "type": "object",
                    "propertyNames": { "pattern": "^[A-Za-z_][A-Za-z0-9_]*$" },
                    "additionalProperties": item
                })
            }
        }
        Shape::Columns => json!({
            "type": "object",
            "additionalProperties": {
                "anyOf": [ { "enum": spec::COLUMN_TYPES }, section_schema(&spec::COLUMN) ]
            }
        }),
        Shape::CountOrShare => json!({
            "anyOf": [
                { "type": "integer", "minimum": 0 },
                { "type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?%$" }
            ]
        }),
        Shape::NamedNumbers => json!({
            "type": "object",
            "additionalProperties": { "type": "number", "minimum": 0 }
        }),
        Shape::Fixtures => json!({
            "type": "object",
            "additionalProperties": { "type": "array", "items": { "type": "object" } }
        }),
        Shape::Expectations => json!({
            "type": "object",
            "additionalProperties": { "type": "object" }
        }),
    };
    if let Value::Object(map) = &mut schema {
        map.insert("description".into(), Value::String(doc.to_string()));
    }
    schema
}

fn section_schema(section: &Section) -> Value {
    let mut properties = Map::new();
    for field in section.fields {
        properties.insert(field.key.to_string(), shape_schema(&field.shape, field.doc));
    }
    let required: Vec<&str> = section
        .fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.key)
        .collect();
    json!({
        "type": "object",
        "description": section.doc,
        "properties": properties,
        "required": required,
        "additionalProperties": false
    })
}

/// The JSON Schema (draft 2020-12) of a pipeline file.
pub fn pipeline_schema() -> Value {
    let mut schema = section_schema(&spec::PIPELINE);
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$schema".into(),
            json!("https://json-schema.org/draft/2020-12/schema"),
        );
        map.insert("title".into(), json!("Vane pipeline"));
    }
    schema
}

/// The schema as pretty-printed JSON text.
pub fn pipeline_schema_text() -> String {
    serde_json::to_string_pretty(&pipeline_schema()).unwrap_or_default() + "\n"
}
