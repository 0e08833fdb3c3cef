#!/usr/bin/env bash
# Installs the system packages the build and tests need (CI runs on Debian
# 12): the same script as `make setup`, which works as root and with sudo, on
# Debian and Ubuntu, and uses NVIDIA's CUDA toolkit in /usr/local/cuda when
# there is one.
set -euo pipefail
exec bash "$(dirname "$0")/../scripts/setup.sh" "$@"
