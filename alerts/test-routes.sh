#!/usr/bin/env bash
# Asserts where Alertmanager routes each kind of batchprobe alert, using the example config and
# `amtool config routes test`. Exits non-zero when any case lands on another receiver or when
# amtool is missing.
#
# Usage: alerts/test-routes.sh [path/to/alertmanager.yml]
set -euo pipefail

config="${1:-$(dirname "$0")/alertmanager.example.yml}"

if ! command -v amtool >/dev/null 2>&1; then
  echo "test-routes: amtool not found; install it with: apt-get install -y prometheus-alertmanager" >&2
  exit 2
fi

passed=0
failed=0

# expect RECEIVER LABEL=VALUE...: the alert with these labels must reach exactly RECEIVER.
expect() {
  local want="$1"
  shift

  local got
  got="$(amtool config routes test --config.file="$config" "$@" 2>/dev/null || true)"

  if [[ "$got" == "$want" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "MISMATCH: {$*} went to '${got}', expected '${want}'" >&2
  fi
}

fam=(provider=gemini operation=get api_version=v1beta batch_size=11-100)
slice=("${fam[@]}" region=eu instance=probe-eu:9464 job=batchprobe)

# The dead man's switch.
expect batchprobe-watchdog alertname=BatchprobeWatchdog severity=none scope=none

# Pages: the provider fails for everyone.
expect batchprobe-page alertname=BatchprobeWidespreadFailure severity=page scope=widespread "${fam[@]}"
expect batchprobe-page alertname=BatchprobeErrorBudgetBurnFast severity=page scope=widespread "${fam[@]}"
expect batchprobe-page alertname=BatchprobeErrorBudgetBurnSteady severity=page scope=widespread "${fam[@]}"

# Tickets about the provider.
expect batchprobe-ticket alertname=BatchprobeRegionalFailure severity=ticket scope=regional "${slice[@]}"
expect batchprobe-ticket alertname=BatchprobeBatchSizeFailure severity=ticket scope=batch_size "${slice[@]}"
expect batchprobe-ticket alertname=BatchprobeApiVersionFailure severity=ticket scope=api_version "${slice[@]}"
expect batchprobe-ticket alertname=BatchprobeErrorBudgetBurnSlow severity=ticket scope=error_budget "${fam[@]}"

# Tickets about our own side go to whoever runs the probe.
for scope in probe_local credentials quota; do
  expect batchprobe-probe-owner alertname=BatchprobeOwnSideFailure severity=ticket "scope=$scope" \
    instance=probe-eu:9464 job=batchprobe
done
expect batchprobe-probe-owner alertname=BatchprobeProbeSilent severity=ticket scope=probe instance=probe-eu:9464
expect batchprobe-probe-owner alertname=BatchprobeNoProbeResults severity=ticket scope=probe
expect batchprobe-probe-owner alertname=BatchprobeConfigReloadFailed severity=ticket scope=probe instance=probe-eu:9464

# Anything else falls through to the ticket queue, never to the pager.
expect batchprobe-ticket alertname=SomethingElse
expect batchprobe-ticket alertname=BatchprobeRegionalFailure severity=warning scope=regional

echo "test-routes: ${passed} passed, ${failed} failed"
[[ "$failed" -eq 0 ]]
