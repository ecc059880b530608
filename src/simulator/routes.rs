//! Which API call a request is: path and method parsing for the Gemini Batch API's URL shapes,
//! whose last segment often carries a `:verb` suffix that ordinary routers do not split.

use http::Method;

use super::faults::SimOperation;

/// One recognised API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    /// `POST {v}/models/{model}:batchGenerateContent`.
    Create { version: String, model: String },
    /// `GET {v}/batches/{id}`.
    Get { version: String, id: String },
    /// `GET {v}/batches`.
    List { version: String },
    /// `POST {v}/batches/{id}:cancel`.
    Cancel { version: String, id: String },
    /// `DELETE {v}/batches/{id}`.
    Delete { version: String, id: String },
    /// `GET {v}/models`.
    Models { version: String },
    /// `GET {v}/models/{model}`.
    Model { version: String, model: String },
    /// `GET download/{v}/files/{file}:download`.
    Download { version: String, file: String },
}

impl Route {
    /// Parses a method and path; `None` for anything the Batch API does not have.
    pub(crate) fn parse(method: &Method, path: &str) -> Option<Route> {
        let path = path.replace("%3A", ":").replace("%3a", ":");
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();

        let route = match (method.as_str(), segments.as_slice()) {
            ("GET", ["download", version, "files", file]) => Route::Download {
                version: version.to_string(),
                file: file.strip_suffix(":download")?.to_string(),
            },
            ("GET", [version, "batches"]) => Route::List {
                version: version.to_string(),
            },
            ("GET", [version, "batches", id]) if !id.contains(':') => Route::Get {
                version: version.to_string(),
                id: id.to_string(),
            },
            ("DELETE", [version, "batches", id]) if !id.contains(':') => Route::Delete {
                version: version.to_string(),
                id: id.to_string(),
            },
            ("POST", [version, "batches", target]) => Route::Cancel {
                version: version.to_string(),
                id: target.strip_suffix(":cancel")?.to_string(),
            },
            ("GET", [version, "models"]) => Route::Models {
                version: version.to_string(),
            },
            ("GET", [version, "models", model]) if !model.contains(':') => Route::Model {
                version: version.to_string(),
                model: model.to_string(),
            },
            ("POST", [version, "models", target]) => Route::Create {
                version: version.to_string(),
                model: target.strip_suffix(":batchGenerateContent")?.to_string(),
            },
            _ => return None,
        };

        is_api_version(route.version()).then_some(route)
    }

    /// The API version path segment.
    pub(crate) fn version(&self) -> &str {
        match self {
            Route::Create { version, .. }
            | Route::Get { version, .. }
            | Route::List { version }
            | Route::Cancel { version, .. }
            | Route::Delete { version, .. }
            | Route::Models { version }
            | Route::Model { version, .. }
            | Route::Download { version, .. } => version,
        }
    }

    /// The operation for fault matching; a GET of one job with `fields` is `get_state`.
    pub(crate) fn operation(&self, has_fields: bool) -> SimOperation {
        match self {
            Route::Create { .. } => SimOperation::Create,
            Route::Get { .. } if has_fields => SimOperation::GetState,
            Route::Get { .. } => SimOperation::Get,
            Route::List { .. } => SimOperation::List,
            Route::Cancel { .. } => SimOperation::Cancel,
            Route::Delete { .. } => SimOperation::Delete,
            Route::Models { .. } | Route::Model { .. } => SimOperation::Models,
            Route::Download { .. } => SimOperation::Download,
        }
    }

    /// The job id the call is about, if any.
    pub(crate) fn job_id(&self) -> Option<&str> {
        match self {
            Route::Get { id, .. } | Route::Cancel { id, .. } | Route::Delete { id, .. } => Some(id),
            Route::Download { file, .. } => file.strip_prefix("batch-"),
            _ => None,
        }
    }
}

/// `v1`, `v1beta`, `v1alpha`, `v2`...: a `v` and a digit.
fn is_api_version(segment: &str) -> bool {
    let mut chars = segment.chars();
    chars.next() == Some('v') && chars.next().is_some_and(|c| c.is_ascii_digit())
}

/// The query parameters the simulator reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Query {
    pub(crate) fields: Option<String>,
    pub(crate) page_size: Option<String>,
    pub(crate) page_token: Option<String>,
    pub(crate) alt: Option<String>,
}

impl Query {
    /// Parses a raw query string, percent-decoding values. Unknown parameters are ignored.
    pub(crate) fn parse(raw: Option<&str>) -> Query {
        let mut query = Query::default();
        for pair in raw
            .unwrap_or_default()
            .split('&')
            .filter(|pair| !pair.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = Some(percent_decode(value));
            match key {
                "fields" => query.fields = value,
                "pageSize" | "page_size" => query.page_size = value,
                "pageToken" | "page_token" => query.page_token = value,
                "alt" => query.alt = value,
                _ => {}
            }
        }
        query
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok();
        match (bytes[i], hex().and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_shape_parses() {
        let cases = [
            (
                Method::POST,
                "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
                SimOperation::Create,
            ),
            (Method::GET, "/v1beta/batches/abc", SimOperation::Get),
            (Method::GET, "/v1/batches", SimOperation::List),
            (
                Method::POST,
                "/v1beta/batches/abc:cancel",
                SimOperation::Cancel,
            ),
            (Method::DELETE, "/v1beta/batches/abc", SimOperation::Delete),
            (Method::GET, "/v1beta/models", SimOperation::Models),
            (
                Method::GET,
                "/v1beta/models/gemini-2.5-flash",
                SimOperation::Models,
            ),
            (
                Method::GET,
                "/download/v1beta/files/batch-abc:download",
                SimOperation::Download,
            ),
        ];
        for (method, path, operation) in cases {
            let route = Route::parse(&method, path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!(route.operation(false), operation, "{path}");
        }
    }

    #[test]
    fn unknown_shapes_and_versions_are_rejected() {
        assert_eq!(Route::parse(&Method::GET, "/beta/batches"), None);
        assert_eq!(Route::parse(&Method::PUT, "/v1beta/batches/abc"), None);
        assert_eq!(
            Route::parse(&Method::POST, "/v1beta/batches/abc:pause"),
            None
        );
        assert_eq!(Route::parse(&Method::GET, "/v1beta/batches/abc/x"), None);
    }

    #[test]
    fn download_names_its_job() {
        let route = Route::parse(&Method::GET, "/download/v1/files/batch-xyz%3Adownload").unwrap();

        assert_eq!(route.job_id(), Some("xyz"));
        assert_eq!(route.version(), "v1");
    }

    #[test]
    fn query_is_decoded() {
        let query = Query::parse(Some(
            "fields=name%2Cmetadata.state&pageSize=2&alt=media&x=1",
        ));

        assert_eq!(query.fields.as_deref(), Some("name,metadata.state"));
        assert_eq!(query.page_size.as_deref(), Some("2"));
        assert_eq!(query.alt.as_deref(), Some("media"));
    }
}
