#!/usr/bin/env bash
# Installs the pinned kubectl (KUBECTL_VERSION) and helm (HELM_VERSION) unless those versions are already on
# PATH, each checked against the checksum its project publishes beside the download.
set -euo pipefail
: "${KUBECTL_VERSION:?KUBECTL_VERSION is not set (the CodeBuild project sets it from the gateway config)}"
: "${HELM_VERSION:?HELM_VERSION is not set (the CodeBuild project sets it from the gateway config)}"

case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  x86_64) arch=amd64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if kubectl version --client -o json 2>/dev/null | grep -q "\"gitVersion\": \"v${KUBECTL_VERSION}"; then
  echo "kubectl ${KUBECTL_VERSION} already installed"
else
  base="https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/${arch}"
  curl -fsSL --retry 3 -o "$tmp/kubectl" "$base/kubectl"
  echo "$(curl -fsSL --retry 3 "$base/kubectl.sha256")  $tmp/kubectl" | sha256sum -c -
  install -m 0755 "$tmp/kubectl" /usr/local/bin/kubectl
fi

if [ "$(helm version --template '{{.Version}}' 2>/dev/null || true)" = "v${HELM_VERSION}" ]; then
  echo "helm ${HELM_VERSION} already installed"
else
  tarball="helm-v${HELM_VERSION}-linux-${arch}.tar.gz"
  curl -fsSL --retry 3 -o "$tmp/$tarball" "https://get.helm.sh/$tarball"
  curl -fsSL --retry 3 -o "$tmp/$tarball.sha256sum" "https://get.helm.sh/$tarball.sha256sum"
  (cd "$tmp" && sha256sum -c "$tarball.sha256sum")
  tar -xzf "$tmp/$tarball" -C "$tmp"
  install -m 0755 "$tmp/linux-${arch}/helm" /usr/local/bin/helm
fi
kubectl version --client
helm version --short
