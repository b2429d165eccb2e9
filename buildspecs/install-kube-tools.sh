#!/usr/bin/env bash
# Installs the pinned kubectl (KUBECTL_VERSION) and helm (HELM_VERSION) unless those versions are already on PATH.
# Each download is checked against KUBECTL_SHA256 / HELM_SHA256 (verify.kubectlSha256 / verify.helmSha256 of the
# gateway config) when set: a digest from a source the operator trusts. Without them, against the checksum each project
# publishes beside the download, which proves the transfer but not who made the file; the log says which was used.
# Each tool is asked for its version once (a process start each, on every Verify build); the log shows that answer.
# Only a freshly downloaded binary is run once more, to show it starts and is the pinned version.
# KUBECTL_DOWNLOAD_URL, HELM_DOWNLOAD_URL and KUBE_TOOLS_INSTALL_DIR exist for a mirror, and for the test that attacks
# the pinned digests with a release host of its own.
set -euo pipefail
: "${KUBECTL_VERSION:?KUBECTL_VERSION is not set (the CodeBuild project sets it from the gateway config)}"
: "${HELM_VERSION:?HELM_VERSION is not set (the CodeBuild project sets it from the gateway config)}"
kubectl_base_url="${KUBECTL_DOWNLOAD_URL:-https://dl.k8s.io/release}"
helm_base_url="${HELM_DOWNLOAD_URL:-https://get.helm.sh}"
install_dir="${KUBE_TOOLS_INSTALL_DIR:-/usr/local/bin}"

case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  x86_64) arch=amd64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# check_digest FILE NAME PINNED PUBLISHED_URL: the pinned digest when there is one, else the published one.
check_digest() {
  local file=$1 name=$2 pinned=$3 published_url=$4 expected source
  if [ -n "$pinned" ]; then
    expected=$pinned
    source="the pinned sha256 of the gateway config"
  else
    expected=$(curl -fsSL --retry 3 "$published_url" | awk '{print $1}')
    source="the checksum published beside the download (pin it in the gateway config to check against your own)"
  fi
  if ! echo "${expected}  ${file}" | sha256sum -c --quiet - >/dev/null 2>&1; then
    echo "${name}: sha256 $(sha256sum "$file" | awk '{print $1}') is not ${expected}, ${source}; not installed" >&2
    exit 1
  fi
  echo "${name}: sha256 checked against ${source}"
}

# The client's gitVersion, e.g. v1.32.4 (a distribution may add a suffix: v1.32.4-eks-…); empty without kubectl.
kubectl_version=$(kubectl version --client -o json 2>/dev/null | sed -n 's/^ *"gitVersion": *"\(v[^"]*\)".*/\1/p') || true
if [[ $kubectl_version == "v${KUBECTL_VERSION}" || $kubectl_version == "v${KUBECTL_VERSION}"[-+]* ]]; then
  echo "kubectl ${kubectl_version} already installed"
else
  base="${kubectl_base_url}/v${KUBECTL_VERSION}/bin/linux/${arch}"
  curl -fsSL --retry 3 -o "$tmp/kubectl" "$base/kubectl"
  check_digest "$tmp/kubectl" "kubectl v${KUBECTL_VERSION}" "${KUBECTL_SHA256:-}" "$base/kubectl.sha256"
  install -m 0755 "$tmp/kubectl" "$install_dir/kubectl"
  "$install_dir/kubectl" version --client
fi

helm_version=$(helm version --template '{{.Version}}' 2>/dev/null) || true
if [ "$helm_version" = "v${HELM_VERSION}" ]; then
  echo "helm ${helm_version} already installed"
else
  tarball="helm-v${HELM_VERSION}-linux-${arch}.tar.gz"
  curl -fsSL --retry 3 -o "$tmp/$tarball" "${helm_base_url}/$tarball"
  check_digest "$tmp/$tarball" "$tarball" "${HELM_SHA256:-}" "${helm_base_url}/$tarball.sha256sum"
  tar -xzf "$tmp/$tarball" -C "$tmp"
  install -m 0755 "$tmp/linux-${arch}/helm" "$install_dir/helm"
  "$install_dir/helm" version --short
fi
