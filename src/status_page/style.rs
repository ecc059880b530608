//! The status page's inline style sheet. Colours carry the meaning: green for healthy, amber
//! near the threshold, red for failing; hatching marks a slice whose state is still unknown.

/// The CSS placed in the page's `<style>` element.
pub(super) const CSS: &str = r#"
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans",
  sans-serif; color: #1f2328; background: #f3f5f7; }
code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 0.92em; }
.banner { padding: 26px 40px 22px; color: #fff; }
.banner.alarm { background: #b42318; }
.banner.tentative { background: #9a6700; }
.banner.calm { background: #1a7f37; }
.banner .scope { display: inline-block; padding: 3px 12px; border: 2px solid rgba(255,255,255,.75);
  border-radius: 999px; font-size: 15px; font-weight: 700; letter-spacing: .08em;
  text-transform: uppercase; }
.banner h1 { margin: 12px 0 10px; font-size: 26px; line-height: 1.3; font-weight: 700;
  max-width: 1250px; }
.banner .when { margin: 0; font-size: 14px; opacity: .92; }
.banner .when code { background: rgba(255,255,255,.18); padding: 1px 6px; border-radius: 4px; }
main { padding: 20px 40px 8px; }
.row { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.row > section { margin-bottom: 20px; }
section.slices { flex: 0 1 auto; }
section.evidence-panel { flex: 1 1 340px; }
section { background: #fff; border: 1px solid #d0d7de; border-radius: 8px; padding: 16px 20px;
  margin-bottom: 20px; }
h2 { margin: 0 0 12px; font-size: 18px; }
table { border-collapse: collapse; }
table.matrix { border-collapse: separate; border-spacing: 4px; }
.matrix th { font-weight: 600; font-size: 13px; color: #424a53; }
.matrix th.corner { text-align: left; vertical-align: bottom; color: #6e7781; font-weight: 500; }
.matrix th.region { background: #eaeef2; border-radius: 5px; padding: 4px 8px; }
.matrix th.version { padding: 2px 8px; }
.matrix th.operation { text-align: left; padding: 0 14px 0 2px; font-size: 15px; color: #1f2328;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.matrix th.bucket { text-align: right; padding: 0 10px 0 4px; font-variant-numeric: tabular-nums; }
.matrix tr.gap td { height: 6px; padding: 0; }
.cell { width: 100px; height: 50px; text-align: center; border-radius: 6px; padding: 3px 4px; }
.cell .pct { display: block; font-size: 19px; font-weight: 700; line-height: 1.2; }
.cell .detail { display: block; font-size: 11px; opacity: .9; white-space: nowrap; }
.r0 { background: #2da44e; color: #fff; }
.r1 { background: #8fd19e; color: #10321b; }
.r2 { background: #f2cc60; color: #3d2e00; }
.r3 { background: #fb8f44; color: #3b1600; }
.r4 { background: #cf222e; color: #fff; }
.cell.unknown, .key.unknown { background-image: repeating-linear-gradient(135deg,
  rgba(255,255,255,.55) 0 5px, rgba(255,255,255,0) 5px 10px); }
.cell.failing, .key.failing { box-shadow: inset 0 0 0 3px #4c0510; }
.cell.absent { background: #f6f8fa; color: #8c959f; font-size: 11px; }
.legend { margin-top: 10px; font-size: 13px; line-height: 1.9; color: #424a53;
  width: 0; min-width: 100%; }
.key { display: inline-block; width: 16px; height: 16px; border-radius: 4px; margin: 0 5px 0 12px;
  vertical-align: -3px; }
.key:first-child { margin-left: 0; }
table.evidence { margin-bottom: 14px; width: 100%; }
.evidence th, .evidence td { text-align: left; padding: 5px 12px 5px 0; font-size: 14px;
  border-bottom: 1px solid #eaeef2; }
.evidence td.bad { color: #b42318; font-weight: 700; }
.evidence td.good { color: #1a7f37; }
.evidence .value { white-space: nowrap; }
.facts th { font-weight: 500; color: #57606a; width: 50%; }
.numbers { font-size: 12.5px; width: 100%; }
.numbers th { text-align: left; background: #f6f8fa; padding: 5px 8px; border-bottom: 1px solid #d0d7de;
  white-space: nowrap; }
.numbers td { padding: 3px 8px; border-bottom: 1px solid #eaeef2; white-space: nowrap; }
.numbers td.num { text-align: right; font-variant-numeric: tabular-nums; }
.numbers tr.failing td { background: #fff1f0; }
.pill { display: inline-block; padding: 0 8px; border-radius: 999px; font-size: 11.5px;
  font-weight: 600; }
.pill.failing { background: #cf222e; color: #fff; }
.pill.healthy { background: #dafbe1; color: #1a7f37; }
.pill.unknown { background: #eaeef2; color: #57606a; }
.empty { color: #57606a; }
footer { padding: 0 40px 24px; font-size: 12.5px; color: #6e7781; }
footer a { color: #0969da; }
"#;
