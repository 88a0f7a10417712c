/* Times llama.cpp (libllama from the node-llama-cpp npm package) the way llama-bench does: one
 * context, a persistent ggml thread pool attached to it, a prompt decoded in batches of --batch
 * tokens (default: all of it as one), then single-token decode steps fed back greedily. With
 * --logits-out it instead writes the logits of every prompt position (float32, row-major
 * [n_tokens, n_vocab]) for the agreement check.
 *
 *   llama-run --model F.gguf --bins DIR (--tokens 1,2,3 | --tokens-file F) [--threads N]
 *             [--gen-tokens G] [--reps R] [--kv f16|f32] [--repack 0|1] [--flash-attn 0]
 *             [--poll N] [--batch B] [--ubatch U] [--warmup-tokens W] [--logits-out FILE]
 *             [--rounds-on-stdin]
 *
 * --tokens-file reads the ids (separated by commas or white space) from a file, for prompts longer
 * than one command-line argument may be (128 KiB). --batch B feeds the prompt in llama_decode calls
 * of B tokens and --ubatch U (default B) is llama.cpp's physical batch: at long contexts the prompt
 * cannot be one ubatch (the attention's score matrix is n_ctx x n_ubatch x heads floats); llama.cpp's
 * own defaults are 2048 and 512. The context holds the prompt plus G decode steps. --warmup-tokens W
 * makes the untimed warm-up pass decode only the first W prompt tokens (default: all).
 * --rounds-on-stdin (as mneme-cli bench's): after the warm-up the prompt is decoded once and a line
 * of JSON printed; then every line read from stdin drops the decoded tokens from the cache (or,
 * where the memory cannot drop them, clears it and decodes the prompt again, untimed) and decodes G
 * tokens again from the prompt's last logits, each round answered with a line, until end of input;
 * the summary line comes last. A line reading "prefill" instead clears the cache and times the
 * prompt's prefill again (answered with its rate); the next decode round starts from that prefill.
 *
 * Prints one JSON object. Built by tools/bench/llama-side-by-side.sh against the headers of the
 * package's own source bundle (include/, ggml/include/). */
#include <ggml-backend.h>
#include <ggml-cpu.h>
#include <llama.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void quiet_log(enum ggml_log_level level, const char* text, void* user) {
    (void)user;
    if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}

static const char* opt(int argc, char** argv, const char* name, const char* fallback) {
    for (int i = 1; i + 1 < argc; ++i) {
        if (strcmp(argv[i], name) == 0) return argv[i + 1];
    }
    return fallback;
}

static int has_flag(int argc, char** argv, const char* name) {
    for (int i = 1; i < argc; ++i) {
        if (strcmp(argv[i], name) == 0) return 1;
    }
    return 0;
}

static int parse_tokens(const char* s, llama_token** out) {
    int n = 0, cap = 64;
    llama_token* t = malloc(sizeof(llama_token) * (size_t)cap);
    for (;;) {
        while (*s == ',' || *s == ' ' || *s == '\n' || *s == '\t' || *s == '\r') ++s;
        char* end = NULL;
        const long v = strtol(s, &end, 10);
        if (end == s) break;
        if (n == cap) t = realloc(t, sizeof(llama_token) * (size_t)(cap *= 2));
        t[n++] = (llama_token)v;
        s = end;
    }
    *out = t;
    return n;
}

/* The whole of a text file, NUL-terminated (NULL if it cannot be read). */
static char* read_text(const char* path) {
    FILE* f = fopen(path, "rb");
    if (!f) return NULL;
    size_t n = 0, cap = 1 << 16;
    char* buf = malloc(cap);
    for (size_t got; (got = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += got;
        if (cap - n < 2) buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    buf[n] = '\0';
    return buf;
}

static llama_token argmax(const float* x, int n) {
    int best = 0;
    for (int i = 1; i < n; ++i) {
        if (x[i] > x[best]) best = i;
    }
    return best;
}

/* Decodes tokens[0..n) at positions pos.. as one llama_decode call; logits for every position or
 * the last. */
static int decode(struct llama_context* ctx, struct llama_batch* b, const llama_token* tokens, int n, int pos,
                  int all_logits) {
    b->n_tokens = n;
    for (int i = 0; i < n; ++i) {
        b->token[i] = tokens[i];
        b->pos[i] = pos + i;
        b->n_seq_id[i] = 1;
        b->seq_id[i][0] = 0;
        b->logits[i] = (int8_t)(all_logits || i == n - 1);
    }
    return llama_decode(ctx, *b);
}

/* The first `len` prompt tokens in llama_decode calls of `n_batch`, last position's logits only. */
static int decode_prompt(struct llama_context* ctx, struct llama_batch* b, const llama_token* prompt, int len,
                         int n_batch) {
    for (int done = 0; done < len; done += n_batch) {
        const int n = len - done < n_batch ? len - done : n_batch;
        if (decode(ctx, b, prompt + done, n, done, 0) != 0) return 1;
    }
    return 0;
}

/* `steps` greedy single-token decodes from *next at position pos on; *next ends as the last choice. */
static int decode_steps(struct llama_context* ctx, struct llama_batch* b, llama_token* next, int pos, int steps,
                        int n_vocab) {
    for (int s = 0; s < steps; ++s) {
        if (decode(ctx, b, next, 1, pos + s, 1) != 0) return 1;
        *next = argmax(llama_get_logits_ith(ctx, 0), n_vocab);
    }
    return 0;
}

int main(int argc, char** argv) {
    const char* model_path = opt(argc, argv, "--model", NULL);
    const char* bins = opt(argc, argv, "--bins", NULL);
    const char* token_list = opt(argc, argv, "--tokens", NULL);
    const char* token_file = opt(argc, argv, "--tokens-file", NULL);
    const char* logits_out = opt(argc, argv, "--logits-out", NULL);
    const int threads = atoi(opt(argc, argv, "--threads", "2"));
    const int gen = atoi(opt(argc, argv, "--gen-tokens", "32"));
    const int reps = atoi(opt(argc, argv, "--reps", "2"));
    const int kv_f32 = strcmp(opt(argc, argv, "--kv", "f16"), "f32") == 0;
    if (!model_path || !bins || (!token_list && !token_file)) {
        fprintf(stderr, "usage: llama-run --model F.gguf --bins DIR (--tokens 1,2,3 | --tokens-file F) [options]\n");
        return 2;
    }
    char* file_text = NULL;
    if (!token_list) {
        if (!(file_text = read_text(token_file))) {
            fprintf(stderr, "cannot read %s\n", token_file);
            return 2;
        }
        token_list = file_text;
    }
    llama_token* prompt = NULL;
    const int n_prompt = parse_tokens(token_list, &prompt);
    free(file_text);
    if (n_prompt < 1) {
        fprintf(stderr, "no token ids given\n");
        return 2;
    }
    int n_batch = atoi(opt(argc, argv, "--batch", "0"));
    if (n_batch <= 0 || n_batch > n_prompt) n_batch = n_prompt;
    int n_ubatch = atoi(opt(argc, argv, "--ubatch", "0"));
    if (n_ubatch <= 0 || n_ubatch > n_batch) n_ubatch = n_batch;
    int n_warmup = atoi(opt(argc, argv, "--warmup-tokens", "0"));
    if (n_warmup <= 0 || n_warmup > n_prompt) n_warmup = n_prompt;

    llama_log_set(quiet_log, NULL);
    ggml_backend_load_all_from_path(bins);
    llama_backend_init();
    ggml_backend_dev_t cpu_dev = ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU);
    if (!cpu_dev) {
        fprintf(stderr, "no CPU backend in %s\n", bins);
        return 1;
    }
    ggml_backend_reg_t cpu_reg = ggml_backend_dev_backend_reg(cpu_dev);
    typedef struct ggml_threadpool* (*pool_new_fn)(struct ggml_threadpool_params*);
    typedef void (*pool_free_fn)(struct ggml_threadpool*);
    pool_new_fn pool_new = (pool_new_fn)ggml_backend_reg_get_proc_address(cpu_reg, "ggml_threadpool_new");
    pool_free_fn pool_free = (pool_free_fn)ggml_backend_reg_get_proc_address(cpu_reg, "ggml_threadpool_free");
    pool_free_fn pool_pause = (pool_free_fn)ggml_backend_reg_get_proc_address(cpu_reg, "ggml_threadpool_pause");

    struct llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = 0;
    /* --repack 0 keeps weights in the file's layout (no CPU_REPACK interleaving). */
    mp.use_extra_bufts = atoi(opt(argc, argv, "--repack", "1")) != 0;
    struct llama_model* model = llama_model_load_from_file(model_path, mp);
    if (!model) {
        fprintf(stderr, "cannot load %s\n", model_path);
        return 1;
    }
    const int n_vocab = llama_vocab_n_tokens(llama_model_get_vocab(model));

    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = (uint32_t)(n_prompt + gen + 16);
    cp.n_batch = (uint32_t)n_batch;
    cp.n_ubatch = (uint32_t)n_ubatch;
    cp.n_threads = cp.n_threads_batch = threads;
    cp.no_perf = true;
    if (kv_f32) cp.type_k = cp.type_v = GGML_TYPE_F32;
    /* --flash-attn 0: the CPU flash-attention kernel rounds through float16 (about 1e-3 relative
     * on logits); the plain path is float32 throughout. Default: llama.cpp's own choice. */
    if (strcmp(opt(argc, argv, "--flash-attn", "auto"), "0") == 0) cp.flash_attn_type = LLAMA_FLASH_ATTN_TYPE_DISABLED;
    struct llama_context* ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "cannot create a context\n");
        return 1;
    }
    struct ggml_threadpool* pool = NULL;
    if (pool_new) {
        struct ggml_threadpool_params tpp = ggml_threadpool_params_default(threads);
        /* --poll 0..100: how long idle workers spin before sleeping (ggml's default 50 spins; on an
         * oversubscribed machine 0 can be faster). */
        tpp.poll = (uint32_t)atoi(opt(argc, argv, "--poll", "50"));
        pool = pool_new(&tpp);
        if (pool) llama_attach_threadpool(ctx, pool, NULL);
    }
    struct llama_batch batch = llama_batch_init(n_batch, 0, 1);

    if (logits_out) {
        FILE* f = fopen(logits_out, "wb");
        if (!f) return 1;
        for (int done = 0; done < n_prompt; done += n_batch) {
            const int n = n_prompt - done < n_batch ? n_prompt - done : n_batch;
            if (decode(ctx, &batch, prompt + done, n, done, 1) != 0) return 1;
            for (int i = 0; i < n; ++i) fwrite(llama_get_logits_ith(ctx, i), sizeof(float), (size_t)n_vocab, f);
        }
        fclose(f);
        printf("{\"n_tokens\": %d, \"n_vocab\": %d, \"kv\": \"%s\"}\n", n_prompt, n_vocab, kv_f32 ? "f32" : "f16");
    } else {
        const int rounds = has_flag(argc, argv, "--rounds-on-stdin");
        double best_prefill = 0, best_decode = 0;
        /* Warm-up pass (weights faulted in, graphs allocated), then the timed repetitions. */
        for (int r = -1; r < (rounds ? 1 : reps); ++r) {
            const int len = r < 0 ? n_warmup : n_prompt;
            llama_memory_clear(llama_get_memory(ctx), true);
            double t0 = now_s();
            if (decode_prompt(ctx, &batch, prompt, len, n_batch) != 0) return 1;
            const double prefill_s = now_s() - t0;
            llama_token next = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
            if (r >= 0 && rounds) {
                /* Idle workers spin for a while (up to ~a second at --poll 50) before they sleep:
                 * paused at once, they leave the other engine's round alone (the next graph
                 * resumes them). */
                if (pool && pool_pause) pool_pause(pool);
                best_prefill = n_prompt / prefill_s;
                printf("{\"prefill_tps\": %.3f, \"prompt_tokens\": %d}\n", best_prefill, n_prompt);
                fflush(stdout);
                llama_token first = next;
                char line[256];
                for (int round = 1; fgets(line, sizeof line, stdin); ++round) {
                    if (strncmp(line, "prefill", 7) == 0) {
                        llama_memory_clear(llama_get_memory(ctx), true);
                        t0 = now_s();
                        if (decode_prompt(ctx, &batch, prompt, len, n_batch) != 0) return 1;
                        const double tps = n_prompt / (now_s() - t0);
                        if (pool && pool_pause) pool_pause(pool);
                        first = argmax(llama_get_logits_ith(ctx, -1), n_vocab);
                        printf("{\"round\": %d, \"prefill_tps\": %.3f}\n", round, tps);
                        fflush(stdout);
                        if (tps > best_prefill) best_prefill = tps;
                        continue;
                    }
                    /* Memories that cannot drop a tail (V4's compressor state) are cleared and the
                     * prompt decoded again, untimed. */
                    if (!llama_memory_seq_rm(llama_get_memory(ctx), 0, len, -1)) {
                        llama_memory_clear(llama_get_memory(ctx), true);
                        if (decode_prompt(ctx, &batch, prompt, len, n_batch) != 0) return 1;
                    }
                    next = first;
                    t0 = now_s();
                    if (decode_steps(ctx, &batch, &next, len, gen, n_vocab) != 0) return 1;
                    const double tps = gen / (now_s() - t0);
                    if (pool && pool_pause) pool_pause(pool);
                    printf("{\"round\": %d, \"decode_tps\": %.3f, \"decode_steps\": %d}\n", round, tps, gen);
                    fflush(stdout);
                    if (tps > best_decode) best_decode = tps;
                }
                break;
            }
            const int steps = r < 0 ? 2 : gen;
            t0 = now_s();
            if (decode_steps(ctx, &batch, &next, len, steps, n_vocab) != 0) return 1;
            const double decode_s = now_s() - t0;
            if (r < 0) continue;
            if (n_prompt / prefill_s > best_prefill) best_prefill = n_prompt / prefill_s;
            if (steps / decode_s > best_decode) best_decode = steps / decode_s;
        }
        printf(
            "{\"prefill_tps\": %.3f, \"decode_tps\": %.3f, \"threads\": %d, \"prompt_tokens\": %d, "
            "\"gen_tokens\": %d, \"n_ctx\": %u, \"n_batch\": %d, \"n_ubatch\": %d, \"warmup_tokens\": %d, "
            "\"kv\": \"%s\", \"threadpool\": %s, \"poll\": %s}\n",
            best_prefill, best_decode, threads, n_prompt, gen, llama_n_ctx(ctx), n_batch, n_ubatch, n_warmup,
            kv_f32 ? "f32" : "f16", pool ? "true" : "false", opt(argc, argv, "--poll", "50"));
    }
    llama_batch_free(batch);
    llama_free(ctx);
    if (pool && pool_free) pool_free(pool);
    llama_model_free(model);
    free(prompt);
    return 0;
}
