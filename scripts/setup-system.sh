#!/usr/bin/env bash
# Installs the system prerequisites of the local platform where the machine allows it, and names
# whatever it cannot install. Idempotent: a second run installs nothing.
set -euo pipefail

missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v prometheus >/dev/null || missing+=(prometheus)
# mmdebstrap builds the images' bases from Debian's packages (images/base.sh).
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)

if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]]; then sudo=()
  elif command -v sudo >/dev/null; then sudo=(sudo)
  else
    echo "error: missing Debian packages: ${missing[*]}; install them: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "installing Debian packages: ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -q >&2
  # policy-rc.d keeps the packages' own services from starting: paved runs its own instances.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
fi

if ! command -v python3.11 >/dev/null; then
  echo "error: Python 3.11 is needed (python3.11 on PATH)." >&2
  exit 1
fi
if ! command -v go >/dev/null; then
  echo "error: Go 1.26 or newer is needed to build the local control plane; install it and put go on PATH." >&2
  exit 1
fi

# A Docker engine for the images and the cluster tier (installed and started where none runs).
bash "$(dirname "$0")/docker/setup-docker.sh"
