#!/usr/bin/env bash
# Fails when a Markdown link of the repository points outside it or at nothing: every
# inline link `[text](target)`, reference definition `[label]: target` and bracketed
# path `[`../x`]` of the tracked *.md and *.gotmpl files is resolved against its file's
# directory (a leading / against the repository's root); web links and same-file
# anchors are not followed. A clone alone must make sense: nothing may depend on what
# happens to lie beside it. And README.md links every page of docs/.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
bad=0 checked=0
while IFS= read -r -d '' file; do
  dir=$(dirname "$file")
  # target<TAB>line: inline links, reference definitions, bracketed code paths.
  targets=$(grep -noE '\]\([^)[:space:]]+|^ {0,3}\[[^]]+\]:[[:space:]]*[^[:space:]]+|\[`\.{1,2}/[^`]+`\]' "$file" |
    sed -E 's/^([0-9]+):\]\((.*)$/\2\t\1/; s/^([0-9]+): {0,3}\[[^]]+\]:[[:space:]]*(.*)$/\2\t\1/; s/^([0-9]+):\[`(.*)`\]$/\2\t\1/' || true)
  [ -n "$targets" ] || continue
  while IFS=$'\t' read -r target line; do
    target=${target%%#*}; target=${target%%\?*}
    case "$target" in ''|http://*|https://*|mailto:*) continue ;; esac
    checked=$((checked + 1))
    case "$target" in
      /*) path=$repo$target ;;
      *) path=$repo/$dir/$target ;;
    esac
    resolved=$(realpath -m "$path")
    if [[ "$resolved/" != "$repo/"* ]]; then
      echo "$file:$line: links to $target, outside the repository" >&2; bad=$((bad + 1))
    elif [ ! -e "$resolved" ]; then
      echo "$file:$line: links to $target, which does not exist" >&2; bad=$((bad + 1))
    fi
  done <<< "$targets"
done < <(git ls-files -z -- '*.md' '*.gotmpl')
# The README is the way in: it links every page of docs/.
for page in $(git ls-files -- 'docs/*.md'); do
  grep -qF "]($page" README.md || { echo "README.md: no link to $page" >&2; bad=$((bad + 1)); }
done
if [ "$bad" -gt 0 ]; then
  echo "check-links: $bad of $checked relative links are broken or leave the repository" >&2
  exit 1
fi
echo "check-links: $checked relative links, all inside the repository"
