/* Built against an installed SDK only: finds the CPU backend through the installed layout. */
#include <mneme/mneme.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    mneme_runtime* rt = NULL;
    size_t devices = 0;
    mneme_device_info info;
    mneme_status st = mneme_runtime_create(NULL, &rt);
    if (st != MNEME_OK) {
        fprintf(stderr, "runtime: %s: %s\n", mneme_status_string(st), mneme_last_error_message());
        return 1;
    }
    if (mneme_runtime_device_count(rt, &devices) != MNEME_OK || devices == 0) return 1;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    if (mneme_runtime_device_info(rt, 0, &info) != MNEME_OK) return 1;
    printf("Mneme %s: %s device '%s'\n", mneme_version_string(), info.backend, info.name);
    mneme_runtime_destroy(rt);
    return strcmp(info.backend, "cpu") == 0 ? 0 : 1;
}
