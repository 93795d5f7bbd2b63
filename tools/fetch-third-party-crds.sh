#!/usr/bin/env bash
# Refreshes tools/third-party-crds/ from the Go modules (the Go module proxy is the only
# network this project may use) at the versions of tools/versions.env: the CRDs of the
# kinds the chart renders besides its own (ServiceMonitor, PrometheusRule; cert-manager's
# Certificate, Issuer, ClusterIssuer).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/versions.env"
out="$here/third-party-crds"
export GOTOOLCHAIN=local GOFLAGS=-mod=mod
dir_of() { (cd "$(mktemp -d)" && go mod download -json "$1" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p'); }
prom=$(dir_of "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")
cm=$(dir_of "github.com/cert-manager/cert-manager@$CERT_MANAGER_VERSION")
mkdir -p "$out"
for f in monitoring.coreos.com_servicemonitors.yaml monitoring.coreos.com_prometheusrules.yaml; do
  install -m 644 "$prom/example/prometheus-operator-crd/$f" "$out/$f"
done
for f in cert-manager.io_certificates.yaml cert-manager.io_issuers.yaml cert-manager.io_clusterissuers.yaml; do
  install -m 644 "$cm/deploy/crds/$f" "$out/$f"
done
echo "refreshed $out from prometheus-operator $PROMETHEUS_OPERATOR_VERSION and cert-manager $CERT_MANAGER_VERSION"
