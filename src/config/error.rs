//! Config errors. Each names the file and, where it can, the line, column and key at fault.

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The YAML is malformed, a key is unknown or a value has the wrong type.
    #[error("{}: {message}", Located(path, *line, *column))]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line, when known.
        line: Option<usize>,
        /// 1-based column, when known.
        column: Option<usize>,
        /// The parser's message, which starts with the key path (e.g. `targets[0].interval`).
        message: String,
    },
    /// The YAML is well formed but a value is not acceptable.
    #[error("{}: {key}: {message}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The key path, e.g. `targets[1].base_url`.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// Wraps a YAML parser error with the file it came from.
    pub(crate) fn syntax(path: &Path, err: serde_norway::Error) -> ConfigError {
        let location = err.location();
        let mut message = err.to_string();

        // The parser appends " at line L column C"; the location is shown up front instead.
        if let Some(at) = message.rfind(" at line ") {
            message.truncate(at);
        }

        ConfigError::Syntax {
            path: path.to_path_buf(),
            line: location.as_ref().map(|l| l.line()),
            column: location.as_ref().map(|l| l.column()),
            message,
        }
    }
}

/// Prints `file:line:column`, leaving out what is unknown.
struct Located<'a>(&'a Path, Option<usize>, Option<usize>);

impl fmt::Display for Located<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0.display())?;
        if let Some(line) = self.1 {
            write!(f, ":{line}")?;
            if let Some(column) = self.2 {
                write!(f, ":{column}")?;
            }
        }
        Ok(())
    }
}
