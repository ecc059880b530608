//! The matrix of slices: one row per operation and batch size bucket, one column per region
//! and API version, each cell coloured by the slice's error ratio and marked by its state.
//!
//! Only builds the table markup; colours and hatching are classes defined in `style`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use crate::slice::{NO_BATCH_SIZE, Operation};
use crate::verdict::{SliceReport, Verdict};

use super::{escape, percent, short_seconds};

/// A row: provider (shown only when there are several), operation, batch size bucket.
type RowKey = (String, usize, (u64, String));

/// A column: region, API version.
type ColumnKey = (String, String);

/// Renders the matrix as an HTML table; a short note when there are no slices.
pub(super) fn render(verdict: &Verdict) -> String {
    if verdict.slices.is_empty() {
        return "<p class=\"empty\">No probe results in the window yet.</p>\n".to_string();
    }

    let mut cells: BTreeMap<(RowKey, ColumnKey), &SliceReport> = BTreeMap::new();
    for slice in &verdict.slices {
        cells.insert((row_key(slice), column_key(slice)), slice);
    }
    let rows: BTreeSet<&RowKey> = cells.keys().map(|(row, _)| row).collect();
    let columns: BTreeSet<&ColumnKey> = cells.keys().map(|(_, column)| column).collect();
    let providers: BTreeSet<&str> = verdict.slices.iter().map(|s| s.provider.as_str()).collect();

    // Two header rows: regions spanning their versions, then the versions.
    let mut html = String::from(
        "<table class=\"matrix\">\n<thead>\n<tr><th rowspan=\"2\" \
         class=\"corner\">operation</th><th rowspan=\"2\" class=\"corner\">batch size</th>",
    );
    let mut regions: Vec<(&str, usize)> = Vec::new();
    for (region, _) in &columns {
        match regions.last_mut() {
            Some((last, span)) if *last == region.as_str() => *span += 1,
            _ => regions.push((region.as_str(), 1)),
        }
    }
    for (region, span) in &regions {
        let _ = write!(
            html,
            "<th colspan=\"{span}\" class=\"region\">{}</th>",
            escape(region)
        );
    }
    html.push_str("</tr>\n<tr>");
    for (_, version) in &columns {
        let _ = write!(html, "<th class=\"version\">{}</th>", escape(version));
    }
    html.push_str("</tr>\n</thead>\n<tbody>\n");

    // One body row per operation and bucket; the operation cell spans its buckets.
    let rows: Vec<&RowKey> = rows.into_iter().collect();
    for (index, &row) in rows.iter().enumerate() {
        let (provider, operation, (_, batch_size)) = row;
        let first_of_operation =
            index == 0 || (&rows[index - 1].0, rows[index - 1].1) != (provider, *operation);
        if first_of_operation && index > 0 {
            let gap = columns.len() + 2;
            let _ = write!(html, "<tr class=\"gap\"><td colspan=\"{gap}\"></td></tr>");
        }
        html.push_str("<tr>");
        if first_of_operation {
            let span = rows
                .iter()
                .filter(|r| (&r.0, r.1) == (provider, *operation))
                .count();
            let name = operation_name(*operation);
            let label = if providers.len() > 1 {
                format!("{provider} {name}")
            } else {
                name
            };
            let _ = write!(
                html,
                "<th rowspan=\"{span}\" class=\"operation\">{}</th>",
                escape(&label)
            );
        }
        let bucket = if batch_size == NO_BATCH_SIZE {
            "–"
        } else {
            batch_size.as_str()
        };
        let _ = write!(html, "<th class=\"bucket\">{}</th>", escape(bucket));

        for &column in &columns {
            match cells.get(&(row.clone(), column.clone())) {
                Some(slice) => html.push_str(&cell(slice, verdict.failure_threshold)),
                None => html.push_str("<td class=\"cell absent\">not probed</td>"),
            }
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
    html
}

/// One coloured cell: the error ratio large, requests and failure small, the slice in the title.
fn cell(slice: &SliceReport, threshold: f64) -> String {
    let detail = match (
        &slice.dominant_failure,
        slice.failure_latency_median_seconds,
    ) {
        (Some(failure), Some(seconds)) if slice.failures > 0 => {
            format!("{failure} · {}", short_seconds(seconds))
        }
        _ => format!("{} req", slice.requests),
    };
    let title = format!(
        "{}/{}/{}/{}/{}: {} of {} requests failed, {}",
        slice.provider,
        slice.operation,
        slice.api_version,
        slice.region,
        slice.batch_size,
        slice.failures,
        slice.requests,
        slice.state.as_str()
    );
    format!(
        "<td class=\"cell {ratio} {state}\" title=\"{title}\"><span class=\"pct\">{pct}</span>\
         <span class=\"detail\">{detail}</span></td>",
        ratio = ratio_class(slice.error_ratio, threshold),
        state = slice.state.as_str(),
        title = escape(&title),
        pct = percent(slice.error_ratio),
        detail = escape(&detail),
    )
}

/// The colour class of an error ratio: `r0` none, `r1` under half the threshold, `r2` under
/// the threshold, `r3` under half, `r4` the rest.
pub(super) fn ratio_class(ratio: f64, threshold: f64) -> &'static str {
    if ratio <= 0.0 {
        "r0"
    } else if ratio < threshold / 2.0 {
        "r1"
    } else if ratio < threshold {
        "r2"
    } else if ratio < 0.5 {
        "r3"
    } else {
        "r4"
    }
}

fn row_key(slice: &SliceReport) -> RowKey {
    let operation = Operation::ALL
        .iter()
        .position(|&op| op == slice.operation)
        .unwrap_or(usize::MAX);
    (
        slice.provider.clone(),
        operation,
        bucket_order(&slice.batch_size),
    )
}

fn column_key(slice: &SliceReport) -> ColumnKey {
    (slice.region.clone(), slice.api_version.clone())
}

fn operation_name(position: usize) -> String {
    Operation::ALL
        .get(position)
        .map_or("?", |op| op.as_str())
        .to_string()
}

/// Buckets by their lower bound, read from the label ("11-100" → 11, "501+" → 501), so rows
/// run from small jobs to large ones without knowing the configured bounds. `none` comes first.
fn bucket_order(label: &str) -> (u64, String) {
    if label == NO_BATCH_SIZE {
        return (0, label.to_string());
    }
    let digits: String = label.chars().take_while(char::is_ascii_digit).collect();
    (digits.parse().unwrap_or(u64::MAX), label.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_sort_by_size_not_by_text() {
        let mut labels = vec!["501+", "11-100", "none", "1-10", "101-500"];
        labels.sort_by_key(|l| bucket_order(l));
        assert_eq!(labels, ["none", "1-10", "11-100", "101-500", "501+"]);
    }

    #[test]
    fn ratio_classes_step_around_the_threshold() {
        assert_eq!(ratio_class(0.0, 0.2), "r0");
        assert_eq!(ratio_class(0.05, 0.2), "r1");
        assert_eq!(ratio_class(0.15, 0.2), "r2");
        assert_eq!(ratio_class(0.3, 0.2), "r3");
        assert_eq!(ratio_class(1.0, 0.2), "r4");
    }
}
