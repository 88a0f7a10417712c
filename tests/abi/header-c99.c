/* Compiled with -std=c99 -pedantic -Werror: the public headers must be plain C. */
#include <mneme/mneme.h>
#include <mneme/mneme_plugin.h>

int mneme_header_c99_check(void);
int mneme_header_c99_check(void) {
    mneme_runtime_desc rd = MNEME_RUNTIME_DESC_INIT;
    mneme_model_desc md = MNEME_MODEL_DESC_INIT;
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    mneme_sampling_params sp = MNEME_SAMPLING_PARAMS_INIT;
    mneme_feed_desc fd = MNEME_FEED_DESC_INIT;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    return (int)(rd.struct_size + md.struct_size + sd.struct_size + sp.struct_size + fd.struct_size + gd.struct_size);
}
