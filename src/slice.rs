//! The dimensions every probe result is sliced by: provider, operation, API version, region and
//! batch size bucket.
//!
//! A *slice* is one combination of those five labels. Metrics, the verdict and the status page all
//! speak in slices, so the names and their text forms live here and nowhere else. This module owns
//! no state; it only names things.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The label value used for `batch_size` when an operation touches no job (`list`, `models`).
pub const NO_BATCH_SIZE: &str = "none";

/// One kind of synthetic request the probe sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// `GET {version}/batches/{id}`: the whole job record, inline results included.
    Get,
    /// The same GET restricted by `fields=` to the state and counts: tells a broken job record
    /// apart from a body too large to serve.
    GetState,
    /// `GET {version}/batches?pageSize=N`.
    List,
    /// `GET {version}/models?pageSize=1`: the control. When it fails too, the fault is not
    /// specific to batches.
    Models,
    /// `GET download/{version}/files/{id}:download?alt=media`: a job's `responsesFile`.
    Download,
}

impl Operation {
    /// Every operation, in the order tables and pages show them.
    pub const ALL: [Operation; 5] = [
        Operation::Get,
        Operation::GetState,
        Operation::List,
        Operation::Models,
        Operation::Download,
    ];

    /// The label value, identical to the config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::GetState => "get_state",
            Operation::List => "list",
            Operation::Models => "models",
            Operation::Download => "download",
        }
    }

    /// Whether the operation is sent once per selected job (and so has a batch size bucket).
    pub fn is_per_job(self) -> bool {
        matches!(
            self,
            Operation::Get | Operation::GetState | Operation::Download
        )
    }

    /// Whether this is the control operation, which does not touch batches at all.
    pub fn is_control(self) -> bool {
        self == Operation::Models
    }

    /// Parses the label value back; `None` for anything else.
    pub fn from_label(label: &str) -> Option<Operation> {
        Operation::ALL.into_iter().find(|op| op.as_str() == label)
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The upper bounds that split jobs into batch size buckets, e.g. `[10, 100, 500]` gives
/// `1-10`, `11-100`, `101-500` and `501+`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizeBuckets {
    bounds: Vec<u64>,
}

impl SizeBuckets {
    /// Builds buckets from strictly increasing, non-zero upper bounds.
    pub fn new(bounds: Vec<u64>) -> Result<SizeBuckets, String> {
        if bounds.is_empty() {
            return Err("at least one bucket bound is needed".to_string());
        }
        if bounds[0] == 0 {
            return Err("bucket bounds must be at least 1".to_string());
        }
        if bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(format!(
                "bucket bounds must be strictly increasing, got {bounds:?}"
            ));
        }
        Ok(SizeBuckets { bounds })
    }

    /// The bucket label a job of `size` requests falls in.
    pub fn label(&self, size: u64) -> String {
        let mut lower = 1;
        for &upper in &self.bounds {
            if size <= upper {
                return format!("{lower}-{upper}");
            }
            lower = upper + 1;
        }
        format!("{lower}+")
    }

    /// Every bucket label, smallest first, the open-ended one last.
    pub fn labels(&self) -> Vec<String> {
        let mut labels: Vec<String> = self.bounds.iter().map(|&b| self.label(b)).collect();
        labels.push(self.label(self.bounds[self.bounds.len() - 1] + 1));
        labels
    }

    /// The configured upper bounds.
    pub fn bounds(&self) -> &[u64] {
        &self.bounds
    }

    /// The position of a bucket label in size order, `None` for unknown labels and `none`.
    pub fn rank(&self, label: &str) -> Option<usize> {
        self.labels().iter().position(|l| l == label)
    }
}

impl Default for SizeBuckets {
    fn default() -> SizeBuckets {
        SizeBuckets {
            bounds: vec![10, 100, 500],
        }
    }
}

/// The five labels that identify a slice. Every metric about probe results carries them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SliceKey {
    /// The provider family, e.g. `gemini`.
    pub provider: String,
    /// The operation probed.
    pub operation: Operation,
    /// The API version in the URL path, e.g. `v1beta`.
    pub api_version: String,
    /// The region label: where the probe stands, or the regional endpoint it talks to.
    pub region: String,
    /// The batch size bucket label, or [`NO_BATCH_SIZE`].
    pub batch_size: String,
}

impl fmt::Display for SliceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/{}/{}",
            self.provider, self.operation, self.api_version, self.region, self.batch_size
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_labels_follow_bounds() {
        let buckets = SizeBuckets::default();

        assert_eq!(buckets.label(1), "1-10");
        assert_eq!(buckets.label(10), "1-10");
        assert_eq!(buckets.label(11), "11-100");
        assert_eq!(buckets.label(500), "101-500");
        assert_eq!(buckets.label(501), "501+");
        assert_eq!(buckets.labels(), ["1-10", "11-100", "101-500", "501+"]);
        assert_eq!(buckets.rank("101-500"), Some(2));
        assert_eq!(buckets.rank("none"), None);
    }

    #[test]
    fn bucket_bounds_are_validated() {
        assert!(SizeBuckets::new(vec![]).is_err());
        assert!(SizeBuckets::new(vec![0, 5]).is_err());
        assert!(SizeBuckets::new(vec![10, 10]).is_err());
        assert!(SizeBuckets::new(vec![5, 50]).is_ok());
    }

    #[test]
    fn operation_labels_round_trip() {
        for op in Operation::ALL {
            assert_eq!(Operation::from_label(op.as_str()), Some(op));
        }
        assert_eq!(Operation::from_label("create"), None);
    }
}
