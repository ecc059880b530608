//! The status page rendered from a realistic verdict (the seed outage), checked as HTML and
//! screenshotted in headless Chromium.
//!
//! Set `BATCHPROBE_SCREENSHOT_OUT=path.png` to keep the screenshot, e.g. to refresh
//! `docs/status-page.png`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use batchprobe::slice::{Operation, SizeBuckets};
use batchprobe::status_page;
use batchprobe::verdict::synthetic::{self, Grid, Reply};
use batchprobe::verdict::{Evaluator, Scope, Verdict, VerdictConfig};

const CHROMIUM_DEADLINE: Duration = Duration::from_secs(120);

/// The seed outage over 20 rounds, with the rough edges of a real run: occasional 504s on
/// `list` in one region and a `models` slice that only started reporting recently.
fn seed_verdict() -> Verdict {
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_760_000_000);
    let interval = Duration::from_secs(30);
    let mut evaluator = Evaluator::new(VerdictConfig::default(), SizeBuckets::default());

    let observations = synthetic::rounds(&Grid::seed(), start, interval, 20, |slice, round| {
        let flaky_list = slice.operation == Operation::List && slice.region == "europe-west4";
        if flaky_list && round % 7 == 3 {
            return Reply::Status(504, Duration::from_secs(10));
        }
        synthetic::seed_outage(slice, round)
    });
    for observation in observations {
        let late_models = observation.slice.operation == Operation::Models
            && observation.slice.region == "asia-northeast1"
            && observation.slice.api_version == "v1";
        if late_models && observation.finished_at < start + interval * 17 {
            continue;
        }
        evaluator.record(&observation);
    }

    // The outage began a few evaluations ago; `since` comes from the first one.
    evaluator.evaluate(start + interval * 12);
    evaluator.evaluate(start + interval * 20)
}

fn chromium() -> PathBuf {
    for candidate in ["chromium", "chromium-browser"] {
        let found = Command::new("which")
            .arg(candidate)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
        if let Some(path) = found.filter(|p| !p.is_empty()) {
            return PathBuf::from(path);
        }
    }
    panic!(
        "chromium is not installed: scripts/test.sh installs it (or run \
         `apt-get install -y chromium`)"
    );
}

/// Runs headless Chromium on `html` and returns the PNG bytes of a 1400×1000 screenshot.
fn screenshot(html: &Path, png: &Path, profile: &Path) -> Vec<u8> {
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--window-size=1400,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", html.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium starts");

    // Bounded wait: a hung browser must fail the test, not hang it.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("chromium can be waited on") {
            break status;
        }
        if started.elapsed() > CHROMIUM_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within {CHROMIUM_DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let stderr = child
        .wait_with_output()
        .map(|o| o.stderr)
        .unwrap_or_default();
    assert!(
        status.success(),
        "chromium failed with {status}: {}",
        String::from_utf8_lossy(&stderr)
    );
    println!("chromium took {:?}", started.elapsed());

    std::fs::read(png).unwrap_or_else(|err| panic!("no screenshot at {}: {err}", png.display()))
}

/// Width and height from the PNG header.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&png[12..16], b"IHDR");
    let number = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (number(16), number(20))
}

#[test]
fn seed_outage_page_names_everything_and_stays_self_contained() {
    let verdict = seed_verdict();
    assert_eq!(verdict.scope, Scope::BatchSize, "{}", verdict.headline);
    let html = status_page::render(&verdict);

    // The headline, big, and the scope with its start.
    let h1 = html
        .split("<h1>")
        .nth(1)
        .and_then(|rest| rest.split("</h1>").next());
    let shown = h1
        .expect("an <h1> headline")
        .replace("&nbsp;", " ")
        .replace("&#8209;", "-");
    assert_eq!(shown.replace("&#39;", "'"), verdict.headline);
    assert!(html.contains("Batch size"));
    assert!(html.contains(&verdict.since));
    assert!(html.contains("<meta http-equiv=\"refresh\" content=\"10\">"));

    // Every slice appears in the matrix (as a cell title) and in the numbers table.
    for slice in &verdict.slices {
        let title = format!(
            "title=\"{}/{}/{}/{}/{}:",
            slice.provider, slice.operation, slice.api_version, slice.region, slice.batch_size
        );
        assert!(html.contains(&title), "no matrix cell for {title}");
        let row = format!(
            "<td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
            slice.provider, slice.operation, slice.api_version, slice.region, slice.batch_size
        );
        assert!(html.contains(&row), "no table row {row}");
    }

    // The evidence: both separating dimensions and the failure latency.
    let buckets = "<span class=\"value\">11-100</span>, <span class=\"value\">101-500</span>";
    assert!(html.contains(&format!("<td class=\"bad\">{buckets}</td>")));
    assert!(html.contains("<td class=\"bad\"><span class=\"value\">get</span></td>"));
    assert!(html.contains("<th>Median latency of failures</th><td>60 s</td>"));

    // Nothing runs and nothing is fetched from elsewhere.
    let lower = html.to_lowercase();
    assert!(!lower.contains("<script"), "page contains a script");
    for external in ["http://", "https://", "//fonts", "src=", "@import", "url("] {
        assert!(!lower.contains(external), "page references {external}");
    }
}

#[test]
fn text_from_the_verdict_is_escaped() {
    let mut verdict = seed_verdict();
    verdict.headline = "<script>alert('x')</script> & more".to_string();
    verdict.slices[0].region = "<img src=x onerror=alert(1)>".to_string();
    verdict
        .explained_by
        .insert("region\"><b>".to_string(), vec!["<i>".to_string()]);

    let html = status_page::render(&verdict);

    assert!(!html.contains("<script>"));
    assert!(!html.contains("<img"));
    assert!(!html.contains("<i>"));
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more"));
}

#[test]
fn seed_outage_page_renders_in_headless_chromium() {
    let html = status_page::render(&seed_verdict());
    let dir = tempfile::tempdir().expect("temporary directory");
    let page = dir.path().join("status.html");
    let png = dir.path().join("status.png");
    let profile = dir.path().join("profile");
    std::fs::write(&page, &html).expect("page written");

    let bytes = screenshot(&page, &png, &profile);

    assert_eq!(png_size(&bytes), (1400, 1000));
    // A blank or error page compresses to a few kilobytes; this one has colour and text.
    assert!(
        bytes.len() > 40_000,
        "screenshot suspiciously small: {} bytes",
        bytes.len()
    );
    println!("screenshot: {} bytes", bytes.len());

    if let Ok(keep) = std::env::var("BATCHPROBE_SCREENSHOT_OUT") {
        std::fs::copy(&png, &keep).expect("screenshot copied");
    }
}
