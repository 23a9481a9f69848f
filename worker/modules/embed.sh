#!/bin/sh
# embed.sh NAME FILE: write on standard output a C source that holds
# FILE's bytes as "const char NAME[]" (with a NUL after them) and their
# count as "const size_t NAME_len". Plain od and sed, so that building
# needs nothing more.
set -e
name=$1
file=$2
printf '/* Made from %s by embed.sh: edit that file instead. */\n' "${file##*/}"
printf '#include <stddef.h>\n\nconst char %s[] = {\n' "$name"
od -A n -v -t x1 "$file" | sed -e 's/ *\([0-9a-f][0-9a-f]\)/0x\1,/g' -e 's/^/\t/'
printf '\t0x00\n};\nconst size_t %s_len = sizeof(%s) - 1;\n' "$name" "$name"
