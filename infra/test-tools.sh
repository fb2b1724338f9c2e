#!/usr/bin/env bash
# Tools the test suite calls besides Python: docker-compose (Debian's) validates
# docker-compose.yml without a Docker engine; chromium drives the console's
# browser tests (infra/browser.sh); mosquitto_pub and mosquitto_sub (Debian's
# mosquitto-clients) are MQTT clients nobody here wrote, for the MQTT endpoint.
set -euo pipefail
SCRIPT_NAME=test-tools
# shellcheck source=infra/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

if ! command -v docker-compose >/dev/null 2>&1; then
  apt_install docker-compose
fi
if ! command -v mosquitto_pub >/dev/null 2>&1; then
  apt_install mosquitto-clients
fi
"$INFRA_DIR/browser.sh" install
