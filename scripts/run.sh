#!/usr/bin/env bash
# Starts the app with the demo workspace loaded into an empty database. On a
# machine without a display it says so and runs under Xvfb instead.
set -euo pipefail
app=$1
export RELEASE_DESK_DEMO=1
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "run: no display found; starting under Xvfb (invisible). Run from a desktop session to see the window." >&2
  exec xvfb-run -a -s '-screen 0 1440x900x24' "$app"
fi
exec "$app"
