#!/usr/bin/env bash
# Tools the test suite calls besides Python: docker-compose (Debian's) validates
# docker-compose.yml without a Docker engine; chromium drives the console's
# browser tests (infra/browser.sh); mosquitto_pub and mosquitto_sub (Debian's
# mosquitto-clients) are MQTT clients nobody here wrote, for the MQTT endpoint;
# pysparkplug's edge node (a Sparkplug B library) runs in an environment of its own
# ($STATE_DIR/sparkplug-edge), with the paho-mqtt 1 its client needs.
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

SPARKPLUG_EDGE="$STATE_DIR/sparkplug-edge"
if ! "$SPARKPLUG_EDGE/bin/python" -c "import pysparkplug, paho.mqtt as m; assert m.__version__ < '2'" >/dev/null 2>&1; then
  need uv "make install puts it in ~/.local/bin"
  say "installing pysparkplug's edge node into $SPARKPLUG_EDGE"
  uv venv --no-config --quiet --allow-existing --python "$(command -v python3)" "$SPARKPLUG_EDGE"
  uv pip install --no-config --quiet --python "$SPARKPLUG_EDGE/bin/python" "pysparkplug==0.6.1" "paho-mqtt==1.6.1"
fi
