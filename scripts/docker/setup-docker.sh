#!/usr/bin/env bash
# A Docker engine for the images and the cluster: where a daemon already answers, nothing is
# touched. Elsewhere, Debian's docker.io is installed and paved starts dockerd itself, with its
# configuration, pid and log under paved's state (PAVED_DOCKER_STATE, by default
# ${XDG_STATE_HOME:-~/.local/state}/paved/docker). On machines that withhold capabilities from
# the processes they start, dockerd's default runtime becomes paved-runc (see
# docs/decisions/0017-docker-and-images-built-here.md). Idempotent: a second run starts nothing.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
state=${PAVED_DOCKER_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/paved/docker}
# dockerd's runtime files (its containerd's pid file among them); both settable for the tests.
exec_root=${PAVED_DOCKER_EXEC_ROOT:-/var/run/docker}
dockerd=${PAVED_DOCKERD:-dockerd}

# A pid file outlives its process when a machine stops processes without letting them clean up
# (a session's end, a killed CI job), and its number is soon another process's: a pid counts only
# while /proc names the program the file belongs to.
runs() { [[ -f $1 ]] && [[ $(cat "/proc/$(cat "$1")/comm" 2>/dev/null) == "$2" ]]; }
ours() { runs "$state/dockerd.pid" dockerd; }

if docker info >/dev/null 2>&1; then
  # The daemon paved started runs the wrapper anew for every container: a changed wrapper
  # takes effect without a restart. Any other daemon is left as it is.
  if ours; then install -m 0755 "$here/paved_runc.py" "$state/paved-runc"; fi
  exit 0
fi

if [[ $(id -u) == 0 ]]; then sudo=()
elif command -v sudo >/dev/null; then sudo=(sudo)
else
  # Not an error: everything but the images and the cluster tier works without Docker.
  echo "warning: no Docker daemon answers and paved cannot start one without root or sudo; start Docker for the images and the cluster tier" >&2
  exit 0
fi

if ! command -v "$dockerd" >/dev/null && [[ ! -x /usr/sbin/dockerd ]]; then
  echo "installing Debian's docker.io" >&2
  "${sudo[@]}" apt-get update -q >&2
  # The machine's policy-rc.d (or the absence of an init) keeps the package's own service off:
  # paved starts the one daemon it uses.
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends docker.io >&2
fi

# Waits up to 60 s for the daemon; stops early once the dockerd started here ($1) has exited.
answers() {
  for _ in $(seq 120); do
    docker info >/dev/null 2>&1 && return 0
    [[ -z ${1:-} ]] || kill -0 "$1" 2>/dev/null || return 1
    sleep 0.5
  done
  return 1
}

# Where systemd runs, the package starts its own docker.service: that one is the machine's.
if systemctl is-active --quiet docker 2>/dev/null; then
  answers && exit 0
fi

mkdir -p "$state"
install -m 0755 "$here/paved_runc.py" "$state/paved-runc"
runtime=
withheld=$(python3 "$state/paved-runc" --withheld | paste -sd, -)
if [[ -n $withheld ]]; then
  echo "this machine withholds $withheld from its processes: dockerd runs containers through paved-runc" >&2
  runtime=$(printf '"runtimes": {"paved-runc": {"path": "%s"}}, "default-runtime": "paved-runc", ' "$state/paved-runc")
fi
# BuildKit's cache (layers, the uv downloads of the images' builds) is collected past 10 GB.
printf '{%s"builder": {"gc": {"enabled": true, "defaultKeepStorage": "10GB"}}}\n' "$runtime" >"$state/daemon.json"
config=(--pidfile "$state/dockerd.pid" --config-file "$state/daemon.json" --exec-root "$exec_root")

if ours; then
  echo "dockerd (pid $(cat "$state/dockerd.pid")) is starting; waiting for it" >&2
else
  # dockerd refuses to start over its own pid file while that pid lives, and takes a live pid in
  # its containerd's pid file for a containerd still running, then waits for a socket that never
  # comes ("timeout waiting for containerd to start").
  for stale in "$state/dockerd.pid":dockerd "$exec_root/containerd/containerd.pid":containerd; do
    if [[ -f ${stale%:*} ]] && ! runs "${stale%:*}" "${stale##*:}"; then
      echo "removing the stale pid file ${stale%:*} (its ${stale##*:} is gone)" >&2
      "${sudo[@]}" rm -f "${stale%:*}"
    fi
  done
  echo "starting dockerd; its log: $state/dockerd.log" >&2
  PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH setsid "${sudo[@]}" "$dockerd" "${config[@]}" \
    >>"$state/dockerd.log" 2>&1 </dev/null &
  started=$!
fi
answers "${started:-}" && exit 0
echo "error: dockerd did not answer (it exited, or gave no answer within 60 s); see $state/dockerd.log" >&2
tail -n 20 "$state/dockerd.log" >&2
exit 1
