//! Loads CH's official OpenAPI documents from the shared directory and
//! validates JSON values against their schemas.
//!
//! The documents are read in place (never copied into the project) from
//! `$HYPE_SHARED_DIR/specs/cloud-hypervisor/<version>.yaml`, defaulting to the
//! `shared/` directory beside the repository. A missing document fails the
//! test: a contract test that silently skips proves nothing.

use std::path::PathBuf;

use serde_json::{Map, Value};

/// The CH versions whose schemas the client must satisfy.
pub const SPEC_VERSIONS: &[&str] = &["v48.0", "v51.1", "v53.0"];

pub struct Spec {
    pub version: &'static str,
    /// The document as published (plus `nullable` translated).
    loose: Value,
    /// The same with `additionalProperties: false` on every object schema
    /// that does not say otherwise, so unknown (e.g. misspelled) fields fail.
    strict: Value,
}

fn shared_dir() -> PathBuf {
    match std::env::var_os("HYPE_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    }
}

pub fn all_specs() -> Vec<Spec> {
    SPEC_VERSIONS.iter().map(|v| Spec::load(v)).collect()
}

impl Spec {
    pub fn load(version: &'static str) -> Spec {
        let path = shared_dir()
            .join("specs/cloud-hypervisor")
            .join(format!("{version}.yaml"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "cannot read CH {version} OpenAPI document {}: {e} (set HYPE_SHARED_DIR to the shared directory)",
                path.display()
            )
        });
        let yaml: serde_yaml::Value =
            serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Spec::from_document(version, yaml_to_json(yaml))
    }

    /// Builds a spec from an already parsed document; tests use it to
    /// simulate an upstream change.
    pub fn from_document(version: &'static str, mut document: Value) -> Spec {
        translate_nullable(&mut document);
        let mut strict = document.clone();
        forbid_unknown_properties(&mut strict);
        Spec {
            version,
            loose: document,
            strict,
        }
    }

    pub fn document(&self) -> &Value {
        &self.loose
    }

    /// The operation object for `method` on `path` (e.g. `put`, `/vm.boot`).
    pub fn operation(&self, method: &str, path: &str) -> Option<&Value> {
        self.loose.get("paths")?.get(path)?.get(method)
    }

    /// `$ref` target name of the JSON request body, if the operation has one.
    pub fn request_schema(&self, method: &str, path: &str) -> Option<String> {
        let op = self.operation(method, path)?;
        schema_name(op.get("requestBody")?)
    }

    /// `$ref` target name of the JSON body of response `status`.
    pub fn response_schema(&self, method: &str, path: &str, status: &str) -> Option<String> {
        let op = self.operation(method, path)?;
        schema_name(op.get("responses")?.get(status)?)
    }

    /// A component schema, as published.
    pub fn schema(&self, name: &str) -> Option<&Value> {
        self.loose.get("components")?.get("schemas")?.get(name)
    }

    /// Validates `instance` against `#/components/schemas/<name>`, resolved
    /// inside this document; `strict` also rejects undeclared properties.
    pub fn validate(&self, name: &str, instance: &Value, strict: bool) -> Result<(), Vec<String>> {
        let mut root = if strict {
            self.strict.clone()
        } else {
            self.loose.clone()
        };
        let Some(obj) = root.as_object_mut() else {
            panic!("{} document is not an object", self.version);
        };
        assert!(
            self.schema(name).is_some(),
            "CH {} has no schema {name}",
            self.version
        );
        // Draft 4 ignores keywords beside `$ref`, so the rest of the OpenAPI
        // document (paths, info, ...) only serves as the `$ref` target.
        obj.insert(
            "$ref".to_owned(),
            Value::String(format!("#/components/schemas/{name}")),
        );
        let validator = jsonschema::draft4::options()
            .should_validate_formats(false)
            .build(&root)
            .unwrap_or_else(|e| panic!("CH {} schema {name} does not compile: {e}", self.version));
        let errors: Vec<String> = validator
            .iter_errors(instance)
            .map(|e| format!("{} at {}", e, e.instance_path))
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Like [`Spec::validate`] but panics with a readable report.
    pub fn assert_valid(&self, name: &str, instance: &Value, strict: bool) {
        if let Err(errors) = self.validate(name, instance, strict) {
            panic!(
                "CH {} rejects {name} (strict: {strict}):\n  {}\nvalue: {instance:#}",
                self.version,
                errors.join("\n  ")
            );
        }
    }
}

fn schema_name(holder: &Value) -> Option<String> {
    let reference = holder
        .get("content")?
        .get("application/json")?
        .get("schema")?
        .get("$ref")?
        .as_str()?;
    reference
        .strip_prefix("#/components/schemas/")
        .map(str::to_owned)
}

/// YAML allows non-string keys (the spec writes status codes as `200`);
/// JSON Schema and OpenAPI treat them as strings.
fn yaml_to_json(yaml: serde_yaml::Value) -> Value {
    match yaml {
        serde_yaml::Value::Null => Value::Null,
        serde_yaml::Value::Bool(b) => Value::Bool(b),
        serde_yaml::Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                n.as_f64().map(Value::from).unwrap_or(Value::Null)
            }
        }
        serde_yaml::Value::String(s) => Value::String(s),
        serde_yaml::Value::Sequence(items) => {
            Value::Array(items.into_iter().map(yaml_to_json).collect())
        }
        serde_yaml::Value::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = match key {
                    serde_yaml::Value::String(s) => s,
                    serde_yaml::Value::Number(n) => n.to_string(),
                    serde_yaml::Value::Bool(b) => b.to_string(),
                    other => panic!("unsupported YAML key {other:?}"),
                };
                out.insert(key, yaml_to_json(value));
            }
            Value::Object(out)
        }
        serde_yaml::Value::Tagged(tagged) => yaml_to_json(tagged.value),
    }
}

/// OpenAPI 3.0 `nullable: true` is `type: [T, "null"]` in JSON Schema.
/// None of the current CH documents use it, but a future one may.
fn translate_nullable(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("nullable") == Some(&Value::Bool(true)) {
                if let Some(Value::String(ty)) = map.get("type").cloned() {
                    map.insert("type".to_owned(), serde_json::json!([ty, "null"]));
                }
            }
            map.values_mut().for_each(translate_nullable);
        }
        Value::Array(items) => items.iter_mut().for_each(translate_nullable),
        _ => {}
    }
}

fn forbid_unknown_properties(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if map.get("properties").is_some_and(Value::is_object)
                && !map.contains_key("additionalProperties")
            {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            map.values_mut().for_each(forbid_unknown_properties);
        }
        Value::Array(items) => items.iter_mut().for_each(forbid_unknown_properties),
        _ => {}
    }
}

/// CH serialises unset options as `null`, which the documents never allow;
/// they mean "absent", so drop them before validating a response.
pub fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}
