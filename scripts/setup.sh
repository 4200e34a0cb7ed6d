#!/usr/bin/env bash
# Installs every dependency Photoflux needs to build and test, from Debian 12 packages.
# Idempotent: apt-get runs only when a package is missing, so `make run`/`make test` can call it
# every time at no cost. Extra package names given as arguments are installed the same way
# (bench/setup.sh uses that for the peer tools).
set -euo pipefail

packages=(
    # toolchain
    g++ cmake make pkg-config
    # the imaging engine and its command-line tools (vipsheader is used by tests, vipsthumbnail
    # by the benchmark)
    libvips-dev libvips-tools
    # config, recipes, manifests, logs, command line
    libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev
    # serve: HTTP (Boost.Beast/Asio), hashing and signatures (OpenSSL), the index (SQLite), XML
    libboost-dev libssl-dev zlib1g-dev libsqlite3-dev libpugixml-dev
    # serve: outbound webhooks (HTTP/HTTPS) and e-mail (SMTP) for notifications
    libcurl4-openssl-dev
    # allocator: keeps RSS flat over thousands of photos (see docs/architecture.md)
    libjemalloc-dev
    # tests
    googletest libgtest-dev libgmock-dev libimage-exiftool-perl
    # real S3 clients the serve tests drive (the aws CLI and boto3 come with the machine's Python)
    s3cmd rclone nodejs
    # the SMTP sink the notification e-mail tests deliver to; the openssl CLI makes the TLS tests'
    # certificates
    python3-aiosmtpd openssl
    # the browser the web console tests drive (tests/e2e/serve/test_console.py, through
    # playwright-core from js/ at /usr/bin/chromium: no browser is downloaded)
    chromium
    # the default watermark font
    fonts-dejavu-core
    "$@"
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]} > 0)); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The AWS SDK for JavaScript and playwright-core used by tests/e2e/serve (versions pinned by its
# package-lock.json):
# installed when node_modules is missing or older than the lock file, and only where npm exists.
js_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e/serve/js"
if command -v npm >/dev/null && [[ -f "$js_dir/package-lock.json" ]] &&
    [[ ! -d "$js_dir/node_modules" || "$js_dir/package-lock.json" -nt "$js_dir/node_modules" ]]; then
    echo "setup: npm ci in tests/e2e/serve/js" >&2
    (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error && touch node_modules)
fi
