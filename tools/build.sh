#!/usr/bin/env bash
# Builds the real control-plane parts from Go modules into a cache keyed by version:
#   $AKP_BIN_DIR (default: <repo>/.cache/bin)/<name>-<version>/<binary>
# Reuses what is already built; prints progress; GOTOOLCHAIN=local (no toolchain download).
# Prints the directory that holds the binaries (one per line per part) on success.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
source "$here/versions.env"
bin_root=${AKP_BIN_DIR:-$repo/.cache/bin}
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$bin_root"
# Go's module and build caches (5.6 GiB at the peak for the control plane and chart tools,
# 0.75 GiB for cyclonus built alone) are scratch: only the binaries are kept, so a cold
# build leaves disk for the Rust build after it (CI ran out once).
# AKP_KEEP_GO_CACHE=1 uses and keeps the user's own caches instead.
go_scratch=
if [ -z "${AKP_KEEP_GO_CACHE:-}" ]; then
  go_scratch="$bin_root/.go-scratch"
  export GOCACHE="$go_scratch/build" GOMODCACHE="$go_scratch/mod"
fi
drop_go_scratch() {
  [ -n "$go_scratch" ] && [ -d "$go_scratch" ] || return 0
  chmod -R u+w "$go_scratch" && rm -rf "$go_scratch"
}
trap drop_go_scratch EXIT

log() { printf '[tools/build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# build <module dir> <output dir> <package> <binary> [ldflags]
build() {
  local mod=$1 out=$2 pkg=$3 name=$4 ldflags=${5:-}
  if [ -x "$out/$name" ]; then log "$name: cached in $out"; return; fi
  log "$name: building $pkg (cold: several minutes on 2 cores)"
  local start=$SECONDS tmp="$out/.$name.tmp"
  mkdir -p "$out"
  (cd "$here/$mod" && go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" "$pkg")
  mv "$tmp" "$out/$name"
  log "$name: built in $((SECONDS - start))s"
}

kube_dir="$bin_root/kube-$KUBE_VERSION"
minor=${KUBE_VERSION#v1.}; minor=${minor%%.*}
kube_ld="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor -X k8s.io/component-base/version.gitTreeState=clean"
for c in kube-apiserver kube-controller-manager kube-scheduler kubectl; do
  build kube "$kube_dir" "k8s.io/kubernetes/cmd/$c" "$c" "$kube_ld"
done
etcd_dir="$bin_root/etcd-$ETCD_VERSION"
build etcd "$etcd_dir" go.etcd.io/etcd/server/v3 etcd
kwok_dir="$bin_root/kwok-$KWOK_VERSION"
build kwok "$kwok_dir" sigs.k8s.io/kwok/cmd/kwok kwok \
  "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION"
helm_dir="$bin_root/helm-$HELM_VERSION"
# As Helm's Makefile: the default Kubernetes version of `helm template` and lint is the
# minor of the client-go Helm is built with.
helm_k8s_minor=$(cd "$here/helm" && go list -m -f '{{.Version}}' k8s.io/client-go); helm_k8s_minor=${helm_k8s_minor#v0.}; helm_k8s_minor=${helm_k8s_minor%%.*}
helm_ld="-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ld="$helm_ld -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$helm_k8s_minor"
done
build helm "$helm_dir" helm.sh/helm/v3/cmd/helm helm "$helm_ld"
kubeconform_dir="$bin_root/kubeconform-$KUBECONFORM_VERSION"
build kubeconform "$kubeconform_dir" github.com/yannh/kubeconform/cmd/kubeconform kubeconform \
  "-X main.version=$KUBECONFORM_VERSION"
helm_docs_dir="$bin_root/helm-docs-$HELM_DOCS_VERSION"
build helm-docs "$helm_docs_dir" github.com/norwoodj/helm-docs/cmd/helm-docs helm-docs \
  "-X main.version=$HELM_DOCS_VERSION"
# cyclonus: a NetworkPolicy engine no one here wrote, the second judge of the segmentation
# table (tests/tests/segmentation.rs).
cyclonus_dir="$bin_root/cyclonus-$CYCLONUS_VERSION"
build cyclonus "$cyclonus_dir" github.com/mattfenwick/cyclonus/cmd/cyclonus cyclonus \
  "-X github.com/mattfenwick/cyclonus/pkg/cli.version=$CYCLONUS_VERSION"
# kube-state-metrics: the exporter metering reads, scraped live by tests/tests/live_metering.rs.
ksm_dir="$bin_root/kube-state-metrics-$KSM_VERSION"
build ksm "$ksm_dir" k8s.io/kube-state-metrics/v2 kube-state-metrics \
  "-X github.com/prometheus/common/version.Version=$KSM_VERSION"
log "all parts ready"
printf '%s\n' "$kube_dir" "$etcd_dir" "$kwok_dir" "$helm_dir" "$kubeconform_dir" "$helm_docs_dir" "$cyclonus_dir" "$ksm_dir"
