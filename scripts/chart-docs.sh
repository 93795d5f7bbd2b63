#!/usr/bin/env bash
# Writes charts/akp/README.md with helm-docs (built from its Go module by
# tools/build.sh) from README.md.gotmpl and the `# --` comments of values.yaml.
# --check: fails, printing the difference, when the committed README is not what
# helm-docs writes (scripts/test.sh runs it).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
source "$repo/tools/versions.env"
helm_docs=${AKP_BIN_DIR:-$repo/.cache/bin}/helm-docs-$HELM_DOCS_VERSION/helm-docs
[ -x "$helm_docs" ] || "$repo/tools/build.sh" >/dev/null
chart=$repo/charts/akp
generate() { # <output file name inside the chart>
  "$helm_docs" --chart-search-root "$chart" --template-files README.md.gotmpl \
    --output-file "$1" --log-level warning
}
case "${1:-}" in
  "")
    generate README.md ;;
  --check)
    tmp=.README.check.md
    trap 'rm -f "$chart/$tmp"' EXIT
    generate "$tmp"
    if ! diff -u "$chart/README.md" "$chart/$tmp"; then
      echo "charts/akp/README.md is out of date (values.yaml or README.md.gotmpl changed): run scripts/chart-docs.sh and commit it" >&2
      exit 1
    fi ;;
  *) echo "usage: scripts/chart-docs.sh [--check]" >&2; exit 2 ;;
esac
