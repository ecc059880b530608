//! The model catalogue the simulator serves on `GET {v}/models`: the probe's control request,
//! which touches no batch at all.

use serde_json::{Value, json};

use super::wire::Answer;

/// `(id, display name, input token limit, output token limit)` of each model served.
const MODELS: &[(&str, &str, u64, u64)] = &[
    ("gemini-2.5-flash", "Gemini 2.5 Flash", 1_048_576, 65_536),
    ("gemini-2.5-pro", "Gemini 2.5 Pro", 1_048_576, 65_536),
    (
        "gemini-2.5-flash-lite",
        "Gemini 2.5 Flash-Lite",
        1_048_576,
        65_536,
    ),
    (
        "gemini-2.5-flash-image",
        "Gemini 2.5 Flash Image",
        32_768,
        32_768,
    ),
    ("gemini-embedding-001", "Gemini Embedding 001", 2_048, 1),
];

/// The largest page the list hands out.
const MAX_PAGE_SIZE: usize = 1000;
/// The page size when the request gives none.
const DEFAULT_PAGE_SIZE: usize = 50;

fn model(entry: &(&str, &str, u64, u64)) -> Value {
    let (id, display_name, input_limit, output_limit) = *entry;
    let methods: &[&str] = if id.contains("embedding") {
        &[
            "embedContent",
            "countTextTokens",
            "countTokens",
            "asyncBatchEmbedContent",
        ]
    } else {
        &[
            "generateContent",
            "countTokens",
            "createCachedContent",
            "batchGenerateContent",
        ]
    };
    json!({
        "name": format!("models/{id}"),
        "version": "001",
        "displayName": display_name,
        "description": format!("{display_name}, as served by the batchprobe simulator."),
        "inputTokenLimit": input_limit,
        "outputTokenLimit": output_limit,
        "supportedGenerationMethods": methods,
        "temperature": 1,
        "topP": 0.95,
        "topK": 64,
        "maxTemperature": 2
    })
}

/// `GET {v}/models?pageSize=N&pageToken=T`.
pub(crate) fn list(page_size: Option<&str>, page_token: Option<&str>) -> Answer {
    let (offset, size) = match page(page_size, page_token) {
        Ok(page) => page,
        Err(answer) => return answer,
    };

    let models: Vec<Value> = MODELS.iter().skip(offset).take(size).map(model).collect();
    let mut body = json!({ "models": models });
    if offset + size < MODELS.len() {
        body["nextPageToken"] = json!(page_token_for(offset + size));
    }
    Answer::json(&body)
}

/// `GET {v}/models/{id}`.
pub(crate) fn get(id: &str) -> Answer {
    match MODELS.iter().find(|entry| entry.0 == id) {
        Some(entry) => Answer::json(&model(entry)),
        None => Answer::error(
            404,
            &format!("models/{id} is not found for this API version."),
        ),
    }
}

/// Reads `pageSize` and `pageToken` into an offset and a size, or a 400 answer.
pub(crate) fn page(
    page_size: Option<&str>,
    page_token: Option<&str>,
) -> Result<(usize, usize), Answer> {
    let size = match page_size {
        None | Some("") => DEFAULT_PAGE_SIZE,
        Some(text) => match text.parse::<usize>() {
            Ok(0) => DEFAULT_PAGE_SIZE,
            Ok(size) => size.min(MAX_PAGE_SIZE),
            Err(_) => return Err(Answer::error(400, &format!("Invalid page size: {text:?}."))),
        },
    };
    let offset = match page_token {
        None | Some("") => 0,
        Some(token) => {
            offset_of(token).ok_or_else(|| Answer::error(400, "The page token is not valid."))?
        }
    };
    Ok((offset, size))
}

/// An opaque-looking token for the page that starts at `offset`.
pub(crate) fn page_token_for(offset: usize) -> String {
    format!("CgZzaW1wYWdl{offset:08x}")
}

fn offset_of(token: &str) -> Option<usize> {
    usize::from_str_radix(token.strip_prefix("CgZzaW1wYWdl")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_page_through() {
        let first: Value = serde_json::from_slice(&list(Some("2"), None).body).unwrap();
        let token = first["nextPageToken"].as_str().unwrap();
        let last: Value = serde_json::from_slice(&list(Some("10"), Some(token)).body).unwrap();

        assert_eq!(first["models"].as_array().unwrap().len(), 2);
        assert_eq!(last["models"].as_array().unwrap().len(), MODELS.len() - 2);
        assert!(last.get("nextPageToken").is_none());
    }

    #[test]
    fn bad_paging_is_invalid_argument() {
        assert_eq!(list(Some("x"), None).status.as_u16(), 400);
        assert_eq!(list(None, Some("nonsense")).status.as_u16(), 400);
        assert_eq!(get("gemini-0").status.as_u16(), 404);
    }
}
