#!/usr/bin/env bash
# Install the Debian packages profefe's build and tests need; only what is missing.
set -euo pipefail
pkgs=("$@" build-essential pkg-config git curl ca-certificates
      libmicrohttpd-dev libcurl4-openssl-dev libuv1-dev libyaml-dev libjansson-dev
      libprotobuf-c-dev protobuf-c-compiler zlib1g-dev libzstd-dev libpcre2-dev
      libcmocka-dev libzip-dev libxxhash-dev golang-go jq time openssl)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
