#!/usr/bin/env bash
# tests/format_check.sh: checks, without changing anything, that every tracked *.cc and *.h file
# is formatted as the repository's .clang-format says, with Debian's clang-format 14.
# Prints each file that would change and exits 1 if any would; 0 when all are formatted.
# To format a file: clang-format-14 -i --style=file FILE
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cf=${CLANG_FORMAT:-clang-format-14}
command -v "$cf" >/dev/null || { echo "format check: $cf not found (apt-get install clang-format-14)" >&2; exit 2; }

bad=()
while IFS= read -r -d '' f; do
  "$cf" --style=file --dry-run -Werror "$f" >/dev/null 2>&1 || bad+=("$f")
done < <(git ls-files -z -- '*.cc' '*.h')

if ((${#bad[@]})); then
  printf 'format check: %d file(s) not formatted as .clang-format says (clang-format-14 -i --style=file FILE):\n' "${#bad[@]}" >&2
  printf '  %s\n' "${bad[@]}" >&2
  exit 1
fi
