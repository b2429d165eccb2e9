#!/usr/bin/env bash
# Installs the pinned Terraform (TF_VERSION) unless that exact version is already on PATH, and checks the
# download against HashiCorp's published SHA256SUMS before it is unpacked.
set -euo pipefail
: "${TF_VERSION:?TF_VERSION is not set (the CodeBuild project sets it from the gateway config)}"

installed=$(terraform version 2>/dev/null | head -n 1 || true)
if [ "$installed" = "Terraform v${TF_VERSION}" ]; then
  echo "terraform ${TF_VERSION} already installed"
  exit 0
fi

case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  x86_64) arch=amd64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
zip="terraform_${TF_VERSION}_linux_${arch}.zip"
base="https://releases.hashicorp.com/terraform/${TF_VERSION}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/$zip" "$base/$zip"
curl -fsSL --retry 3 -o "$tmp/SHA256SUMS" "$base/terraform_${TF_VERSION}_SHA256SUMS"
(cd "$tmp" && grep " ${zip}\$" SHA256SUMS | sha256sum -c -)
unzip -o -q "$tmp/$zip" -d /usr/local/bin terraform
terraform version
