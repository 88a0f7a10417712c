// The one exported symbol of the CUDA plugin module.
#include "cuda-backend.h"

extern "C" MNEME_PLUGIN_EXPORT const mneme_plugin_v1* MNEME_CALL mneme_plugin_entry_v1(uint32_t host_abi_major,
                                                                                       uint32_t) {
    return host_abi_major == MNEME_PLUGIN_ABI_MAJOR ? mneme_cuda_plugin_table() : nullptr;
}
