//! `schemas/report.schema.json`, the JSON Schema of `report.json`, generated from the report
//! model ([`RunReport`] and the types it holds, each deriving `JsonSchema` next to its serde
//! derive) so the file and the writer cannot drift apart. The tests compare the committed
//! file with [`generate`] and validate the reports they write against it.

use serde_json::Value;

use super::{RunReport, SCHEMA_VERSION};

/// Where the schema lives, from the repository root.
pub const SCHEMA_PATH: &str = "schemas/report.schema.json";

/// The schema of `report.json` at [`SCHEMA_VERSION`], pretty-printed with a trailing newline.
/// `schema_version` is pinned to its value (`const`): a report of another version is not
/// read by this schema, and a version bump shows in the committed file.
pub fn generate() -> String {
    let mut schema = schemars::schema_for!(RunReport);
    if let Some(Value::Object(version)) = schema
        .get_mut("properties")
        .and_then(|p| p.get_mut("schema_version"))
    {
        version.insert("const".into(), SCHEMA_VERSION.into());
    }
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests;
