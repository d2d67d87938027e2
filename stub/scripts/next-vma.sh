#!/bin/sh
# Print the first page-aligned address after the last section of a PE file (objdump -h),
# where a new section can go without overlapping the image.
set -eu
top=0
for size_vma in $(${OBJDUMP:-objdump} -h "$1" | awk '$1 ~ /^[0-9]+$/ { print $3 ":" $4 }'); do
    end=$((0x${size_vma#*:} + 0x${size_vma%%:*}))
    if [ "$end" -gt "$top" ]; then top=$end; fi
done
printf '0x%x\n' $(((top + 4095) / 4096 * 4096))
