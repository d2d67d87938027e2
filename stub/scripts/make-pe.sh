#!/bin/sh
# Turn the linked stub (ELF) into a PE image of its architecture, then append .sbat and .wbstub
# right after the last section, page aligned, as loadable data (inside SizeOfImage, so the stub
# reads them in memory). The workbench appends its payload sections after them.
#   make-pe.sh CROSS_PREFIX BFD_TARGET IN.so OUT.efi SBAT MARKER
set -eu
cross=$1 target=$2 in=$3 out=$4 sbat=$5 marker=$6
objcopy=${cross}objcopy
export OBJDUMP="${cross}objdump"
here=$(dirname "$0")
"$objcopy" -j .text -j .sdata -j .data -j .rodata -j .dynamic -j .dynsym -j .rel -j .rela \
    -j '.rel.*' -j '.rela.*' -j .reloc --target "$target" --subsystem=10 --file-alignment 0x1000 \
    --strip-all "$in" "$out.base"
[ -n "$sbat" ] || { mv "$out.base" "$out"; exit 0; }
"$objcopy" --add-section .sbat="$sbat" \
    --change-section-vma .sbat="$(sh "$here/next-vma.sh" "$out.base")" \
    --set-section-flags .sbat=contents,alloc,load,readonly,data "$out.base" "$out.sbat"
"$objcopy" --add-section .wbstub="$marker" \
    --change-section-vma .wbstub="$(sh "$here/next-vma.sh" "$out.sbat")" \
    --set-section-flags .wbstub=contents,alloc,load,readonly,data "$out.sbat" "$out.tmp"
rm -f "$out.base" "$out.sbat"
mv "$out.tmp" "$out"
