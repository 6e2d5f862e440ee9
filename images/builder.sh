#!/usr/bin/env bash
# Sourced by images/build.sh and images/node/build.sh: the command that builds an image.

# BuildKit does the build (secrets, cache mounts). Docker's CLI before 23 has it built in
# (Debian's docker.io is 20.10); later ones need the buildx plug-in.
builder() {
  if docker buildx version >/dev/null 2>&1; then
    echo docker buildx build --load
    return
  fi
  local cli major
  for cli in $(type -ap docker) /usr/bin/docker; do
    major=$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1) || continue
    if [[ $major =~ ^[0-9]+$ ]] && ((major < 23)); then
      echo env DOCKER_BUILDKIT=1 "$cli" build
      return
    fi
  done
  echo "error: no BuildKit: install Docker's buildx plug-in (or Debian's docker.io)" >&2
  return 1
}

