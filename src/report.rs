//! Terminal tables for `batchprobe once` and `batchprobe demo`: one row per slice, then the
//! verdict. Plain text, aligned columns, no colour codes, so it reads the same in a log.

use std::fmt::Write;

use crate::slice::{Operation, SizeBuckets};
use crate::verdict::{SliceReport, Verdict};

const HEADERS: [&str; 10] = [
    "OPERATION",
    "BATCH SIZE",
    "API VERSION",
    "REGION",
    "REQUESTS",
    "FAILED",
    "ERROR %",
    "TOP FAILURE",
    "FAIL LATENCY",
    "STATE",
];

/// The slice table followed by the verdict's scope and headline.
pub fn render(verdict: &Verdict, buckets: &SizeBuckets) -> String {
    let mut slices: Vec<&SliceReport> = verdict.slices.iter().collect();
    slices.sort_by_key(|s| {
        let operation = Operation::ALL.iter().position(|&op| op == s.operation);
        let bucket = buckets.rank(&s.batch_size).map_or(0, |rank| rank + 1);
        (
            s.provider.clone(),
            operation,
            bucket,
            s.region.clone(),
            s.api_version.clone(),
        )
    });

    let rows: Vec<[String; 10]> = slices.iter().map(|s| row(s)).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }

    let mut out = String::new();
    write_row(&mut out, &HEADERS.map(str::to_string), &widths);
    for row in &rows {
        write_row(&mut out, row, &widths);
    }
    if rows.is_empty() {
        out.push_str("(no requests in the window yet)\n");
    }
    let _ = writeln!(
        out,
        "\nverdict: {} (since {})",
        verdict.scope, verdict.since
    );
    let _ = writeln!(out, "{}", verdict.headline);
    out
}

fn row(slice: &SliceReport) -> [String; 10] {
    [
        slice.operation.to_string(),
        slice.batch_size.clone(),
        slice.api_version.clone(),
        slice.region.clone(),
        slice.requests.to_string(),
        slice.failures.to_string(),
        format!("{:.1}", slice.error_ratio * 100.0),
        slice
            .dominant_failure
            .clone()
            .unwrap_or_else(|| "-".to_string()),
        slice
            .failure_latency_median_seconds
            .map_or_else(|| "-".to_string(), |s| format!("{s:.2}s")),
        slice.state.as_str().to_string(),
    ]
}

fn write_row(out: &mut String, cells: &[String; 10], widths: &[usize; 10]) {
    let line: Vec<String> = cells
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (cell, &width))| {
            // Counts and ratios are right-aligned, names left-aligned.
            if (4..=6).contains(&i) {
                format!("{cell:>width$}")
            } else {
                format!("{cell:<width$}")
            }
        })
        .collect();
    let _ = writeln!(out, "{}", line.join("  ").trim_end());
}
