//! The status page: one server-rendered HTML page that shows the verdict at a glance.
//!
//! The headline comes first and large, then the matrix of slices coloured by error ratio
//! (`matrix`), the evidence behind the scope, and every slice's numbers. The page has no
//! JavaScript and loads nothing from elsewhere: the CSS is inline (`style`) and it refreshes
//! itself with a `<meta http-equiv="refresh">`. Every piece of text from the verdict is
//! escaped. Serving the page is the server's job; this module only writes the string.

mod matrix;
mod style;

use std::fmt::Write;
use std::time::Duration;

use crate::verdict::{Scope, SliceReport, SliceState, Verdict};

/// How the page is framed; the verdict supplies everything else.
#[derive(Debug, Clone)]
pub struct PageOptions {
    /// The page title prefix, e.g. the deployment's name.
    pub title: String,
    /// Seconds between automatic reloads.
    pub refresh_seconds: u32,
}

impl Default for PageOptions {
    fn default() -> PageOptions {
        PageOptions {
            title: "batchprobe".to_string(),
            refresh_seconds: 10,
        }
    }
}

/// Renders the page for `verdict` with the default options.
pub fn render(verdict: &Verdict) -> String {
    render_with(verdict, &PageOptions::default())
}

/// Renders the page for `verdict`.
pub fn render_with(verdict: &Verdict, options: &PageOptions) -> String {
    let mut page = String::with_capacity(32 * 1024);
    let scope_class = banner_class(verdict);

    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"refresh\" content=\"{refresh}\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}: {scope}</title>\n<style>{css}</style>\n</head>\n<body>\n",
        refresh = options.refresh_seconds,
        title = escape(&options.title),
        scope = escape(verdict.scope.as_str()),
        css = style::CSS,
    );

    // The banner: scope, headline, and when.
    let _ = write!(
        page,
        "<header class=\"banner {scope_class}\">\n<div class=\"scope\">{label}</div>\n\
         <h1>{headline}</h1>\n<p class=\"when\">{when}</p>\n</header>\n<main>\n",
        label = escape(&scope_label(verdict.scope)),
        headline = keep_units(&escape(&verdict.headline)),
        when = when_line(verdict),
    );

    // Matrix and evidence side by side on wide screens, stacked on narrow ones.
    page.push_str("<div class=\"row\">\n<section class=\"slices\">\n<h2>Slices</h2>\n");
    page.push_str(&matrix::render(verdict));
    page.push_str(&legend(verdict));
    page.push_str("</section>\n");
    page.push_str(&evidence(verdict));
    page.push_str("</div>\n");

    page.push_str(&slice_table(verdict));

    let _ = write!(
        page,
        "</main>\n<footer>{title} status page · reloads every {refresh} s · \
         <a href=\"/api/v1/verdict\">verdict as JSON</a> · <a href=\"/metrics\">metrics</a>\
         </footer>\n</body>\n</html>\n",
        title = escape(&options.title),
        refresh = options.refresh_seconds,
    );
    page
}

/// The banner colour: calm when nothing fails, amber while provisional, red otherwise.
fn banner_class(verdict: &Verdict) -> &'static str {
    match verdict.scope {
        Scope::None => "calm",
        _ if verdict.provisional => "tentative",
        _ => "alarm",
    }
}

/// "NO OUTAGE", "BATCH SIZE", ...
fn scope_label(scope: Scope) -> String {
    match scope {
        Scope::None => "No outage".to_string(),
        Scope::ProbeLocal => "Probe-local".to_string(),
        Scope::ApiVersion => "API version".to_string(),
        other => {
            let text = other.as_str().replace('_', " ");
            let mut chars = text.chars();
            chars
                .next()
                .map(|first| first.to_uppercase().chain(chars).collect())
                .unwrap_or_default()
        }
    }
}

/// "Scope batch_size since … (for 12m) · evaluated … · window 15m".
fn when_line(verdict: &Verdict) -> String {
    let since = humantime::parse_rfc3339(&verdict.since).ok();
    let evaluated = humantime::parse_rfc3339(&verdict.evaluated_at).ok();
    let held = match (since, evaluated) {
        (Some(since), Some(evaluated)) => evaluated
            .duration_since(since)
            .ok()
            .map(|d| format!(" (for {})", humantime::format_duration(whole_seconds(d))))
            .unwrap_or_default(),
        _ => String::new(),
    };

    format!(
        "scope <code>{scope}</code> since {since}{held} · evaluated {evaluated} · window {window} · \
         failing above {threshold} at {confidence} confidence",
        scope = escape(verdict.scope.as_str()),
        since = escape(&verdict.since),
        held = escape(&held),
        evaluated = escape(&verdict.evaluated_at),
        window = escape(
            &humantime::format_duration(whole_seconds_f64(verdict.window_seconds)).to_string()
        ),
        threshold = percent(verdict.failure_threshold),
        confidence = percent(verdict.confidence),
    )
}

/// The colour key under the matrix.
fn legend(verdict: &Verdict) -> String {
    let mut html = String::from("<div class=\"legend\">");
    for (class, text) in [
        ("r0", "0%".to_string()),
        (
            "r1",
            format!("under {}", percent(verdict.failure_threshold / 2.0)),
        ),
        (
            "r2",
            format!("under {}", percent(verdict.failure_threshold)),
        ),
        ("r3", "under 50%".to_string()),
        ("r4", "50% and more".to_string()),
    ] {
        let _ = write!(
            html,
            "<span class=\"key {class}\"></span>{} ",
            escape(&text)
        );
    }
    html.push_str(
        "<span class=\"key r0 unknown\"></span>hatched: unknown \
         <span class=\"key r4 failing\"></span>framed: failing</div>\n",
    );
    html
}

/// What the verdict rests on: separating dimensions and how failures look.
fn evidence(verdict: &Verdict) -> String {
    let mut html = String::from(
        "<section class=\"evidence-panel\">\n<h2>Evidence</h2>\n<table class=\"evidence\">\n",
    );
    html.push_str("<tr><th>Dimension</th><th>Failing</th><th>Not failing</th></tr>\n");
    if verdict.explained_by.is_empty() {
        let text = if verdict.failing_slices == 0 {
            "No slice is failing."
        } else {
            "No dimension separates failing slices from the others."
        };
        let _ = writeln!(html, "<tr><td colspan=\"3\">{text}</td></tr>");
    }
    for (dimension, failing) in &verdict.explained_by {
        let contrast = verdict
            .contrast
            .get(dimension)
            .map(|v| values(v))
            .unwrap_or_default();
        let _ = writeln!(
            html,
            "<tr><td><code>{}</code></td><td class=\"bad\">{}</td><td class=\"good\">{}</td></tr>",
            escape(dimension),
            values(failing),
            contrast,
        );
    }
    html.push_str("</table>\n<table class=\"evidence facts\">\n");

    let seconds = |value: Option<f64>| value.map_or("–".to_string(), short_seconds);
    let deadline = if verdict.failing_slices == 0 {
        "–"
    } else if verdict.looks_like_deadline {
        "yes: failures take long, like a deadline"
    } else {
        "no: failures are quick"
    };
    let facts = [
        ("Failing slices", verdict.failing_slices.to_string()),
        (
            "Most common failure",
            verdict.dominant_failure.clone().unwrap_or("–".to_string()),
        ),
        (
            "Median latency of failures",
            seconds(verdict.failure_latency_median_seconds),
        ),
        (
            "Median latency of successes, same operations",
            seconds(verdict.success_latency_median_seconds),
        ),
        ("Looks like a deadline", deadline.to_string()),
        (
            "Oldest failure in the window",
            verdict.first_failure_at.clone().unwrap_or("–".to_string()),
        ),
        ("Requests in the window", verdict.requests.to_string()),
    ];
    for (name, value) in facts {
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(name),
            escape(&value)
        );
    }
    html.push_str("</table>\n</section>\n");
    html
}

/// Every slice's numbers, failing first.
fn slice_table(verdict: &Verdict) -> String {
    let mut slices: Vec<&SliceReport> = verdict.slices.iter().collect();
    slices.sort_by_key(|s| SliceState::ALL.iter().position(|&state| state == s.state));

    let mut html = String::from(
        "<section>\n<h2>Slice numbers</h2>\n<table class=\"numbers\">\n<tr><th>State</th>\
         <th>Provider</th><th>Operation</th><th>API version</th><th>Region</th>\
         <th>Batch size</th><th>Requests</th><th>Failures</th><th>Client errors</th>\
         <th>Error ratio</th><th>Wilson interval</th><th>Failure latency</th>\
         <th>Most common failure</th></tr>\n",
    );
    for slice in slices {
        let latency = slice
            .failure_latency_median_seconds
            .map_or("–".to_string(), short_seconds);
        let _ = writeln!(
            html,
            "<tr class=\"{state}\"><td><span class=\"pill {state}\">{state}</span></td>\
             <td>{provider}</td><td>{operation}</td><td>{version}</td><td>{region}</td>\
             <td>{batch}</td><td class=\"num\">{requests}</td><td class=\"num\">{failures}</td>\
             <td class=\"num\">{client}</td><td class=\"num\">{ratio}</td>\
             <td class=\"num\">{low} – {high}</td><td class=\"num\">{latency}</td>\
             <td>{failure}</td></tr>",
            state = slice.state.as_str(),
            provider = escape(&slice.provider),
            operation = escape(slice.operation.as_str()),
            version = escape(&slice.api_version),
            region = escape(&slice.region),
            batch = escape(&slice.batch_size),
            requests = slice.requests,
            failures = slice.failures,
            client = slice.client_errors,
            ratio = percent(slice.error_ratio),
            low = percent(slice.wilson_low),
            high = percent(slice.wilson_high),
            latency = escape(&latency),
            failure = escape(slice.dominant_failure.as_deref().unwrap_or("–")),
        );
    }
    html.push_str("</table>\n</section>\n");
    html
}

/// A ratio as a percentage with at most one decimal: "20%", "2.5%".
pub(crate) fn percent(ratio: f64) -> String {
    let value = ratio * 100.0;
    if (value - value.round()).abs() < 0.05 {
        format!("{value:.0}%")
    } else {
        format!("{value:.1}%")
    }
}

/// Values of one dimension, each kept on one line: `<span>11-100</span>, <span>101-500</span>`.
fn values(values: &[String]) -> String {
    let spans: Vec<String> = values
        .iter()
        .map(|value| format!("<span class=\"value\">{}</span>", escape(value)))
        .collect();
    spans.join(", ")
}

/// "60 s", "4.2 s", "850 ms": latencies as people read them.
pub(crate) fn short_seconds(seconds: f64) -> String {
    if seconds < 1.0 {
        format!("{:.0} ms", seconds * 1000.0)
    } else if seconds < 10.0 {
        format!("{seconds:.1} s")
    } else {
        format!("{seconds:.0} s")
    }
}

fn whole_seconds(duration: Duration) -> Duration {
    Duration::from_secs(duration.as_secs())
}

fn whole_seconds_f64(seconds: f64) -> Duration {
    Duration::from_secs(seconds.max(0.0) as u64)
}

/// Joins a number to its unit ("60 s", "850 ms") with a no-break space, and the two ends of
/// a bucket label ("1-10") with a no-break hyphen, so a line never breaks inside them.
fn keep_units(text: &str) -> String {
    let text = bind_ranges(text);
    let words: Vec<&str> = text.split(' ').collect();
    let mut joined = String::with_capacity(text.len());
    for (index, word) in words.iter().enumerate() {
        if index > 0 {
            let unit = matches!(
                word.trim_end_matches([',', ')', '.', ':']),
                "s" | "ms" | "min"
            );
            let number = words[index - 1].ends_with(|c: char| c.is_ascii_digit());
            joined.push_str(if unit && number { "&nbsp;" } else { " " });
        }
        joined.push_str(word);
    }
    joined
}

/// "1-10" → "1&#8209;10": a hyphen between digits becomes a no-break hyphen.
fn bind_ranges(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut bound = String::with_capacity(text.len());
    for (index, &c) in chars.iter().enumerate() {
        let between_digits = index > 0
            && chars[index - 1].is_ascii_digit()
            && chars.get(index + 1).is_some_and(char::is_ascii_digit);
        if c == '-' && between_digits {
            bound.push_str("&#8209;");
        } else {
            bound.push(c);
        }
    }
    bound
}

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            _ => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn units_stay_with_their_numbers() {
        assert_eq!(
            keep_units("after a median 60 s, or 850 ms) in 3 regions, size 1-10"),
            "after a median 60&nbsp;s, or 850&nbsp;ms) in 3 regions, size 1&#8209;10"
        );
    }

    #[test]
    fn percentages_drop_needless_decimals() {
        assert_eq!(percent(0.2), "20%");
        assert_eq!(percent(0.025), "2.5%");
        assert_eq!(percent(1.0), "100%");
    }

    #[test]
    fn scope_labels_read_as_words() {
        assert_eq!(scope_label(Scope::BatchSize), "Batch size");
        assert_eq!(scope_label(Scope::None), "No outage");
        assert_eq!(scope_label(Scope::ApiVersion), "API version");
    }
}
