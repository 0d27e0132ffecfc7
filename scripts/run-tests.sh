#!/usr/bin/env bash
# The whole suite, as `make test` runs it:
#   1. unit tests + broker tests on the embedded Tansu broker;
#   2. the broker tests again on Apache Kafka 4.x (KRaft, jars from Maven Central).
# Under CI=true a missing Java or Maven fails the run instead of skipping suite 2.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
mkdir -p test-artifacts
status=0

# Headless Chromium for the browser tests (Debian packages; the test driver never downloads
# a browser of its own).
if ! command -v chromedriver >/dev/null && [ ! -x /usr/bin/chromedriver ]; then
  echo "installing chromium + chromium-driver for the browser tests"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  ($SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || echo "could not install chromium: the browser tests will fail" >&2
fi

echo "=== suite 1/2: unit + broker tests on the embedded Tansu broker ==="
$BIN/pytest -q --broker=tansu "$@" || status=$?

echo "=== suite 2/2: broker tests on Apache Kafka (KRaft) ==="
if command -v java >/dev/null && command -v mvn >/dev/null; then
  $BIN/pytest -q -m broker --broker=kafka "$@" || status=$?
elif [ "${CI:-}" = "true" ]; then
  echo "CI=true but Java or Maven is missing: the Apache Kafka suite cannot run" >&2
  status=1
else
  echo "skipped: Java or Maven not found (install them to run the compatibility suite)"
fi
exit $status
