#!/usr/bin/env bash
# Install the Debian packages profefe's build and tests need; only what is missing.
set -euo pipefail
pkgs=("$@" build-essential pkg-config git curl ca-certificates
      libmicrohttpd-dev libcurl4-openssl-dev libuv1-dev libyaml-dev libjansson-dev
      libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libdeflate-dev libzstd-dev libpcre2-dev
      libcmocka-dev libzip-dev libxxhash-dev golang-go jq gojq time openssl unzip zip apache2-utils
      chromium firefox-esr nodejs clickhouse-server clickhouse-client iproute2 python3)
# npm comes with some builds of nodejs (nodesource's); Debian's is a package of its own
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	export DEBIAN_FRONTEND=noninteractive
	$sudo apt-get update -qq
	$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The browser tests' drivers: playwright-core (chromium) and puppeteer-core
# (firefox-esr, over WebDriver BiDi) as pinned in
# tests/browser/package-lock.json, into tests/browser/node_modules; no
# browser download (the tests use Debian's chromium and firefox-esr).
cd "$(dirname "$0")/../tests/browser"
if [ ! -f node_modules/playwright-core/package.json ] ||
	[ ! -f node_modules/puppeteer-core/package.json ] ||
	[ package-lock.json -nt node_modules/.package-lock.json ]; then
	echo "deps: npm ci in tests/browser (playwright-core, puppeteer-core)"
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 PUPPETEER_SKIP_DOWNLOAD=1 \
		npm ci --no-audit --no-fund --loglevel=error
fi
