#!/usr/bin/env bash
# Installs the pinned Terraform (TF_VERSION) unless that exact version is already on PATH. The download is checked
# against SHA256SUMS, and SHA256SUMS against HashiCorp's signature, made with their release key, committed beside this
# script (hashicorp-release-key.asc): a SHA256SUMS from the same host as the zip proves nothing about who made either.
#
# The key's primary fingerprint is pinned below. The committed copy carries an expiry date that HashiCorp extends from
# time to time; a signature by the pinned key counts whether or not this copy calls the key expired, since the
# fingerprint, not the date, is what binds it. To refresh the copy: https://www.hashicorp.com/.well-known/pgp-key.txt,
# and check its fingerprint before committing it.
#
# TERRAFORM_RELEASES_URL (a mirror of releases.hashicorp.com), TERRAFORM_INSTALL_DIR, HASHICORP_RELEASE_KEY and
# HASHICORP_KEY_FINGERPRINT exist for a proxy or mirror, and for the test that attacks this check with its own key.
set -euo pipefail
: "${TF_VERSION:?TF_VERSION is not set (the CodeBuild project sets it from the gateway config)}"
releases="${TERRAFORM_RELEASES_URL:-https://releases.hashicorp.com}"
install_dir="${TERRAFORM_INSTALL_DIR:-/usr/local/bin}"
key="${HASHICORP_RELEASE_KEY:-$(dirname "$0")/hashicorp-release-key.asc}"
fingerprint="${HASHICORP_KEY_FINGERPRINT:-C874011F0AB405110D02105534365D9472D7468F}"

installed=$(terraform version 2>/dev/null | head -n 1 || true)
if [ "$installed" = "Terraform v${TF_VERSION}" ]; then
  echo "terraform ${TF_VERSION} already installed"
  exit 0
fi
command -v gpg >/dev/null || { echo "gpg is needed to check HashiCorp's signature and is not on this build image" >&2; exit 1; }

case "$(uname -m)" in
  aarch64 | arm64) arch=arm64 ;;
  x86_64) arch=amd64 ;;
  *) echo "unsupported machine $(uname -m)" >&2; exit 1 ;;
esac
zip="terraform_${TF_VERSION}_linux_${arch}.zip"
sums="terraform_${TF_VERSION}_SHA256SUMS"
base="${releases}/terraform/${TF_VERSION}"
tmp=$(mktemp -d)
# gpg may start an agent for the temporary keyring: stop it with the folder.
trap 'gpgconf --homedir "$tmp/gnupg" --kill gpg-agent 2>/dev/null || true; rm -rf "$tmp"' EXIT
curl -fsSL --retry 3 -o "$tmp/$zip" "$base/$zip"
curl -fsSL --retry 3 -o "$tmp/$sums" "$base/$sums"
curl -fsSL --retry 3 -o "$tmp/$sums.sig" "$base/$sums.sig"

# A keyring of its own holding only the committed key; the signature must be a valid one by a key whose primary
# fingerprint is the pinned one (the last field of gpg's VALIDSIG status line).
mkdir -m 700 "$tmp/gnupg"
gpg --batch --quiet --homedir "$tmp/gnupg" --import "$key" </dev/null >/dev/null 2>&1
if ! gpg --batch --homedir "$tmp/gnupg" --status-file "$tmp/status" --verify "$tmp/$sums.sig" "$tmp/$sums" </dev/null >/dev/null 2>"$tmp/gpg.err" ||
  ! grep -Eq "^\[GNUPG:\] VALIDSIG .* ${fingerprint}\$" "$tmp/status"; then
  echo "${sums}: not signed by HashiCorp's release key ${fingerprint}; terraform ${TF_VERSION} not installed" >&2
  sed 's/^/  /' "$tmp/gpg.err" >&2
  exit 1
fi
echo "${sums}: signed by HashiCorp's release key ${fingerprint}"
(cd "$tmp" && grep " ${zip}\$" "$sums" | sha256sum -c -)
unzip -o -q "$tmp/$zip" -d "$install_dir" terraform
"$install_dir/terraform" version
