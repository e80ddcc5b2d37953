#!/usr/bin/env bash
# Checks that every C++ block of the README's "Embedding" section is the
# example's code: each block must occur verbatim in examples/embed/main.cpp,
# and the section must have at least one.
#
#   tests/examples/readme_code.sh SOURCE
set -euo pipefail
source=$1
awk -v example="$source/examples/embed/main.cpp" '
  BEGIN {
    while ((getline line < example) > 0)
      code = code line "\n"
    if (code == "") { print "cannot read " example > "/dev/stderr"; exit 2 }
  }
  /^## / { inside = ($0 == "## Embedding"); next }
  inside && /^```cpp$/ { block = ""; inblock = 1; next }
  inside && inblock && /^```$/ {
    inblock = 0; ++blocks
    if (index(code, block) == 0) {
      printf "README.md: the Embedding section'"'"'s C++ block %d is not in %s:\n%s",
        blocks, example, block > "/dev/stderr"
      bad = 1
    }
    next
  }
  inblock { block = block $0 "\n" }
  END {
    if (blocks == 0) { print "README.md: no C++ block in the Embedding section" > "/dev/stderr"; exit 1 }
    if (bad) exit 1
    printf "README.md: %d C++ blocks of the Embedding section are the example'"'"'s code\n", blocks
  }
' "$source/README.md"
