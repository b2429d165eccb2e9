/**
 * The sha256 digests of the kubectl and helm downloads the Verify build installs, for the versions the deployer
 * defaults to. The builds run on CodeBuild's Amazon Linux 2023 aarch64 image, so these are the linux/arm64 files:
 * the kubectl binary (https://dl.k8s.io/release/v<version>/bin/linux/arm64/kubectl) and the helm archive
 * (https://get.helm.sh/helm-v<version>-linux-arm64.tar.gz). Taken from the projects' published checksums and
 * compared with independent pinned copies of the same files; a version not listed needs its digest in the config
 * (verify.kubectlSha256 / verify.helmSha256), so no download is ever checked only against a checksum fetched from
 * the same host at build time.
 */
export const KNOWN_KUBE_TOOL_SHA256: { readonly kubectl: Readonly<Record<string, string>>; readonly helm: Readonly<Record<string, string>> } = {
  kubectl: {
    '1.32.4': 'c6f96d0468d6976224f5f0d81b65e1a63b47195022646be83e49d38389d572c2',
  },
  helm: {
    '3.17.3': '7944e3defd386c76fd92d9e6fec5c2d65a323f6fadc19bfb5e704e3eee10348e',
    '3.18.4': 'c0a45e67eef0c7416a8a8c9e9d5d2d30d70e4f4d3f7bea5de28241fffa8f3b89',
  },
};

/** Where an operator finds the digest of a version the deployer does not know. */
export const kubeToolChecksumSource = {
  kubectl: (version: string) => `https://dl.k8s.io/release/v${version}/bin/linux/arm64/kubectl.sha256`,
  helm: (version: string) => `https://get.helm.sh/helm-v${version}-linux-arm64.tar.gz.sha256sum`,
};
