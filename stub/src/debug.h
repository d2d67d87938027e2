/* `.policy debug=wait`: the stub says where the firmware loaded it and waits for a debugger, as
 * shim's debug_wait does. A debugger attached to the machine (QEMU's gdbstub, a JTAG probe)
 * loads the stub's symbols at that base, sets its breakpoints and then sets
 * stub_debugger_attached to 1; the stub goes on. Without one it goes on after
 * DEBUG_WAIT_SECONDS with a warning, so a stub shipped with the key does not hang forever. */
#ifndef STUB_DEBUG_H
#define STUB_DEBUG_H

#include <efi.h>

#define DEBUG_WAIT_SECONDS 300

extern volatile UINT32 stub_debugger_attached;

/* `stub: debug base=0x... size=N symbol=stub_debugger_attached`, then the wait. */
void debug_wait(EFI_LOADED_IMAGE *self);

#endif
