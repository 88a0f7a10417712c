/* A minimal C99 host: open a model, stream a continuation of a prompt, report speed.
 *
 *   c-host MODEL_DIR "prompt text" [max_tokens]
 *
 * Uses only <mneme/mneme.h>; error handling follows the API's rule: a negative status is an
 * error and mneme_last_error_message() says why. */
#include <mneme/mneme.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static mneme_bool MNEME_CALL print_token(void* user_data, const mneme_token_event* ev) {
    (void)user_data;
    fwrite(ev->text, 1, ev->text_len, stdout);
    fflush(stdout);
    return MNEME_TRUE;
}

static int fail(const char* what, mneme_status st) {
    fprintf(stderr, "%s: %s: %s\n", what, mneme_status_string(st), mneme_last_error_message());
    return 1;
}

int main(int argc, char** argv) {
    mneme_runtime* rt = NULL;
    mneme_model* model = NULL;
    mneme_session* session = NULL;
    mneme_session_desc sd = MNEME_SESSION_DESC_INIT;
    mneme_generate_desc gd = MNEME_GENERATE_DESC_INIT;
    mneme_generate_result result;
    mneme_status st;
    int rc = 1;

    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR PROMPT [MAX_TOKENS]\n", argv[0]);
        return 2;
    }
    if ((st = mneme_runtime_create(NULL, &rt)) != MNEME_OK) return fail("runtime", st);
    if ((st = mneme_model_open(rt, argv[1], NULL, &model)) != MNEME_OK) {
        fail("model", st);
        goto done;
    }
    sd.n_ctx = 2048;
    if ((st = mneme_session_create(model, &sd, &session)) != MNEME_OK) {
        fail("session", st);
        goto done;
    }
    if ((st = mneme_session_feed_text(session, argv[2], strlen(argv[2]), NULL)) != MNEME_OK) {
        fail("prompt", st);
        goto done;
    }
    gd.max_tokens = argc > 3 ? (uint32_t)atoi(argv[3]) : 48;
    gd.token_fn = print_token;
    memset(&result, 0, sizeof result);
    result.struct_size = sizeof result;
    st = mneme_session_generate(session, &gd, &result);
    printf("\n");
    if (st < 0) {
        fail("generate", st);
        goto done;
    }
    fprintf(stderr, "%llu tokens, %.1f tokens/s\n", (unsigned long long)result.n_tokens,
            result.decode_seconds > 0 ? (double)result.n_tokens / result.decode_seconds : 0.0);
    rc = 0;
done:
    mneme_session_destroy(session);
    mneme_model_destroy(model);
    mneme_runtime_destroy(rt);
    return rc;
}
