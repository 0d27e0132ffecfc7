#!/usr/bin/env bash
# Make the compose stack's secrets in deploy/secrets/ (once per host; never overwrites):
#   users.yaml        web users file (BORDERFUSION_USERS_FILE): a `prometheus` user of role
#                     `metrics`, token only; add coordinators with `borderfusion users add`
#   prometheus.token  that user's bearer token, read by Prometheus (credentials_file)
#   delivery.yaml     delivery targets (BORDERFUSION_DELIVERY_FILE); empty: deliver nothing
# Uses `borderfusion` from PATH, or the image (BORDERFUSION_IMAGE, default borderfusion:local).
#
#   deploy/secrets/init.sh && docker compose up -d --build
#   borderfusion users add alice --role coordinator >> deploy/secrets/users.yaml
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
umask 022  # the containers run as other uids (10001, Prometheus' 65534) and must read them

bf() {
  if command -v borderfusion > /dev/null; then
    borderfusion "$@"
  else
    docker run --rm -i "${BORDERFUSION_IMAGE:-borderfusion:local}" "$@"
  fi
}

if [[ ! -s users.yaml ]]; then
  err="$(mktemp)"
  trap 'rm -f "$err"' EXIT
  entry="$(bf users add prometheus --role metrics --token --no-password 2> "$err")"
  sed -n 's/^bearer token for prometheus (shown once): //p' "$err" > prometheus.token.new
  [[ -s prometheus.token.new ]] || { cat "$err" >&2; rm -f prometheus.token.new; exit 1; }
  mv prometheus.token.new prometheus.token
  printf 'users:\n%s\n' "$entry" > users.yaml
  echo "wrote users.yaml and prometheus.token"
elif [[ ! -s prometheus.token ]]; then
  echo "users.yaml exists but prometheus.token does not: remove users.yaml to start over" >&2
  exit 1
fi
if [[ ! -e delivery.yaml ]]; then
  printf '# docs/delivery.md: tak: [...], webhooks: [...]\n{}\n' > delivery.yaml
  echo "wrote delivery.yaml (no targets)"
fi
