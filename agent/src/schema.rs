//! Checking tool arguments against their JSON Schema, for the part of the
//! standard tool schemas use: `type` (one or a list), `properties`,
//! `required`, `additionalProperties` (false or a schema), `items`, `enum`,
//! `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`,
//! `minLength`, `maxLength`, `pattern`-free strings, `minItems`, `maxItems`,
//! `anyOf`, `oneOf`, `allOf`. Keywords it does not know are ignored, as the
//! standard says; nesting is bounded so a hostile schema cannot recurse
//! without end.

use serde_json::Value;

/// Where the arguments break the schema, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON pointer into the arguments (`""` for the whole).
    pub path: String,
    /// What is wrong.
    pub message: String,
}

const MAX_DEPTH: usize = 64;

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        "number" => v.is_number(),
        "integer" => {
            v.as_i64().is_some()
                || v.as_u64().is_some()
                || v.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        _ => true,
    }
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Checks `value` against `schema`; the first violation found, in a
/// deterministic order (properties in the schema's order, then extra ones).
pub fn validate(schema: &Value, value: &Value) -> Result<(), Violation> {
    check(schema, value, "", 0)
}

fn fail(path: &str, message: impl Into<String>) -> Result<(), Violation> {
    Err(Violation {
        path: path.to_string(),
        message: message.into(),
    })
}

fn check(schema: &Value, v: &Value, path: &str, depth: usize) -> Result<(), Violation> {
    if depth > MAX_DEPTH {
        return fail(path, "the schema nests too deeply");
    }
    let s = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return fail(path, "no value is allowed here"),
        Value::Object(s) => s,
        _ => return Ok(()),
    };
    match s.get("type") {
        Some(Value::String(t)) if !type_ok(t, v) => {
            return fail(path, format!("expected {t}, got {}", describe(v)));
        }
        Some(Value::Array(ts)) if !ts.iter().any(|t| t.as_str().is_some_and(|t| type_ok(t, v))) => {
            let names: Vec<&str> = ts.iter().filter_map(Value::as_str).collect();
            return fail(
                path,
                format!("expected {}, got {}", names.join(" or "), describe(v)),
            );
        }
        _ => {}
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        return fail(path, format!("must be {c}"));
    }
    if let Some(Value::Array(options)) = s.get("enum")
        && !options.contains(v)
    {
        let shown: Vec<String> = options.iter().take(10).map(Value::to_string).collect();
        return fail(path, format!("must be one of {}", shown.join(", ")));
    }
    if let Some(x) = v.as_f64() {
        let num = |k: &str| s.get(k).and_then(Value::as_f64);
        if let Some(m) = num("minimum").filter(|m| x < *m) {
            return fail(path, format!("must be at least {m}"));
        }
        if let Some(m) = num("maximum").filter(|m| x > *m) {
            return fail(path, format!("must be at most {m}"));
        }
        if let Some(m) = num("exclusiveMinimum").filter(|m| x <= *m) {
            return fail(path, format!("must be more than {m}"));
        }
        if let Some(m) = num("exclusiveMaximum").filter(|m| x >= *m) {
            return fail(path, format!("must be less than {m}"));
        }
        if !x.is_finite() {
            return fail(path, "must be a finite number");
        }
    }
    if let Some(text) = v.as_str() {
        let n = text.chars().count() as u64;
        if let Some(m) = s
            .get("minLength")
            .and_then(Value::as_u64)
            .filter(|m| n < *m)
        {
            return fail(path, format!("must be at least {m} characters"));
        }
        if let Some(m) = s
            .get("maxLength")
            .and_then(Value::as_u64)
            .filter(|m| n > *m)
        {
            return fail(path, format!("must be at most {m} characters"));
        }
    }
    if let Some(items) = v.as_array() {
        let n = items.len() as u64;
        if let Some(m) = s.get("minItems").and_then(Value::as_u64).filter(|m| n < *m) {
            return fail(path, format!("needs at least {m} items"));
        }
        if let Some(m) = s.get("maxItems").and_then(Value::as_u64).filter(|m| n > *m) {
            return fail(path, format!("takes at most {m} items"));
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{path}/{i}"), depth + 1)?;
            }
        }
    }
    if let Some(obj) = v.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(req)) = s.get("required") {
            for r in req.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    return fail(&format!("{path}/{r}"), "is required");
                }
            }
        }
        if let Some(props) = props {
            for (k, ps) in props {
                if let Some(x) = obj.get(k) {
                    check(ps, x, &format!("{path}/{k}"), depth + 1)?;
                }
            }
        }
        match s.get("additionalProperties") {
            Some(Value::Bool(false)) => {
                if let Some(extra) = obj
                    .keys()
                    .find(|k| !props.is_some_and(|p| p.contains_key(*k)))
                {
                    return fail(
                        &format!("{path}/{extra}"),
                        "is not a parameter of this tool",
                    );
                }
            }
            Some(extra_schema @ Value::Object(_)) => {
                for (k, x) in obj {
                    if !props.is_some_and(|p| p.contains_key(k)) {
                        check(extra_schema, x, &format!("{path}/{k}"), depth + 1)?;
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for sub in all {
            check(sub, v, path, depth + 1)?;
        }
    }
    if let Some(Value::Array(any)) = s.get("anyOf")
        && !any.iter().any(|sub| check(sub, v, path, depth + 1).is_ok())
    {
        return fail(path, "fits none of the allowed forms");
    }
    if let Some(Value::Array(one)) = s.get("oneOf") {
        let n = one
            .iter()
            .filter(|sub| check(sub, v, path, depth + 1).is_ok())
            .count();
        if n != 1 {
            return fail(
                path,
                format!("must fit exactly one of the allowed forms (fits {n})"),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(value: Value, expect: &str) {
        let schema = json!({
            "type": "object",
            "properties": {
                "size": {"type": "string", "enum": ["small", "medium", "large"]},
                "shots": {"type": "integer", "minimum": 1, "maximum": 4},
                "drink": {"type": "string", "minLength": 1, "maxLength": 40},
                "extras": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "note": {"type": ["string", "null"]}
            },
            "required": ["drink"],
            "additionalProperties": false
        });
        let got = match validate(&schema, &value) {
            Ok(()) => "ok".to_string(),
            Err(v) => format!("{}: {}", v.path, v.message),
        };
        assert_eq!(got, expect, "value {value}");
    }

    #[test]
    fn arguments_against_a_tool_schema() {
        check(json!({"drink": "latte", "size": "large", "shots": 2}), "ok");
        check(
            json!({"drink": "latte", "note": null, "extras": ["oat milk"]}),
            "ok",
        );
        check(json!({"size": "large"}), "/drink: is required");
        check(
            json!({"drink": "latte", "shots": 9}),
            "/shots: must be at most 4",
        );
        check(
            json!({"drink": "latte", "shots": 1.5}),
            "/shots: expected integer, got a number",
        );
        check(
            json!({"drink": "latte", "size": "huge"}),
            "/size: must be one of \"small\", \"medium\", \"large\"",
        );
        check(
            json!({"drink": "latte", "sugar": true}),
            "/sugar: is not a parameter of this tool",
        );
        check(
            json!({"drink": ""}),
            "/drink: must be at least 1 characters",
        );
        check(
            json!({"drink": "x", "extras": ["a", 2]}),
            "/extras/1: expected string, got a number",
        );
        check(
            json!({"drink": "x", "extras": ["a", "b", "c", "d"]}),
            "/extras: takes at most 3 items",
        );
        check(
            json!({"drink": "x", "note": 3}),
            "/note: expected string or null, got a number",
        );
        check(json!("latte"), ": expected object, got a string");
    }

    #[test]
    fn combinators_and_hostile_schemas() {
        let s = json!({"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]});
        assert!(validate(&s, &json!("x")).is_ok());
        assert!(validate(&s, &json!(3)).is_ok());
        assert!(validate(&s, &json!(-3)).is_err());
        let one = json!({"oneOf": [{"type": "number"}, {"type": "integer"}]});
        assert!(validate(&one, &json!(2)).is_err(), "an integer is both");
        let mut deep = json!({"type": "array"});
        for _ in 0..200 {
            deep = json!({"type": "array", "items": deep});
        }
        let mut v = json!([]);
        for _ in 0..200 {
            v = json!([v]);
        }
        assert!(
            validate(&deep, &v).is_err(),
            "bounded depth, no stack overflow"
        );
        assert!(validate(&json!(false), &json!(1)).is_err());
        assert!(validate(&json!("not a schema"), &json!(1)).is_ok());
    }
}
