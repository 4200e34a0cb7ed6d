#!/usr/bin/env bash
# Installs what the benchmark needs besides photoflux itself (scripts/setup.sh and the build
# provide that): the peer tools from Debian, with apt-get only when one is missing, and sharp
# from the npm registry at the version pinned in bench/package-lock.json. Idempotent.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# libvips-tools: vipsthumbnail and vipsheader; imagemagick: /usr/bin/convert; time: GNU
# /usr/bin/time, which reports peak RSS. The project's installer takes extra packages.
"$here/../scripts/setup.sh" libvips-tools imagemagick time

# sharp 0.35 needs Node.js >= 20.9. The machine's Node.js is used; Debian 12's own nodejs
# package (18.x) is too old, so it is not installed from here.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "bench/setup: needs Node.js >= 20.9 and npm on PATH" >&2
    exit 1
fi
if ! node -e 'const [a, b] = process.versions.node.split(".").map(Number);
              process.exit(a > 20 || (a === 20 && b >= 9) ? 0 : 1)'; then
    echo "bench/setup: Node.js $(node --version) is too old for sharp 0.35 (needs >= 20.9)" >&2
    exit 1
fi

# npm ci (exactly the lockfile) unless node_modules already matches it.
stamp="$here/node_modules/.bench-lockfile"
if [[ ! -f "$stamp" ]] || ! cmp -s "$stamp" "$here/package-lock.json"; then
    echo "bench/setup: npm ci in bench/" >&2
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$here/package-lock.json" "$stamp"
fi
# sharp loads its prebuilt libvips from node_modules/@img; fail here, not mid-benchmark.
(cd "$here" && node -e 'require("sharp")') || {
    echo "bench/setup: sharp does not load; try: rm -rf bench/node_modules && bench/setup.sh" >&2
    exit 1
}
