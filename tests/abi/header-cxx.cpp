// Compiled with -std=c++20 -pedantic -Werror: the public headers must be clean C++ too.
#include <mneme/mneme.h>
#include <mneme/mneme_plugin.h>

int mneme_header_cxx_check();
int mneme_header_cxx_check() {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    static_assert(noexcept(mneme_version()), "C API functions are noexcept in C++");
    return static_cast<int>(rd.struct_size + md.struct_size + sd.struct_size + sp.struct_size + fd.struct_size +
                            gd.struct_size);
}
