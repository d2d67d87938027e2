/* A debugger waiting for the stub, as shim's debug_wait: when the EFI variable
 * StubWorkbenchDebug (vendor DEBUG_VARIABLE_GUID) holds the byte 1, the stub says where the
 * firmware loaded it and waits. The debugger (QEMU's gdbstub, a JTAG probe; `workbench debug`
 * writes the variable into the machine's VARS file) loads the stub's symbols at that base,
 * sets its breakpoints and then sets stub_debugger_attached to 1; the stub goes on. Without
 * one it goes on after DEBUG_WAIT_SECONDS with a warning. Nothing in the image changes (its
 * signature and PCR 11 stay as they are); a normal boot pays one GetVariable. */
#ifndef STUB_DEBUG_H
#define STUB_DEBUG_H

#include <efi.h>

#define DEBUG_WAIT_SECONDS 300
#define DEBUG_VARIABLE_NAME L"StubWorkbenchDebug"
#define DEBUG_VARIABLE_GUID \
    {0xeec1a4e9, 0xd10a, 0x419b, {0x9d, 0x4b, 0x2d, 0xfd, 0x78, 0x35, 0x69, 0xf5}}

extern volatile UINT32 stub_debugger_attached;

/* 1 when the variable asks for the wait. */
int debug_requested(void);

/* `stub: debug base=0x... size=N symbol=stub_debugger_attached`, then the wait. */
void debug_wait(EFI_LOADED_IMAGE *self);

#endif
