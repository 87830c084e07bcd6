#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with a real, unlocked
# gnome-keyring (the Secret Service), in a throwaway keyring folder, so tests
# use the real OS keyring without touching the user's own.
set -euo pipefail
if [ -z "${RELEASE_DESK_KEYRING_SESSION:-}" ]; then
  export RELEASE_DESK_KEYRING_SESSION=1
  exec dbus-run-session -- "$0" "$@"
fi
keyring_home=$(mktemp -d -t release-desk-keyring.XXXXXX)
trap 'rm -rf "$keyring_home"' EXIT
export XDG_DATA_HOME="$keyring_home/data"
mkdir -p "$XDG_DATA_HOME/keyrings"
# --unlock reads the password of the (new) login keyring from stdin.
printf 'release-desk-test-keyring' | gnome-keyring-daemon --unlock --components=secrets >/dev/null
"$@"
