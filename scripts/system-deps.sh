#!/usr/bin/env bash
# Installs the Debian packages the test suite uses: PostgreSQL (registry store contract suite), Chromium (the
# audit report is rendered in a real browser), exiftool (an independent reader for `rightful tag`), and nginx,
# Caddy and Apache (the site kit's server snippets are loaded by the real servers).
# Idempotent and quiet when everything is present. Without root or apt it only warns: the tests that need a
# missing program skip with a reason.
set -euo pipefail

packages=(postgresql chromium libimage-exiftool-perl nginx-light caddy apache2)
missing=()
for pkg in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: no apt-get here; missing ${missing[*]} (the tests that need them will skip)" >&2
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo="sudo -n"
  else
    echo "system-deps: not root; missing ${missing[*]} (the tests that need them will skip)" >&2
    exit 0
  fi
fi
echo "system-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
