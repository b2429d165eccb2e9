#!/usr/bin/env bash
# Installs the pinned kubectl (KUBECTL_VERSION) and helm (HELM_VERSION) unless those versions are already on
# PATH, each checked against the checksum its project publishes beside the download.
# Each tool is asked for its version once (a process start each, on every Verify build); the log shows that answer.
# Only a freshly downloaded binary is run once more, to show it starts and is the pinned version.
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

# The client's gitVersion, e.g. v1.32.4 (a distribution may add a suffix: v1.32.4-eks-…); empty without kubectl.
kubectl_version=$(kubectl version --client -o json 2>/dev/null | sed -n 's/^ *"gitVersion": *"\(v[^"]*\)".*/\1/p') || true
if [[ $kubectl_version == "v${KUBECTL_VERSION}" || $kubectl_version == "v${KUBECTL_VERSION}"[-+]* ]]; then
  echo "kubectl ${kubectl_version} already installed"
else
  base="https://dl.k8s.io/release/v${KUBECTL_VERSION}/bin/linux/${arch}"
  curl -fsSL --retry 3 -o "$tmp/kubectl" "$base/kubectl"
  echo "$(curl -fsSL --retry 3 "$base/kubectl.sha256")  $tmp/kubectl" | sha256sum -c -
  install -m 0755 "$tmp/kubectl" /usr/local/bin/kubectl
  kubectl version --client
fi

helm_version=$(helm version --template '{{.Version}}' 2>/dev/null) || true
if [ "$helm_version" = "v${HELM_VERSION}" ]; then
  echo "helm ${helm_version} already installed"
else
  tarball="helm-v${HELM_VERSION}-linux-${arch}.tar.gz"
  curl -fsSL --retry 3 -o "$tmp/$tarball" "https://get.helm.sh/$tarball"
  curl -fsSL --retry 3 -o "$tmp/$tarball.sha256sum" "https://get.helm.sh/$tarball.sha256sum"
  (cd "$tmp" && sha256sum -c "$tarball.sha256sum")
  tar -xzf "$tmp/$tarball" -C "$tmp"
  install -m 0755 "$tmp/linux-${arch}/helm" /usr/local/bin/helm
  helm version --short
fi
