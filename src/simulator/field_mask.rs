//! Google's partial-response parameter: `fields=name,metadata.state,metadata.batchStats`.
//!
//! A mask is a comma-separated list of paths. A path is field names joined by `.` or `/`, and may
//! end in a parenthesised sub-list: `operations(name,metadata.state)`. Arrays are transparent: a
//! mask below an array applies to each element. Names may be written in camelCase or snake_case.
//! Fields the mask names but the body lacks are simply absent from the answer.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A parsed field mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldMask {
    root: Selection,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Selection {
    /// The whole value.
    All,
    /// Only these members (each with its own selection).
    Some(BTreeMap<String, Selection>),
}

impl FieldMask {
    /// Parses a mask; the error says what is wrong and where.
    pub fn parse(text: &str) -> Result<FieldMask, String> {
        let mut parser = Parser {
            chars: text.chars().collect(),
            at: 0,
        };
        let mut root = BTreeMap::new();

        parser.list(&mut root)?;

        if parser.at != parser.chars.len() {
            return Err(format!(
                "unexpected `{}` at position {}",
                parser.chars[parser.at], parser.at
            ));
        }
        if root.is_empty() {
            return Err("the field mask is empty".to_string());
        }
        Ok(FieldMask {
            root: Selection::Some(root),
        })
    }

    /// The parts of `value` the mask selects.
    pub fn apply(&self, value: &Value) -> Value {
        select(value, &self.root)
    }
}

fn select(value: &Value, selection: &Selection) -> Value {
    let Selection::Some(members) = selection else {
        return value.clone();
    };
    match value {
        Value::Object(object) => {
            let mut out = Map::new();
            for (name, sub) in members {
                if let Some(member) = object.get(name) {
                    out.insert(name.clone(), select(member, sub));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| select(item, selection)).collect())
        }
        scalar => scalar.clone(),
    }
}

/// Adds `path` (with `leaf` below its end) to `members`, widening to `All` where paths overlap.
fn insert(members: &mut BTreeMap<String, Selection>, path: &[String], leaf: Selection) {
    let (first, rest) = path.split_first().expect("a path has at least one name");
    if rest.is_empty() {
        let merged = match (members.remove(first), leaf) {
            (Some(Selection::All), _) | (_, Selection::All) => Selection::All,
            (Some(Selection::Some(mut old)), Selection::Some(new)) => {
                for (name, sub) in new {
                    insert(&mut old, &[name], sub);
                }
                Selection::Some(old)
            }
            (None, leaf) => leaf,
        };
        members.insert(first.clone(), merged);
        return;
    }
    match members
        .entry(first.clone())
        .or_insert_with(|| Selection::Some(BTreeMap::new()))
    {
        Selection::All => {}
        Selection::Some(sub) => insert(sub, rest, leaf),
    }
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    /// list := item (',' item)*
    fn list(&mut self, members: &mut BTreeMap<String, Selection>) -> Result<(), String> {
        loop {
            self.item(members)?;
            if self.peek() != Some(',') {
                return Ok(());
            }
            self.at += 1;
        }
    }

    /// item := name (('.' | '/') name)* ('(' list ')')?
    fn item(&mut self, members: &mut BTreeMap<String, Selection>) -> Result<(), String> {
        let mut path = vec![self.name()?];
        while matches!(self.peek(), Some('.') | Some('/')) {
            self.at += 1;
            path.push(self.name()?);
        }

        let mut leaf = Selection::All;
        if self.peek() == Some('(') {
            self.at += 1;
            let mut sub = BTreeMap::new();
            self.list(&mut sub)?;
            if self.peek() != Some(')') {
                return Err(format!("missing `)` at position {}", self.at));
            }
            self.at += 1;
            leaf = Selection::Some(sub);
        }

        insert(members, &path, leaf);
        Ok(())
    }

    fn name(&mut self) -> Result<String, String> {
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '@')
        {
            self.at += 1;
        }
        if start == self.at {
            return Err(format!("expected a field name at position {start}"));
        }
        let raw: String = self.chars[start..self.at].iter().collect();
        Ok(camel_case(&raw))
    }
}

/// `batch_stats` → `batchStats`; camelCase passes through.
fn camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' && !out.is_empty() {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn operation() -> Value {
        json!({
            "name": "batches/a",
            "metadata": {
                "state": "BATCH_STATE_SUCCEEDED",
                "batchStats": {"requestCount": "10", "successfulRequestCount": "10"},
                "output": {"inlinedResponses": {"inlinedResponses": [1, 2]}}
            },
            "done": true
        })
    }

    #[test]
    fn dotted_paths_select_members() {
        let mask = FieldMask::parse("name,metadata.state,metadata.batchStats").unwrap();

        let out = mask.apply(&operation());

        assert_eq!(
            out,
            json!({
                "name": "batches/a",
                "metadata": {
                    "state": "BATCH_STATE_SUCCEEDED",
                    "batchStats": {"requestCount": "10", "successfulRequestCount": "10"}
                }
            })
        );
    }

    #[test]
    fn parentheses_and_arrays() {
        let body = json!({"operations": [operation(), operation()], "nextPageToken": "x"});
        let mask = FieldMask::parse("operations(name,metadata/state),nextPageToken").unwrap();

        let out = mask.apply(&body);

        assert_eq!(out["nextPageToken"], "x");
        assert_eq!(
            out["operations"][1],
            json!({"name": "batches/a", "metadata": {"state": "BATCH_STATE_SUCCEEDED"}})
        );
    }

    #[test]
    fn snake_case_and_overlap() {
        let mask = FieldMask::parse("metadata.batch_stats.request_count,metadata").unwrap();

        let out = mask.apply(&operation());

        assert_eq!(out["metadata"], operation()["metadata"]);
    }

    #[test]
    fn bad_masks_are_rejected() {
        assert!(FieldMask::parse("").is_err());
        assert!(FieldMask::parse("name,").is_err());
        assert!(FieldMask::parse("a(b").is_err());
        assert!(FieldMask::parse("a)").is_err());
    }
}
