#!/usr/bin/env bash
# Install the Debian packages the platform and its tests need (SoftHSM2 for blank cards,
# OpenSC for pkcs11-tool and real readers, Chromium for browser tests, openssl for PKI checks,
# redis-server for the tests that run a private broker, gettext for compiling the translations).
set -euo pipefail
packages=(softhsm2 opensc chromium openssl redis-server gettext graphviz nginx-light strace)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing Debian packages: ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
