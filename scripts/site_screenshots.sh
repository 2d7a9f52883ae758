#!/usr/bin/env bash
# Screenshots of the built documentation site with headless Chromium (Debian's `chromium` package):
#   bash scripts/site_screenshots.sh [PAGE ...]     (pages as site paths, default: the front page)
# Builds the site strictly into a temporary folder, serves it on a free local port, and writes one PNG per page
# into docs/results/site/.
set -euo pipefail
cd "$(dirname "$0")/.."
pages=("${@:-index}")
site=$(mktemp -d)
NO_MKDOCS_2_WARNING=1 mkdocs build --strict -q -d "$site"
port=$(python -c "import socket; s=socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
python -m http.server "$port" --bind 127.0.0.1 --directory "$site" >/dev/null 2>&1 &
server=$!
trap 'kill $server; rm -rf "$site"' EXIT
sleep 1
mkdir -p docs/results/site
for page in "${pages[@]}"; do
  url="http://127.0.0.1:$port/${page%index}"
  name=$(echo "${page%/}" | tr '/' '-')
  chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,1600 \
    --screenshot="docs/results/site/${name:-index}.png" "$url" 2>/dev/null
  echo "docs/results/site/${name:-index}.png <- $url"
done
