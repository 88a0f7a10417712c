/* A plain C99 host: links libmneme, starts a runtime, finds the CPU backend, exercises errors. */
#include <mneme/mneme.h>

#include <stdio.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            ++failures;                                               \
        }                                                             \
    } while (0)

int main(void) {
    mneme_runtime_desc desc = MNEME_RUNTIME_DESC_INIT;
    mneme_runtime* rt = NULL;
    mneme_status st;
    size_t n = 0, i, devices = 0;
    int found_cpu = 0;
    mneme_model* model = NULL;

    CHECK(mneme_version() == MNEME_VERSION);
    CHECK(strcmp(mneme_status_string(MNEME_OK), "ok") == 0);

    desc.n_threads = 2;
    st = mneme_runtime_create(&desc, &rt);
    if (st != MNEME_OK) {
        fprintf(stderr, "runtime: %s: %s\n", mneme_status_string(st), mneme_last_error_message());
        return 1;
    }
    CHECK(mneme_runtime_plugin_count(rt, &n) == MNEME_OK);
    for (i = 0; i < n; ++i) {
        mneme_plugin_info info;
        memset(&info, 0, sizeof info);
        info.struct_size = sizeof info;
        CHECK(mneme_runtime_plugin_info(rt, i, &info) == MNEME_OK);
        if (info.state == MNEME_PLUGIN_STATE_LOADED && strcmp(info.name, "cpu") == 0) found_cpu = 1;
    }
    CHECK(found_cpu);
    CHECK(mneme_runtime_device_count(rt, &devices) == MNEME_OK && devices >= 1);

    /* Errors: a status plus a thread-local message, and the out-handle is cleared. */
    model = (mneme_model*)&n;
    st = mneme_model_open(rt, "/nonexistent/model/dir", NULL, &model);
    CHECK(st < 0);
    CHECK(model == NULL);
    CHECK(strlen(mneme_last_error_message()) > 0);
    CHECK(mneme_runtime_plugin_info(rt, n + 5, NULL) == MNEME_ERROR_INVALID_ARGUMENT);

    mneme_runtime_destroy(rt);
    mneme_runtime_destroy(NULL);
    if (failures) return 1;
    printf("C consumer: ok (%zu plugin entries, %zu devices)\n", n, devices);
    return 0;
}
