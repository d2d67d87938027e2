/* efi_main: read the stub's own sections, decide where the kernel and initrd come from, load
 * and verify them, then start the kernel with the embedded command line. Any failure prints a
 * `stub: error:` line and follows `.policy` (reset by default). */
#include <efi.h>
#include <efilib.h>

#include "arch.h"
#include "clock.h"
#include "cmdline.h"
#include "console.h"
#include "file_buf.h"
#include "debug.h"
#include "http.h"
#include "initrd.h"
#include "line.h"
#include "linux.h"
#include "local.h"
#include "log_net.h"
#include "measure.h"
#include "net.h"
#include "paths.h"
#include "pe.h"
#include "policy.h"
#include "sha256.h"
#include "url.h"

#ifndef STUB_VERSION
#define STUB_VERSION "0.0.0"
#endif

typedef struct {
    const uint8_t *data;
    size_t len;
    int found;
} section;

typedef struct {
    const char *what;     /* "kernel" or "initrd" */
    section content;      /* .linux / .initrd: a path (thin) or the bytes (fat) */
    section hash;         /* .linuxh / .initrdh */
    stub_path path;       /* thin only */
    file_buf file;
    char subject[STUB_URL_MAX];   /* what error lines name: the path or the URL fetched */
} payload;

typedef struct {
    EFI_HANDLE image;
    EFI_LOADED_IMAGE *self;
    stub_policy policy;
    CHAR16 *cmdline;
    UINTN cmdline_bytes;
    payload kernel;
    payload initrd;
    int fat;
    int use_net;                  /* TFTP from the PXE boot server */
    int use_http;                 /* HTTP, relative to the stub's own URL */
    EFI_PXE_BASE_CODE_PROTOCOL *pxe;
    int boot_family;
    uint8_t boot_server[16];
    const char *boot_server_error;
    http_boot http;
    const char *http_boot_error;  /* NULL: the stub came by HTTP Boot (why not, otherwise) */
    const char *http_error;       /* NULL: `http` can fetch http:// paths (why not, otherwise) */
    loaded_kernel loaded;
    EFI_HANDLE initrd_handle;
} stub_state;

static void policy_warning(void *ctx, const char *message, const uint8_t *detail, size_t len)
{
    (void)ctx;
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_warning(&tb, "policy", message);
    tb_str(&tb, ": ");
    tb_quoted(&tb, detail, len);
    console_end(&tb);
}

static void print_secure_boot(void)
{
    EFI_GUID global = EFI_GLOBAL_VARIABLE;
    UINT8 value = 0;
    UINTN size = sizeof value;
    EFI_STATUS status = uefi_call_wrapper(RT->GetVariable, 5, L"SecureBoot", &global, NULL, &size, &value);
    console_line(!EFI_ERROR(status) && size == 1 && value == 1 ? "secureboot=enabled"
                                                              : "secureboot=disabled");
}

static const char *find(stub_state *s, const char *name, section *out)
{
    return pe_find_section(s->self->ImageBase, s->self->ImageSize, name, &out->data, &out->len,
                           &out->found);
}

static EFI_STATUS read_sections(stub_state *s, section *cmdline, section *policy)
{
    static const char *const names[] = {".linux", ".linuxh", ".initrd", ".initrdh", ".cmdline", ".policy"};
    section *targets[] = {&s->kernel.content, &s->kernel.hash, &s->initrd.content,
                          &s->initrd.hash, cmdline, policy};
    for (unsigned i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *reason = find(s, names[i], targets[i]);
        if (reason)
            return console_error("stub", names[i], reason, EFI_LOAD_ERROR);
    }
    return EFI_SUCCESS;
}

static EFI_STATUS convert_cmdline(stub_state *s, const section *cmdline)
{
    UINTN units = (cmdline->found ? cmdline->len : 0) + 1;
    size_t used = 0;
    EFI_STATUS status = uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, units * sizeof(CHAR16),
                                          (void **)&s->cmdline);
    if (EFI_ERROR(status))
        return console_error("cmdline", NULL, "out of memory", status);
    const char *reason = cmdline_to_ucs2(cmdline->found ? cmdline->data : (const uint8_t *)"",
                                         cmdline->found ? cmdline->len : 0, s->cmdline, units, &used);
    if (reason)
        return console_error("cmdline", NULL, reason, EFI_INVALID_PARAMETER);
    s->cmdline_bytes = (used + 1) * sizeof(CHAR16);
    return EFI_SUCCESS;
}

static void print_cmdline(const section *cmdline)
{
    text_buf tb;
    char *storage = NULL;
    size_t len = cmdline->found ? cmdline->len : 0;
    while (len > 0 && cmdline->data[len - 1] == 0)
        len--;
    /* Sized for the worst case (every byte escaped as \xNN): the line is never cut short. */
    size_t cap = 4 * len + 32;
    if (EFI_ERROR(uefi_call_wrapper(BS->AllocatePool, 3, EfiLoaderData, cap, (void **)&storage)))
        return;
    console_begin(&tb, storage, cap);
    tb_str(&tb, "cmdline=");
    tb_quoted(&tb, cmdline->data, len);
    console_end(&tb);
    uefi_call_wrapper(BS->FreePool, 1, storage);
}

/* Thin stub: paths and hashes must be usable before anything is fetched. */
static EFI_STATUS check_thin_payload(payload *p, const char *hash_name)
{
    text_buf tb;
    tb_init(&tb, p->subject, sizeof p->subject);
    tb_value(&tb, p->content.data, p->content.len);
    const char *reason = path_parse(p->content.data, p->content.len, &p->path);
    if (reason)
        return console_error(p->what, p->subject, reason, EFI_INVALID_PARAMETER);
    if (!p->hash.found || p->hash.len != SHA256_DIGEST_SIZE) {
        char message[96];
        tb_init(&tb, message, sizeof message);
        tb_str(&tb, p->hash.found ? "bad " : "missing ");
        tb_str(&tb, hash_name);
        tb_str(&tb, p->hash.found ? " section (not 32 bytes)" : " section (nothing unverified runs)");
        return console_error(p->what, p->subject, message, EFI_SECURITY_VIOLATION);
    }
    return EFI_SUCCESS;
}

static EFI_STATUS choose_source(stub_state *s)
{
    EFI_HANDLE device = s->self->DeviceHandle;
    int local = local_available(device);
    s->pxe = net_find(device);
    s->http_boot_error = http_find(device, &s->http);
    int http = s->http_boot_error == NULL;
    s->http_error = s->http_boot_error;
    if (!http && s->pxe)
        s->http_error = http_from_pxe(device, s->pxe->Mode, &s->http);
    switch (s->policy.source) {
    case SOURCE_LOCAL:
        if (!local)
            return console_error("source", NULL, "no file system on the boot device (source=local)", EFI_NOT_FOUND);
        break;
    case SOURCE_NET:
        if (!s->pxe)
            return console_error("source", NULL, "no started PXE on the boot device (source=net)", EFI_NOT_FOUND);
        s->use_net = 1;
        break;
    case SOURCE_HTTP:
        if (!http)
            return console_error("source", NULL, "the stub was not loaded by HTTP Boot (source=http)", EFI_NOT_FOUND);
        s->use_http = 1;
        break;
    default:
        if (!local && !s->pxe && !http) {
            char message[200];
            text_buf tb;
            tb_init(&tb, message, sizeof message);
            tb_str(&tb, "no file system, no PXE and no HTTP Boot on the boot device (http: ");
            tb_str(&tb, s->http_boot_error);
            tb_str(&tb, ")");
            return console_error("source", NULL, message, EFI_NOT_FOUND);
        }
        s->use_http = !local && http;
        s->use_net = !local && !http;
    }
    if (s->pxe)
        s->boot_server_error = net_boot_server(s->pxe, &s->boot_family, s->boot_server);

    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    if (s->use_http) {
        size_t start = 0, count = 0;
        url_authority(s->http.boot.uri, s->http.boot.uri_len, &start, &count);
        line_field(&tb, "source", "http");
        line_field_bytes(&tb, "server", s->http.boot.uri + start, count);
        line_field_bytes(&tb, "url", s->http.boot.uri, s->http.boot.uri_len);
    } else if (s->use_net) {
        line_field(&tb, "source", "net");
        if (!s->boot_server_error) {
            line_key(&tb, "server");
            tb_ip(&tb, s->boot_family, s->boot_server, 0);
        }
    } else {
        line_field(&tb, "source", "local");
    }
    console_end(&tb);
    return EFI_SUCCESS;
}

/* `computed`: the digest of p->file taken while it was received, or NULL to hash it now. */
static EFI_STATUS verify(const payload *p, int required, const uint8_t *computed, const char **outcome)
{
    *outcome = "unchecked";
    if (!p->hash.found && !required)
        return EFI_SUCCESS;
    if (p->hash.len != SHA256_DIGEST_SIZE) {
        const char *reason = p->hash.found ? "hash section is not 32 bytes" : "no hash section";
        return console_error(p->what, p->subject, reason, EFI_SECURITY_VIOLATION);
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    if (computed)
        CopyMem(digest, (void *)computed, SHA256_DIGEST_SIZE);
    else
        sha256_digest(p->file.data, p->file.size, digest);
    int same = 1;
    for (unsigned i = 0; i < SHA256_DIGEST_SIZE; i++)
        same &= digest[i] == p->hash.data[i];
    if (!same) {
        char expected[2 * SHA256_DIGEST_SIZE + 1], got[2 * SHA256_DIGEST_SIZE + 1], message[200];
        text_buf tb;
        sha256_hex(p->hash.data, expected);
        sha256_hex(digest, got);
        tb_init(&tb, message, sizeof message);
        tb_str(&tb, "sha256 mismatch (expected ");
        tb_str(&tb, expected);
        tb_str(&tb, ", got ");
        tb_str(&tb, got);
        tb_str(&tb, ")");
        return console_error(p->what, p->subject, message, EFI_SECURITY_VIOLATION);
    }
    *outcome = "ok";
    return EFI_SUCCESS;
}

static void print_loaded(const payload *p, const char *outcome, int fat)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_word(&tb, "loaded");
    line_word(&tb, p->what);
    if (fat)
        line_word(&tb, "embedded");
    else
        line_field_bytes(&tb, "path", p->content.data, p->content.len);
    line_field_u64(&tb, "bytes", p->file.size);
    line_field(&tb, "sha256", outcome);
    console_end(&tb);
}

#define WATCHDOG_SECONDS 300
#define WATCHDOG_CODE 0x10000  /* codes below are the firmware's */
/* Over the network the fetch-timeout is the bound, checked while bytes come; the watchdog,
 * this much later, only catches a firmware call that never returns. */
#define WATCHDOG_MARGIN_SECONDS 60

/* `transfer <what> via=... bytes=N [blksize=N window=N] ms=N [hash_ms=N nic_ms=N] [timeouts=N]` */
static void print_transfer(const payload *p, const net_transfer *transfer)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    console_begin(&tb, storage, sizeof storage);
    line_word(&tb, "transfer");
    line_word(&tb, p->what);
    line_field(&tb, "via", transfer->via);
    line_field_u64(&tb, "bytes", p->file.size);
    if (transfer->blksize) {
        line_field_u64(&tb, "blksize", transfer->blksize);
        line_field_u64(&tb, "window", transfer->window);
    }
    line_field_u64(&tb, "ms", transfer->ms);
    if (transfer->hash_ms)
        line_field_u64(&tb, "hash_ms", transfer->hash_ms);
    if (transfer->nic_ms)
        line_field_u64(&tb, "nic_ms", transfer->nic_ms);
    if (transfer->blksize)
        line_field_u64(&tb, "timeouts", transfer->timeouts);
    if (transfer->reads)
        line_field_u64(&tb, "reads", transfer->reads);
    console_end(&tb);
}

typedef enum { FROM_ESP, FROM_TFTP, FROM_HTTP } transport;

/* Where a path is fetched from: a URL says so itself; a plain path follows the source. */
static transport transport_of(const stub_state *s, const stub_path *path)
{
    if (path->scheme == PATH_HTTP)
        return FROM_HTTP;
    if (path->scheme == PATH_TFTP)
        return FROM_TFTP;
    return s->use_http ? FROM_HTTP : s->use_net ? FROM_TFTP : FROM_ESP;
}

/* The URL (or "esp") a payload comes from; NULL or a reason it has none. */
static const char *describe_source(const stub_state *s, const payload *p, transport how, text_buf *from)
{
    if (how == FROM_ESP) {
        tb_str(from, "esp");
        return NULL;
    }
    if (how == FROM_HTTP) {
        if (p->path.scheme == PATH_HTTP)
            return url_for_path(NULL, 0, &p->path, from->buf, from->cap);
        return url_for_path(s->http.boot.uri, s->http.boot.uri_len, &p->path, from->buf, from->cap);
    }
    tb_str(from, "tftp://");
    if (p->path.scheme == PATH_TFTP)
        tb_ip(from, p->path.family, p->path.server, 1);
    else if (!s->boot_server_error)
        tb_ip(from, s->boot_family, s->boot_server, 1);
    else
        tb_str(from, "(unknown)");
    tb_str(from, "/");
    tb_str(from, p->path.name);
    return NULL;
}

static EFI_STATUS fetch(stub_state *s, payload *p, transport how, const fetch_deadline *deadline,
                        net_transfer *transfer, const char **reason)
{
    if (how == FROM_HTTP) {
        if (s->http_error) {
            *reason = "http:// paths need a network boot (HTTP Boot or PXE) on a NIC with EFI_HTTP_PROTOCOL";
            return EFI_NOT_FOUND;
        }
        return net_http_read(s->self->DeviceHandle, &s->http, &s->policy, p->subject, deadline, &p->file,
                             transfer, reason);
    }
    if (how == FROM_TFTP) {
        if (!s->pxe) {
            *reason = "tftp:// paths need a network boot (no PXE on the boot device)";
            return EFI_NOT_FOUND;
        }
        if (p->path.scheme == PATH_TFTP)
            return net_read(s->self->DeviceHandle, s->pxe, &s->policy, p->path.family, p->path.server,
                            p->path.name, deadline, &p->file, transfer, reason);
        if (s->boot_server_error) {
            *reason = s->boot_server_error;
            return EFI_NOT_FOUND;
        }
        return net_read(s->self->DeviceHandle, s->pxe, &s->policy, s->boot_family, s->boot_server,
                        p->path.name, deadline, &p->file, transfer, reason);
    }
    CHAR16 esp_path[STUB_PATH_MAX + 1];
    UINT64 started = clock_ms();
    *reason = path_esp_ucs2(&p->path, esp_path, sizeof esp_path / sizeof esp_path[0]);
    EFI_STATUS status = *reason ? EFI_INVALID_PARAMETER
                                : local_read(s->self->DeviceHandle, esp_path, &p->file, reason);
    transfer->ms = clock_ms() - started;
    return status;
}

/* Thin stub: fetch one file from the ESP, over TFTP or over HTTP, then verify it. */
static EFI_STATUS fetch_thin(stub_state *s, payload *p)
{
    static char source[STUB_URL_MAX];
    char storage[CONSOLE_LINE_MAX];
    text_buf tb, from;
    transport how = transport_of(s, &p->path);
    const char *reason;

    tb_init(&from, source, sizeof source);
    reason = describe_source(s, p, how, &from);
    if (reason)
        return console_error(p->what, p->subject, reason, EFI_INVALID_PARAMETER);
    size_t from_len = 0;
    while (source[from_len])
        from_len++;
    if (how != FROM_ESP) {
        /* Over the network, errors name the URL actually fetched. */
        tb_init(&tb, p->subject, sizeof p->subject);
        tb_bytes(&tb, (const uint8_t *)source, from_len);
    }

    console_begin(&tb, storage, sizeof storage);
    line_word(&tb, "loading");
    line_word(&tb, p->what);
    line_field_bytes(&tb, "path", p->content.data, p->content.len);
    line_field_bytes(&tb, "from", (const uint8_t *)source, from_len);
    console_end(&tb);

    /* A long transfer must not trip the boot manager's 5-minute watchdog; over the network the
     * fetch-timeout ends a slow one first, with an error line and the policy. */
    UINTN watchdog = WATCHDOG_SECONDS;
    if (how != FROM_ESP && s->policy.fetch_timeout + WATCHDOG_MARGIN_SECONDS > watchdog)
        watchdog = s->policy.fetch_timeout + WATCHDOG_MARGIN_SECONDS;
    uefi_call_wrapper(BS->SetWatchdogTimer, 4, watchdog, WATCHDOG_CODE, 0, NULL);
    fetch_deadline deadline = net_deadline(s->policy.fetch_timeout);
    net_transfer transfer = {.via = "esp"};
    EFI_STATUS status = fetch(s, p, how, &deadline, &transfer, &reason);
    if (how != FROM_ESP)
        uefi_call_wrapper(BS->SetWatchdogTimer, 4, WATCHDOG_SECONDS, WATCHDOG_CODE, 0, NULL);
    if (EFI_ERROR(status))
        return console_error(p->what, p->subject, reason, status);
    print_transfer(p, &transfer);

    const char *outcome;
    status = verify(p, 1, transfer.has_digest ? transfer.digest : NULL, &outcome);
    if (EFI_ERROR(status))
        return status;
    print_loaded(p, outcome, 0);
    return EFI_SUCCESS;
}

static EFI_STATUS take_embedded(payload *p)
{
    const char *outcome;
    p->file.data = (uint8_t *)p->content.data;
    p->file.size = p->content.len;
    p->file.pages = 0;
    text_buf tb;
    tb_init(&tb, p->subject, sizeof p->subject);
    tb_str(&tb, "(embedded)");
    EFI_STATUS status = verify(p, 0, NULL, &outcome);
    if (EFI_ERROR(status))
        return status;
    print_loaded(p, outcome, 1);
    return EFI_SUCCESS;
}

static int has_initrd(const stub_state *s)
{
    return s->initrd.content.found && s->initrd.content.len > 0;
}

/* A kernel that is not a loadable PE of our own architecture fails before the initrd is fetched. */
static EFI_STATUS check_kernel_image(const payload *kernel)
{
    pe_info info;
    const char *reason = pe_parse(kernel->file.data, kernel->file.size, ARCH_PE_MACHINE, &info);
    return reason ? console_error(kernel->what, kernel->subject, reason, EFI_LOAD_ERROR) : EFI_SUCCESS;
}

static EFI_STATUS load_payloads(stub_state *s)
{
    EFI_STATUS status = s->fat ? take_embedded(&s->kernel) : fetch_thin(s, &s->kernel);
    if (!EFI_ERROR(status))
        status = check_kernel_image(&s->kernel);
    if (!EFI_ERROR(status) && has_initrd(s))
        status = s->fat ? take_embedded(&s->initrd) : fetch_thin(s, &s->initrd);
    return status;
}

#define FOREIGN_INITRD "another loader already registered an initrd (LoadFile2 on the initrd media path)"

static void print_nx(nx_result result)
{
    static const char *const values[] = {
        [NX_APPLIED] = "applied", [NX_UNAVAILABLE] = "unavailable", [NX_FAILED] = "failed",
    };
    static const char *const notes[] = {
        [NX_UNAVAILABLE] = "no EFI_MEMORY_ATTRIBUTE_PROTOCOL",
        [NX_FAILED] = "the firmware refused the attributes",
    };
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    if (result == NX_NOT_REQUESTED)
        return;
    console_begin(&tb, storage, sizeof storage);
    line_field(&tb, "kernel-nx", values[result]);
    if (notes[result])
        line_note(&tb, notes[result]);
    console_end(&tb);
}

/* `tpm=absent`, or `measured pcr=11 events=N` (with `failed=N` when the TPM refused some). */
static void print_measurement(measure_result result)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    if (!result.tpm) {
        console_line("tpm=absent");
        return;
    }
    console_begin(&tb, storage, sizeof storage);
    tb_str(&tb, "measured pcr=11 events=");
    tb_u64(&tb, result.events);
    if (result.failed) {
        tb_str(&tb, " failed=");
        tb_u64(&tb, result.failed);
    }
    console_end(&tb);
}

static EFI_STATUS boot(stub_state *s)
{
    section cmdline, policy;
    EFI_STATUS status = read_sections(s, &cmdline, &policy);
    if (EFI_ERROR(status))
        return status;
    if (policy.found)
        policy_parse(policy.data, policy.len, &s->policy, policy_warning, NULL);
    /* Netbooted: the lines so far, and every later one, also go over syslog. */
    log_net_start(s->self->DeviceHandle, &s->policy);
    print_measurement(measure_sections(s->self->ImageBase, s->self->ImageSize));

    if (!s->kernel.content.found || s->kernel.content.len == 0)
        return console_error("kernel", NULL, s->kernel.content.found ? "empty .linux section" : "no .linux section",
                      EFI_NOT_FOUND);
    s->fat = s->kernel.content.len >= 2 && s->kernel.content.data[0] == 'M' &&
             s->kernel.content.data[1] == 'Z';

    status = convert_cmdline(s, &cmdline);
    if (EFI_ERROR(status))
        return status;
    if (!s->fat) {
        status = check_thin_payload(&s->kernel, ".linuxh");
        if (!EFI_ERROR(status) && has_initrd(s))
            status = check_thin_payload(&s->initrd, ".initrdh");
        if (!EFI_ERROR(status))
            status = choose_source(s);
        if (EFI_ERROR(status))
            return status;
    }
    print_cmdline(&cmdline);

    /* Before anything is fetched: a foreign initrd would reach the kernel we verify. */
    status = initrd_check_unclaimed();
    if (EFI_ERROR(status))
        return console_error("initrd", NULL, FOREIGN_INITRD, status);

    status = load_payloads(s);
    if (EFI_ERROR(status))
        return status;

    const char *reason = linux_load(s->kernel.file.data, s->kernel.file.size, &s->loaded);
    if (reason)
        return console_error("kernel", s->kernel.subject, reason, EFI_LOAD_ERROR);
    /* The file copy is no longer needed once the image is laid out. */
    file_buf_free(&s->kernel.file);
    print_nx(linux_protect(&s->loaded));

    if (has_initrd(s)) {
        status = initrd_install(s->initrd.file.data, s->initrd.file.size, &s->initrd_handle);
        if (status == EFI_ALREADY_STARTED)
            return console_error("initrd", s->initrd.subject, FOREIGN_INITRD, status);
        if (EFI_ERROR(status))
            return console_error("initrd", s->initrd.subject, "cannot install LoadFile2 for the initrd", status);
    }
    console_line("starting kernel");
    log_net_stop(LOG_NET_KERNEL_WAIT_MS);  /* the kernel finds no UDP child of ours */
    guard_end how;
    status = linux_start(s->image, s->self, &s->loaded, s->cmdline, s->cmdline_bytes, &how);
    unsigned failures = exit_guard_boot_services_failures();
    if (!failures) {
        log_net_start(s->self->DeviceHandle, &s->policy);  /* back before ExitBootServices */
    } else {
        char storage[CONSOLE_LINE_MAX];
        text_buf tb;
        console_begin(&tb, storage, sizeof storage);
        line_warning(&tb, "kernel", "ExitBootServices failed (");
        tb_u64(&tb, failures);
        tb_str(&tb, failures == 1 ? " call)" : " calls)");
        console_end(&tb);
    }
    if (how == GUARD_EXITED)
        return console_error("kernel", s->kernel.subject, "the kernel's EFI stub failed", EFI_ERROR(status) ? status : EFI_LOAD_ERROR);
    return console_error("kernel", s->kernel.subject, "the kernel returned", EFI_ERROR(status) ? status : EFI_LOAD_ERROR);
}

static void release(stub_state *s)
{
    initrd_uninstall(s->initrd_handle);
    s->initrd_handle = NULL;
    linux_unload(&s->loaded);
    file_buf_free(&s->kernel.file);
    file_buf_free(&s->initrd.file);
    if (s->cmdline)
        uefi_call_wrapper(BS->FreePool, 1, s->cmdline);
    s->cmdline = NULL;
}

static EFI_STATUS follow_policy(stub_state *s, EFI_STATUS status)
{
    char storage[CONSOLE_LINE_MAX];
    text_buf tb;
    unsigned on_error = s->policy.on_error;
    if (s->self && !exit_guard_boot_services_failures())
        log_net_start(s->self->DeviceHandle, &s->policy);  /* an error before the policy was read */
    /* After a failed ExitBootServices the firmware's timer is off (EDK2 stops it first and
     * does not restart it): its boot manager would hang, so a reset takes the place of exit. */
    if (on_error == ON_ERROR_EXIT && exit_guard_boot_services_failures()) {
        console_warning("policy", "on-error=exit after a failed ExitBootServices: resetting instead");
        on_error = ON_ERROR_RESET;
    }
    switch (on_error) {
    case ON_ERROR_EXIT:
        console_line("returning to=firmware");
        log_net_stop(LOG_NET_ERROR_WAIT_MS);
        release(s);
        return status;
    case ON_ERROR_HALT:
        console_line("halting");
        log_net_stop(LOG_NET_ERROR_WAIT_MS);
        uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
        for (;;)
            arch_idle();
    default:
        /* The boot manager's 5-minute watchdog must not cut a longer error-delay short. */
        uefi_call_wrapper(BS->SetWatchdogTimer, 4, 0, 0, 0, NULL);
        console_begin(&tb, storage, sizeof storage);
        line_word(&tb, "resetting");
        line_field_u64(&tb, "in", s->policy.error_delay);
        tb_str(&tb, "s");
        console_end(&tb);
        log_net_stop(LOG_NET_ERROR_WAIT_MS);
        for (unsigned i = 0; i < s->policy.error_delay; i++)
            uefi_call_wrapper(BS->Stall, 1, 1000000);
        uefi_call_wrapper(RT->ResetSystem, 4, EfiResetCold, status, 0, NULL);
        return status;
    }
}

EFI_STATUS efi_main(EFI_HANDLE image, EFI_SYSTEM_TABLE *system_table)
{
    static stub_state state;
    InitializeLib(image, system_table);
    state.image = image;
    state.kernel.what = "kernel";
    state.initrd.what = "initrd";
    policy_defaults(&state.policy);

    console_line("version=" STUB_VERSION);
    print_secure_boot();
    EFI_STATUS status = uefi_call_wrapper(BS->HandleProtocol, 3, image, &LoadedImageProtocol,
                                          (void **)&state.self);
    if (EFI_ERROR(status)) {
        console_error("stub", NULL, "no LoadedImage protocol", status);
        return follow_policy(&state, status);
    }
    if (debug_requested())
        debug_wait(state.self);
    status = boot(&state);
    return follow_policy(&state, status);
}
