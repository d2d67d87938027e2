/* The arm64 entry point: relocate ourselves (the ELF dynamic relocations gnu-efi's _relocate
 * applies), then efi_main. objcopy writes the PE headers (pei-aarch64-little); this file only
 * adds the empty .reloc block that makes the firmware treat the image as relocatable, as
 * gnu-efi's x86_64 crt0 does. */
    .text
    .globl _start
    .type _start, %function
_start:
    stp x29, x30, [sp, #-32]!
    mov x29, sp
    stp x0, x1, [sp, #16]
    mov x2, x0
    mov x3, x1
    adrp x0, ImageBase
    add x0, x0, :lo12:ImageBase
    adrp x1, _DYNAMIC
    add x1, x1, :lo12:_DYNAMIC
    bl _relocate
    cbnz x0, 0f
    ldp x0, x1, [sp, #16]
    bl efi_main
0:  ldp x29, x30, [sp], #32
    ret
    .size _start, . - _start

    .data
dummy:
    .4byte 0

    .section .reloc, "a"
    .4byte 0                    /* page RVA */
    .4byte 12                   /* block size: header and two ABSOLUTE (padding) entries */
    .2byte 0
    .2byte 0

    .section .note.GNU-stack, "", %progbits
