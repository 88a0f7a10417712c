/* Deliberately broken or limited plugins for the loader tests; FAKE_KIND selects the defect. */
#include <mneme/mneme_plugin.h>

#include <stdio.h>
#include <string.h>

#define KIND_NOT_A_PLUGIN 1
#define KIND_WRONG_ABI 2
#define KIND_REFUSES 3
#define KIND_PROBE_FAILS 4
#define KIND_NO_DEVICE 5

#if FAKE_KIND == KIND_NOT_A_PLUGIN
MNEME_PLUGIN_EXPORT int some_unrelated_function(void);
MNEME_PLUGIN_EXPORT int some_unrelated_function(void) { return 42; }
#else

static mneme_status MNEME_CALL probe(const mneme_host_api* host, mneme_plugin_probe_info* out) {
    (void)host;
#if FAKE_KIND == KIND_PROBE_FAILS
    snprintf(out->message, sizeof out->message, "driver exploded");
    return MNEME_ERROR_DEVICE_LOST;
#else
    out->score = 50;
    out->device_count = 0;
    snprintf(out->message, sizeof out->message, "no compatible driver installed");
    return MNEME_OK;
#endif
}

static mneme_status MNEME_CALL device_info(const mneme_host_api* h, uint32_t d, mneme_plugin_device_info* o) {
    (void)h; (void)d; (void)o;
    return MNEME_ERROR_INVALID_ARGUMENT;
}
static mneme_status MNEME_CALL open_be(const mneme_host_api* h, uint32_t d, mneme_backend** o) {
    (void)h; (void)d; (void)o;
    return MNEME_ERROR_UNSUPPORTED;
}
static void MNEME_CALL close_be(mneme_backend* b) { (void)b; }
static mneme_status MNEME_CALL balloc(mneme_backend* b, uint64_t s, uint32_t f, mneme_buffer** o) {
    (void)b; (void)s; (void)f; (void)o;
    return MNEME_ERROR_UNSUPPORTED;
}
static void MNEME_CALL bfree(mneme_backend* b, mneme_buffer* x) { (void)b; (void)x; }
static mneme_status MNEME_CALL bcopy_in(mneme_backend* b, mneme_buffer* x, uint64_t o, const void* s, uint64_t n) {
    (void)b; (void)x; (void)o; (void)s; (void)n;
    return MNEME_ERROR_UNSUPPORTED;
}
static mneme_status MNEME_CALL bcopy_out(mneme_backend* b, mneme_buffer* x, uint64_t o, void* d, uint64_t n) {
    (void)b; (void)x; (void)o; (void)d; (void)n;
    return MNEME_ERROR_UNSUPPORTED;
}
static mneme_status MNEME_CALL qcreate(mneme_backend* b, mneme_queue** q) { (void)b; (void)q; return MNEME_ERROR_UNSUPPORTED; }
static void MNEME_CALL qdestroy(mneme_backend* b, mneme_queue* q) { (void)b; (void)q; }
static mneme_status MNEME_CALL qsubmit(mneme_backend* b, mneme_queue* q, const mneme_op* o, size_t n) {
    (void)b; (void)q; (void)o; (void)n;
    return MNEME_ERROR_UNSUPPORTED;
}
static mneme_status MNEME_CALL qsync(mneme_backend* b, mneme_queue* q) { (void)b; (void)q; return MNEME_OK; }
static mneme_bool MNEME_CALL supports(mneme_backend* b, const mneme_op* o) { (void)b; (void)o; return MNEME_FALSE; }
static const char* MNEME_CALL last_error(void) { return ""; }

static const mneme_plugin_v1 table = {
    sizeof(mneme_plugin_v1),
#if FAKE_KIND == KIND_WRONG_ABI
    MNEME_PLUGIN_ABI_MAJOR + 1,
#else
    MNEME_PLUGIN_ABI_MAJOR,
#endif
    0, FAKE_NAME, "test", probe, device_info, open_be, close_be, balloc, NULL, bfree, NULL, bcopy_in, bcopy_out,
    qcreate, qdestroy, qsubmit, qsync, supports, last_error};

MNEME_PLUGIN_EXPORT const mneme_plugin_v1* MNEME_CALL mneme_plugin_entry_v1(uint32_t major, uint32_t minor);
MNEME_PLUGIN_EXPORT const mneme_plugin_v1* MNEME_CALL mneme_plugin_entry_v1(uint32_t major, uint32_t minor) {
    (void)major; (void)minor;
#if FAKE_KIND == KIND_REFUSES
    return NULL;
#else
    return &table;
#endif
}
#endif
