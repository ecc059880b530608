//! API keys, kept in a type that cannot be printed.
//!
//! [`ApiKey`] redacts itself in `Debug` and `Display` and offers no `Serialize`, so a key cannot
//! reach a log line, an error message, a metric label or the config echo by accident. The only
//! way out is [`ApiKey::expose`], which the request builder calls to fill one header.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The text shown wherever a key would have been printed.
pub const REDACTED: &str = "<redacted>";

/// An API key. Printing it shows [`REDACTED`].
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key. Surrounding whitespace (a trailing newline in a secret file) is dropped.
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into().trim().to_string())
    }

    /// The key itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the key is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTED})")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

/// Where a key comes from, as written in the config file: `{ env: VAR }` or `{ file: PATH }`.
/// The key is never written in the config itself.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "KeySourceMap")]
pub enum KeySource {
    /// The name of an environment variable that holds the key.
    Env(String),
    /// A file whose whole content (trimmed) is the key, e.g. a mounted secret.
    File(PathBuf),
}

/// The map form written in YAML; exactly one of its keys must be set.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeySourceMap {
    env: Option<String>,
    file: Option<PathBuf>,
}

impl TryFrom<KeySourceMap> for KeySource {
    type Error = &'static str;

    fn try_from(map: KeySourceMap) -> Result<KeySource, Self::Error> {
        match (map.env, map.file) {
            (Some(var), None) => Ok(KeySource::Env(var)),
            (None, Some(path)) => Ok(KeySource::File(path)),
            _ => Err("api_key needs exactly one of `env: VARIABLE` or `file: PATH`"),
        }
    }
}

/// Why a key could not be read. The message names the source, never the key.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The environment variable is unset or not Unicode.
    #[error("environment variable {var} is not set (it should hold the API key)")]
    EnvMissing {
        /// The variable's name.
        var: String,
    },
    /// The key file could not be read.
    #[error("cannot read API key file {path}")]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The source exists but holds an empty key.
    #[error("API key from {source_name} is empty")]
    Empty {
        /// `env VAR` or `file PATH`.
        source_name: String,
    },
}

impl KeySource {
    /// Reads the key now. Called at load and at every reload, so a rotated secret file is
    /// picked up by a reload.
    pub fn load(&self) -> Result<ApiKey, KeyError> {
        let key = match self {
            KeySource::Env(var) => std::env::var(var)
                .map(ApiKey::new)
                .map_err(|_| KeyError::EnvMissing { var: var.clone() })?,
            KeySource::File(path) => read_key_file(path)?,
        };

        if key.is_empty() {
            return Err(KeyError::Empty {
                source_name: self.to_string(),
            });
        }
        Ok(key)
    }
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Env(var) => write!(f, "env {var}"),
            KeySource::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

fn read_key_file(path: &Path) -> Result<ApiKey, KeyError> {
    std::fs::read_to_string(path)
        .map(ApiKey::new)
        .map_err(|source| KeyError::FileUnreadable {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_never_prints() {
        let key = ApiKey::new("AIzaSy-very-secret\n");

        assert_eq!(key.expose(), "AIzaSy-very-secret");
        assert!(!format!("{key:?}").contains("secret"));
        assert!(!format!("{key}").contains("secret"));
        assert!(!format!("{:?}", Some(&key)).contains("secret"));
    }

    #[test]
    fn missing_env_names_the_variable() {
        let source = KeySource::Env("BATCHPROBE_TEST_SURELY_UNSET_VAR".to_string());

        let err = source.load().unwrap_err();

        assert!(err.to_string().contains("BATCHPROBE_TEST_SURELY_UNSET_VAR"));
    }

    #[test]
    fn key_file_is_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "k-123\n").unwrap();

        let key = KeySource::File(path).load().unwrap();

        assert_eq!(key.expose(), "k-123");
    }
}
