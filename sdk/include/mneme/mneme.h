/*
 * mneme.h — the Mneme SDK public C API.
 *
 * Mneme runs DeepSeek V3 / V3.2 / V4 family models in-process. This header is the whole stable
 * interface: C99 and C++ compatible, opaque handles, status codes, size-versioned structs.
 *
 * Conventions (see docs/API.md for the full policy):
 *  - Every fallible call returns mneme_status. MNEME_OK is 0, positive values are non-error
 *    outcomes, negative values are errors. On error, mneme_last_error_message() gives details
 *    for the calling thread, and out-parameters are left untouched (out-handles are set to NULL).
 *  - Input and output structs start with `struct_size`. Fill inputs with the matching
 *    MNEME_*_INIT macro; the library reads only the bytes the caller declared and defaults the
 *    rest, so fields are only ever appended.
 *  - Strings are UTF-8. Pointers passed in are borrowed for the duration of the call unless the
 *    documentation says otherwise. Strings returned by the library state their lifetime.
 *  - Enums are 32-bit and append-only; values are never renumbered.
 *  - Thread safety is stated per function. In short: a runtime and a model may be used from any
 *    number of threads; a session is used by one thread at a time (it may move between threads);
 *    mneme_session_cancel() may be called from any thread at any time.
 *  - The library never writes to stdout or stderr unless no log callback is installed and the
 *    message is a warning or error (set MNEME_LOG=off to silence even those).
 */
#ifndef MNEME_H
#define MNEME_H

#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------------------------------------
 * Versions and linkage
 * ------------------------------------------------------------------------------------------- */

#define MNEME_VERSION_MAJOR 0
#define MNEME_VERSION_MINOR 1
#define MNEME_VERSION_PATCH 0
/** Packed as major*1000000 + minor*1000 + patch. */
#define MNEME_VERSION (MNEME_VERSION_MAJOR * 1000000 + MNEME_VERSION_MINOR * 1000 + MNEME_VERSION_PATCH)
/** Binary interface generation. Incremented only on an incompatible change (and then the SONAME changes). */
#define MNEME_ABI_VERSION 1

#if defined(_WIN32)
#if defined(MNEME_BUILD)
#define MNEME_API __declspec(dllexport)
#else
#define MNEME_API __declspec(dllimport)
#endif
#define MNEME_CALL __cdecl
#else
#if defined(MNEME_BUILD)
#define MNEME_API __attribute__((visibility("default")))
#else
#define MNEME_API
#endif
#define MNEME_CALL
#endif

/* Results must be looked at, but an explicit (void) cast silences the warning: C++17's
 * [[nodiscard]] and clang honour it; GCC's C attribute does not, so C under GCC gets none. */
#if defined(__cplusplus) && __cplusplus >= 201703L
#define MNEME_NODISCARD [[nodiscard]]
#elif defined(__clang__)
#define MNEME_NODISCARD __attribute__((warn_unused_result))
#else
#define MNEME_NODISCARD
#endif

#if defined(__cplusplus)
#define MNEME_NOEXCEPT noexcept
extern "C" {
#else
#define MNEME_NOEXCEPT
#endif

/** A 32-bit boolean (0 = false, anything else = true), safe in structs across compilers. */
typedef uint32_t mneme_bool;
#define MNEME_FALSE 0u
#define MNEME_TRUE 1u

/* ---------------------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------------------- */

typedef enum mneme_status {
    MNEME_OK = 0,
    MNEME_INCOMPLETE = 1,    /**< output buffer too small; the needed size was reported */
    MNEME_CANCELLED = 2,     /**< the operation was cancelled; state is consistent (see each call) */
    MNEME_END_OF_STREAM = 3, /**< generation ended (end-of-sequence token or stop condition) */

    MNEME_ERROR_INVALID_ARGUMENT = -1,
    MNEME_ERROR_OUT_OF_MEMORY = -2,
    MNEME_ERROR_OUT_OF_DEVICE_MEMORY = -3,
    MNEME_ERROR_FILE_NOT_FOUND = -4,
    MNEME_ERROR_INVALID_MODEL = -5,     /**< a model file is malformed; the message names file and field */
    MNEME_ERROR_UNSUPPORTED = -6,       /**< architecture, operation or format not supported (yet) */
    MNEME_ERROR_NO_BACKEND = -7,        /**< no usable backend for the request */
    MNEME_ERROR_DEVICE_LOST = -8,
    MNEME_ERROR_ABI_MISMATCH = -9,
    MNEME_ERROR_BUSY = -10,             /**< the session is in use by another call */
    MNEME_ERROR_INTERNAL = -11,
    MNEME_ERROR_IO = -12,               /**< an operating-system read or write failed */
    MNEME_ERROR_BUDGET_EXCEEDED = -13,  /**< the request does not fit the memory budget */
    MNEME_ERROR_CONTEXT_FULL = -14,     /**< the session has no room for more tokens */
    MNEME_ERROR_UNSUPPORTED_EXTENSION = -15,
    MNEME_STATUS_FORCE32 = 0x7FFFFFFF
} mneme_status;

/** Static English text for a status code. Never NULL. \threadsafety any thread. */
MNEME_API const char* MNEME_CALL mneme_status_string(mneme_status status) MNEME_NOEXCEPT;

/**
 * Detail message of the last failing call made by this thread ("" when there is none).
 * Valid until the next Mneme call on this thread. \threadsafety any thread (thread-local).
 */
MNEME_API const char* MNEME_CALL mneme_last_error_message(void) MNEME_NOEXCEPT;

/** Run-time library version, packed like MNEME_VERSION. \threadsafety any thread. */
MNEME_API uint32_t MNEME_CALL mneme_version(void) MNEME_NOEXCEPT;

/** Run-time library version as text, e.g. "0.1.0". Static storage. \threadsafety any thread. */
MNEME_API const char* MNEME_CALL mneme_version_string(void) MNEME_NOEXCEPT;

/** Frees memory that the library handed to the caller (none in v1 calls; reserved). Accepts NULL. */
MNEME_API void MNEME_CALL mneme_free(void* ptr) MNEME_NOEXCEPT;

/* ---------------------------------------------------------------------------------------------
 * Logging and host services
 * ------------------------------------------------------------------------------------------- */

typedef enum mneme_log_level {
    MNEME_LOG_LEVEL_DEFAULT = 0, /**< use the library default (WARN) */
    MNEME_LOG_LEVEL_DEBUG = 1,
    MNEME_LOG_LEVEL_INFO = 2,
    MNEME_LOG_LEVEL_WARN = 3,
    MNEME_LOG_LEVEL_ERROR = 4,
    MNEME_LOG_LEVEL_OFF = 5,
    MNEME_LOG_LEVEL_FORCE32 = 0x7FFFFFFF
} mneme_log_level;

/**
 * Log sink. `category` is e.g. "core", "loader", "plugin.cpu"; `message` is one complete line
 * without a trailing newline. May be called from any thread; must not call back into Mneme.
 */
typedef void(MNEME_CALL* mneme_log_fn)(void* user_data, mneme_log_level level, const char* category,
                                       const char* message);

/**
 * Process-wide log sink for messages that have no runtime (and the default for new runtimes).
 * Pass NULL to restore the default (warnings and errors to stderr unless MNEME_LOG=off).
 * \threadsafety any thread.
 */
MNEME_API void MNEME_CALL mneme_log_set(mneme_log_fn fn, void* user_data, mneme_log_level min_level) MNEME_NOEXCEPT;

/**
 * Host allocator for the library's own bookkeeping allocations made through it (buffers of
 * host-memory backends). Memory-mapped weights and device memory are outside it. Must be
 * thread-safe. `align` is a power of two.
 */
typedef struct mneme_allocator {
    void* user_data;
    void*(MNEME_CALL* alloc)(void* user_data, size_t size, size_t align);
    void(MNEME_CALL* free)(void* user_data, void* ptr);
} mneme_allocator;

/* ---------------------------------------------------------------------------------------------
 * Runtime: plugins, devices, thread pool
 * ------------------------------------------------------------------------------------------- */

typedef struct mneme_runtime mneme_runtime;
typedef struct mneme_model mneme_model;
typedef struct mneme_session mneme_session;

typedef struct mneme_runtime_desc {
    uint32_t struct_size;           /**< sizeof(mneme_runtime_desc) */
    uint32_t header_version;        /**< MNEME_VERSION of the header the caller compiled against */
    uint32_t n_threads;             /**< worker threads for CPU work; 0 = number of cores */
    uint32_t flags;                 /**< MNEME_RUNTIME_FLAG_* */
    const char* const* plugin_paths; /**< extra files or folders to search for plugins (borrowed) */
    size_t plugin_path_count;
    mneme_log_fn log_fn;            /**< NULL = the process-wide sink (mneme_log_set) */
    void* log_user_data;
    mneme_log_level log_level;      /**< minimum level passed to log_fn */
    uint32_t reserved0;
    const mneme_allocator* allocator; /**< NULL = malloc/free; copied at creation */
    uint64_t memory_budget_bytes;   /**< default host memory budget for models; 0 = no limit */
} mneme_runtime_desc;

/** Do not search the default plugin locations (next to the library, <libdir>/mneme/plugins). */
#define MNEME_RUNTIME_FLAG_NO_DEFAULT_PLUGIN_PATHS 0x1u
/** Ignore the MNEME_PLUGIN_PATH environment variable. */
#define MNEME_RUNTIME_FLAG_NO_ENV_PLUGIN_PATH 0x2u

#define MNEME_RUNTIME_DESC_INIT                                                                        \
    {                                                                                                  \
        sizeof(mneme_runtime_desc), MNEME_VERSION, 0, 0, NULL, 0, NULL, NULL, MNEME_LOG_LEVEL_DEFAULT, \
            0, NULL, 0                                                                                 \
    }

/**
 * Creates a runtime: starts the worker pool and loads every plugin found. Plugins that fail to
 * load are recorded in the diagnostics (mneme_runtime_plugin_info) and skipped. Fails with
 * MNEME_ERROR_NO_BACKEND only if no backend at all is usable; the diagnostics are then in the
 * error message.
 * \param desc borrowed during the call; NULL = defaults.
 * \param out receives the runtime; destroy with mneme_runtime_destroy.
 * \returns MNEME_OK, MNEME_ERROR_INVALID_ARGUMENT, MNEME_ERROR_ABI_MISMATCH (header newer major),
 *          MNEME_ERROR_NO_BACKEND, MNEME_ERROR_OUT_OF_MEMORY.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_runtime_create(const mneme_runtime_desc* desc,
                                                                       mneme_runtime** out) MNEME_NOEXCEPT;

/**
 * Destroys a runtime and unloads its plugins. Every model and session created from it must have
 * been destroyed first. Accepts NULL.
 * \threadsafety not concurrently with any other use of this runtime.
 */
MNEME_API void MNEME_CALL mneme_runtime_destroy(mneme_runtime* runtime) MNEME_NOEXCEPT;

typedef enum mneme_plugin_state {
    MNEME_PLUGIN_STATE_UNDEFINED = 0,
    MNEME_PLUGIN_STATE_LOADED = 1,       /**< usable, with at least one device */
    MNEME_PLUGIN_STATE_NOT_FOUND = 2,    /**< a requested path does not exist */
    MNEME_PLUGIN_STATE_LOAD_FAILED = 3,  /**< the OS loader refused the file (message has its error) */
    MNEME_PLUGIN_STATE_NOT_A_PLUGIN = 4, /**< loaded, but it has no Mneme entry point */
    MNEME_PLUGIN_STATE_ABI_MISMATCH = 5, /**< built for another plugin ABI major version */
    MNEME_PLUGIN_STATE_PROBE_FAILED = 6, /**< its probe returned an error */
    MNEME_PLUGIN_STATE_NO_DEVICE = 7,    /**< it works but found no device (e.g. no GPU driver) */
    MNEME_PLUGIN_STATE_DUPLICATE = 8,    /**< a plugin of the same name was already loaded */
    MNEME_PLUGIN_STATE_FORCE32 = 0x7FFFFFFF
} mneme_plugin_state;

typedef struct mneme_plugin_info {
    uint32_t struct_size; /**< set by the caller: sizeof(mneme_plugin_info) */
    mneme_plugin_state state;
    const char* name;    /**< backend name ("cpu", "vulkan", "cuda"), or "" when unknown */
    const char* path;    /**< file that was examined */
    const char* message; /**< human-readable detail ("1 device", the dlopen error, ...) */
    const char* version; /**< plugin version text, or "" */
    uint32_t device_count;
    int32_t score;       /**< probe score; higher is preferred */
} mneme_plugin_info;
/* Strings in mneme_plugin_info live until the runtime is destroyed. */

/** Number of plugin diagnostics entries (every candidate examined). \threadsafety any thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_runtime_plugin_count(const mneme_runtime* runtime,
                                                                             size_t* out_count) MNEME_NOEXCEPT;

/** Fills `out` (whose struct_size the caller set) with diagnostics entry `index`. \threadsafety any thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_runtime_plugin_info(const mneme_runtime* runtime, size_t index,
                                                                            mneme_plugin_info* out) MNEME_NOEXCEPT;

typedef enum mneme_device_type {
    MNEME_DEVICE_TYPE_UNDEFINED = 0,
    MNEME_DEVICE_TYPE_CPU = 1,
    MNEME_DEVICE_TYPE_DISCRETE_GPU = 2,
    MNEME_DEVICE_TYPE_INTEGRATED_GPU = 3,
    MNEME_DEVICE_TYPE_VIRTUAL = 4, /**< e.g. a software rasteriser such as lavapipe */
    MNEME_DEVICE_TYPE_FORCE32 = 0x7FFFFFFF
} mneme_device_type;

typedef struct mneme_device_info {
    uint32_t struct_size; /**< set by the caller */
    mneme_device_type type;
    const char* backend;  /**< plugin name this device belongs to */
    const char* name;     /**< device name as the driver reports it */
    uint32_t index;       /**< index of the device within its backend (what mneme_model_desc.device takes) */
    uint32_t reserved0;
    uint64_t memory_total_bytes;
    uint64_t memory_free_bytes; /**< at probe time; 0 when unknown */
} mneme_device_info;
/* Strings in mneme_device_info live until the runtime is destroyed. */

/** Number of devices over all loaded plugins. \threadsafety any thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_runtime_device_count(const mneme_runtime* runtime,
                                                                             size_t* out_count) MNEME_NOEXCEPT;

/** Fills `out` with device `index` (0 .. count-1, over all backends). \threadsafety any thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_runtime_device_info(const mneme_runtime* runtime, size_t index,
                                                                            mneme_device_info* out) MNEME_NOEXCEPT;

/* ---------------------------------------------------------------------------------------------
 * Progress and cancellation
 * ------------------------------------------------------------------------------------------- */

typedef enum mneme_progress_stage {
    MNEME_PROGRESS_STAGE_UNDEFINED = 0,
    MNEME_PROGRESS_STAGE_LOAD = 1,    /**< reading and preparing weights (units: bytes) */
    MNEME_PROGRESS_STAGE_PREFILL = 2, /**< evaluating prompt tokens (units: tokens) */
    MNEME_PROGRESS_STAGE_RESTORE = 3, /**< restoring a saved state (units: bytes) */
    MNEME_PROGRESS_STAGE_ENGRAM_IMPORT = 4, /**< importing Engram tables into a store (units: bytes) */
    MNEME_PROGRESS_STAGE_FORCE32 = 0x7FFFFFFF
} mneme_progress_stage;

typedef struct mneme_progress {
    uint32_t struct_size;
    mneme_progress_stage stage;
    uint64_t done;
    uint64_t total;
    double elapsed_seconds;
    double rate_per_second; /**< units of `done` per second so far */
    double eta_seconds;     /**< estimate; negative when unknown */
} mneme_progress;

/**
 * Progress callback. Return MNEME_TRUE to continue, MNEME_FALSE to cancel the operation.
 * Called on the thread that made the call. `progress` is valid only during the callback.
 */
typedef mneme_bool(MNEME_CALL* mneme_progress_fn)(void* user_data, const mneme_progress* progress);

/* ---------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------- */

typedef enum mneme_precision {
    MNEME_PRECISION_DEFAULT = 0, /**< the production path (float32 on the CPU) */
    MNEME_PRECISION_F32 = 1,
    MNEME_PRECISION_F64 = 2, /**< the exact reference path: everything in double (CPU only) */
    MNEME_PRECISION_FORCE32 = 0x7FFFFFFF
} mneme_precision;

typedef enum mneme_act_quant {
    MNEME_ACT_QUANT_DEFAULT = 0, /**< as the architecture defines it (on) */
    MNEME_ACT_QUANT_ON = 1,
    MNEME_ACT_QUANT_OFF = 2, /**< debug: skip the activation FP8/FP4 round trips of V3.2/V4 */
    MNEME_ACT_QUANT_FORCE32 = 0x7FFFFFFF
} mneme_act_quant;

typedef struct mneme_model_desc {
    uint32_t struct_size;      /**< sizeof(mneme_model_desc) */
    mneme_precision precision;
    const char* backend;       /**< plugin name ("cpu", "vulkan", "cuda"); NULL = best available */
    int32_t device;            /**< device index within the backend; -1 = the backend's best */
    mneme_act_quant act_quant;
    uint64_t memory_budget_bytes; /**< 0 = the runtime's budget */
    mneme_progress_fn progress_fn; /**< NULL = none; returning MNEME_FALSE cancels the load */
    void* progress_user_data;
    const char* engram_store_path; /**< Engram store directory; NULL = tables from the checkpoint */
    uint64_t engram_cache_bytes;   /**< DRAM cache budget of the Engram store; 0 = default */
    uint32_t index_topk;           /**< 0 = the checkpoint's index_topk; otherwise an override (a value
                                        larger than any context turns sparse selection into dense attention) */
    uint32_t index_coarse_block;   /**< V3.2, 0.1.x: 0 = DSA's exact top-k (default); B > 0 = two-stage
                                        selection while decoding: block means of B tokens choose candidate
                                        blocks, the indexer picks top-k inside them (an approximation, for
                                        very long contexts; docs/CODEBASE.md) */
} mneme_model_desc;

#define MNEME_MODEL_DESC_INIT                                                                              \
    {                                                                                                      \
        sizeof(mneme_model_desc), MNEME_PRECISION_DEFAULT, NULL, -1, MNEME_ACT_QUANT_DEFAULT, 0, NULL, NULL, \
            NULL, 0, 0, 0                                                                                  \
    }

typedef enum mneme_architecture {
    MNEME_ARCH_UNDEFINED = 0,
    MNEME_ARCH_DEEPSEEK_V3 = 1,  /**< MLA + DeepSeekMoE (also V3.1) */
    MNEME_ARCH_DEEPSEEK_V32 = 2, /**< V3 + DSA lightning indexer */
    MNEME_ARCH_DEEPSEEK_V4 = 3,  /**< hybrid compressed sparse attention, mHC, V4 MoE */
    MNEME_ARCH_DEEPSEEK_V4_ENGRAM = 4, /**< V4 with Engram layers */
    MNEME_ARCH_FORCE32 = 0x7FFFFFFF
} mneme_architecture;

typedef struct mneme_model_info {
    uint32_t struct_size; /**< set by the caller */
    mneme_architecture architecture;
    const char* architecture_name; /**< e.g. "deepseek_v32"; lives as long as the model */
    const char* backend;           /**< backend the model runs on */
    uint32_t vocab_size;
    uint32_t n_layers;
    uint32_t hidden_size;
    uint32_t max_context;          /**< max_position_embeddings */
    int32_t bos_token;             /**< -1 when none */
    int32_t eos_token;             /**< -1 when none */
    uint64_t n_params;
    uint64_t weights_bytes;        /**< bytes of weights as stored */
    uint64_t cache_bytes_per_token; /**< decode-state bytes that grow with each token */
    mneme_bool has_tokenizer;
    mneme_precision precision;
} mneme_model_info;

/**
 * Opens a checkpoint directory (config.json + *.safetensors [+ tokenizer.json]).
 * \param runtime borrowed until the model is destroyed.
 * \param path UTF-8 directory path, borrowed during the call.
 * \param desc borrowed during the call; NULL = defaults.
 * \param out receives the model; destroy with mneme_model_destroy.
 * \returns MNEME_OK, MNEME_CANCELLED (progress callback), MNEME_ERROR_FILE_NOT_FOUND,
 *          MNEME_ERROR_INVALID_MODEL (message names file and field), MNEME_ERROR_UNSUPPORTED,
 *          MNEME_ERROR_NO_BACKEND, MNEME_ERROR_BUDGET_EXCEEDED, MNEME_ERROR_OUT_OF_MEMORY.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_model_open(mneme_runtime* runtime, const char* path,
                                                                   const mneme_model_desc* desc,
                                                                   mneme_model** out) MNEME_NOEXCEPT;

/** Destroys a model. Its sessions must be destroyed first. Accepts NULL. */
MNEME_API void MNEME_CALL mneme_model_destroy(mneme_model* model) MNEME_NOEXCEPT;

/** Fills `out` (whose struct_size the caller set). \threadsafety any thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_model_get_info(const mneme_model* model,
                                                                       mneme_model_info* out) MNEME_NOEXCEPT;

typedef struct mneme_memory_plan {
    uint32_t struct_size; /**< set by the caller */
    uint32_t reserved0;
    uint64_t context_tokens;     /**< the context the plan is for */
    uint64_t weights_bytes;      /**< resident weights */
    uint64_t cache_bytes;        /**< decode state for context_tokens tokens */
    uint64_t engram_bytes;       /**< Engram tables or their cache budget */
    uint64_t scratch_bytes;      /**< activations and temporaries */
    uint64_t total_bytes;
    uint64_t budget_bytes;       /**< 0 = no budget */
    uint64_t max_context_in_budget; /**< largest context that fits the budget (0 = none, or no budget) */
    mneme_bool fits;
    uint32_t reserved1;
    uint64_t weights_fp8_bytes;  /**< of weights_bytes: FP8 e4m3 weights and their scales */
    uint64_t weights_fp4_bytes;  /**< FP4 e2m1 weights and their scales */
    uint64_t weights_bf16_bytes; /**< BF16/F16 weights */
    uint64_t weights_f32_bytes;  /**< F32/F64 tensors and integer tables */
    uint64_t cache_bytes_per_token;
} mneme_memory_plan;

/**
 * Itemised memory estimate for a session of `context_tokens` tokens on this model.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_model_plan(const mneme_model* model, uint64_t context_tokens,
                                                                   mneme_memory_plan* out) MNEME_NOEXCEPT;

/* ---------------------------------------------------------------------------------------------
 * Tokenizer
 * ------------------------------------------------------------------------------------------- */

/** Prepend the model's BOS token. */
#define MNEME_TOKENIZE_ADD_BOS 0x1u
/** Recognise special-token text (e.g. "<｜User｜>") as the special token; otherwise it is plain text. */
#define MNEME_TOKENIZE_PARSE_SPECIAL 0x2u

/**
 * Converts UTF-8 text to token ids.
 * \param tokens caller buffer of `capacity` ids; may be NULL when capacity is 0.
 * \param out_count receives the number of ids produced (also when the buffer was too small).
 * \returns MNEME_OK, MNEME_INCOMPLETE (buffer too small; *out_count is the needed size),
 *          MNEME_ERROR_UNSUPPORTED (the model has no tokenizer), MNEME_ERROR_INVALID_ARGUMENT.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_tokenize(const mneme_model* model, const char* text,
                                                                 size_t text_len, uint32_t flags, int32_t* tokens,
                                                                 size_t capacity, size_t* out_count) MNEME_NOEXCEPT;

/** Render special tokens as their text (otherwise they are dropped). */
#define MNEME_DETOKENIZE_RENDER_SPECIAL 0x1u

/**
 * Converts token ids back to the exact bytes they stand for.
 * \param buf caller buffer; may be NULL when buf_size is 0. Not NUL-terminated unless room remains.
 * \param out_len receives the byte length (also when the buffer was too small).
 * \returns MNEME_OK, MNEME_INCOMPLETE, MNEME_ERROR_UNSUPPORTED, MNEME_ERROR_INVALID_ARGUMENT (bad id).
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_detokenize(const mneme_model* model, const int32_t* tokens,
                                                                   size_t n_tokens, uint32_t flags, char* buf,
                                                                   size_t buf_size, size_t* out_len) MNEME_NOEXCEPT;

typedef struct mneme_chat_message {
    const char* role;    /**< "system", "user" or "assistant" */
    const char* content; /**< UTF-8 text */
} mneme_chat_message;

/**
 * Renders a conversation in the model family's chat format (V3 and V3.2/V4 differ).
 * \param add_generation_prompt end with the assistant prefix so the model answers next.
 * \returns MNEME_OK, MNEME_INCOMPLETE (*out_len is the needed size), MNEME_ERROR_INVALID_ARGUMENT.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_chat_render(const mneme_model* model,
                                                                    const mneme_chat_message* messages,
                                                                    size_t n_messages, mneme_bool add_generation_prompt,
                                                                    char* buf, size_t buf_size,
                                                                    size_t* out_len) MNEME_NOEXCEPT;

/* ---------------------------------------------------------------------------------------------
 * Sessions: context, prefill, generation
 * ------------------------------------------------------------------------------------------- */

typedef struct mneme_sampling_params {
    uint32_t struct_size;     /**< sizeof(mneme_sampling_params) */
    float temperature;        /**< 0 = greedy */
    int32_t top_k;            /**< 0 = off */
    float top_p;              /**< 1 = off */
    float min_p;              /**< 0 = off */
    float repetition_penalty; /**< 1 = off */
    int32_t repetition_last_n; /**< window of the penalty; 0 = whole context */
    uint32_t reserved0;
    uint64_t seed;            /**< random seed; same seed + same inputs = same output */
} mneme_sampling_params;

#define MNEME_SAMPLING_PARAMS_INIT {sizeof(mneme_sampling_params), 0.0f, 0, 1.0f, 0.0f, 1.0f, 64, 0, 0}

typedef struct mneme_session_desc {
    uint32_t struct_size; /**< sizeof(mneme_session_desc) */
    uint32_t n_ctx;       /**< maximum tokens the session holds; 0 = the model's maximum */
    const mneme_sampling_params* sampling; /**< copied; NULL = MNEME_SAMPLING_PARAMS_INIT */
    const char* snapshot_dir;       /**< folder of saved prefills (see MNEME_FEED_SNAPSHOT); NULL = none */
    uint64_t snapshot_budget_bytes; /**< disk budget of that folder (least recently used evicted); 0 = 4 GiB */
} mneme_session_desc;

#define MNEME_SESSION_DESC_INIT {sizeof(mneme_session_desc), 0, NULL, NULL, 0}

/**
 * Creates a session (one conversation / context) over a model.
 * \param model borrowed until the session is destroyed.
 * \returns MNEME_OK, MNEME_ERROR_BUDGET_EXCEEDED (message: "needs X GiB, budget Y GiB" and the
 *          largest context that fits), MNEME_ERROR_INVALID_ARGUMENT, MNEME_ERROR_OUT_OF_MEMORY.
 * \threadsafety any thread; sessions of one model may be created concurrently.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_create(mneme_model* model,
                                                                       const mneme_session_desc* desc,
                                                                       mneme_session** out) MNEME_NOEXCEPT;

/** Destroys a session. Accepts NULL. \threadsafety not concurrently with other calls on it. */
MNEME_API void MNEME_CALL mneme_session_destroy(mneme_session* session) MNEME_NOEXCEPT;

/** Replaces the sampling parameters (copied). \threadsafety the session's thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_set_sampling(mneme_session* session,
                                                                             const mneme_sampling_params* params)
    MNEME_NOEXCEPT;

typedef enum mneme_logits_mode {
    MNEME_LOGITS_LAST = 0, /**< keep logits of the last fed position only */
    MNEME_LOGITS_ALL = 1,  /**< keep logits of every fed position */
    MNEME_LOGITS_NONE = 2, /**< keep none (pure prefill) */
    MNEME_LOGITS_FORCE32 = 0x7FFFFFFF
} mneme_logits_mode;

/**
 * Reuse and keep saved prefills: before evaluating, the session restores the longest snapshot in
 * its snapshot_dir whose tokens are a prefix of its context plus the new tokens (so only the rest
 * is evaluated); afterwards it saves a snapshot of the whole context. Snapshots are keyed by the
 * model's identity and the token prefix, checksummed, and ignored (with a logged reason) when
 * stale or corrupt.
 */
#define MNEME_FEED_SNAPSHOT 0x1u

typedef struct mneme_feed_desc {
    uint32_t struct_size; /**< sizeof(mneme_feed_desc) */
    mneme_logits_mode logits;
    uint32_t chunk_size;  /**< tokens per forward pass; 0 = the library's choice */
    uint32_t flags;       /**< MNEME_FEED_* */
    mneme_progress_fn progress_fn; /**< called at least once per chunk; may cancel */
    void* progress_user_data;
} mneme_feed_desc;

#define MNEME_FEED_DESC_INIT {sizeof(mneme_feed_desc), MNEME_LOGITS_LAST, 0, 0, NULL, NULL}

/**
 * Appends tokens to the session's context and evaluates them (prefill).
 * \param tokens borrowed during the call.
 * \returns MNEME_OK; MNEME_CANCELLED (by the progress callback or mneme_session_cancel: the
 *          session keeps every complete chunk evaluated so far, nothing of the one that was
 *          interrupted, and stays usable; a device error mid-chunk leaves the same state, or an
 *          empty context if the device failed for good);
 *          MNEME_ERROR_CONTEXT_FULL; MNEME_ERROR_INVALID_ARGUMENT (token out of range); MNEME_ERROR_BUSY.
 * \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_feed_tokens(mneme_session* session,
                                                                            const int32_t* tokens, size_t n_tokens,
                                                                            const mneme_feed_desc* desc) MNEME_NOEXCEPT;

/** Tokenizes `text` (parsing special tokens) and feeds it. Same results as mneme_session_feed_tokens. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_feed_text(mneme_session* session, const char* text,
                                                                          size_t text_len,
                                                                          const mneme_feed_desc* desc) MNEME_NOEXCEPT;

typedef struct mneme_feed_stats {
    uint32_t struct_size;  /**< set by the caller */
    uint32_t reserved0;
    uint64_t tokens_reused;    /**< restored from a snapshot by the last feed */
    uint64_t tokens_evaluated; /**< evaluated by the last feed */
    double seconds;            /**< wall time of the last feed */
    mneme_bool snapshot_saved; /**< the last feed saved a snapshot */
} mneme_feed_stats;

/** What the last feed call did (snapshot reuse, work done). \threadsafety the session's thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_last_feed_stats(const mneme_session* session,
                                                                                mneme_feed_stats* out) MNEME_NOEXCEPT;

/**
 * Logits of the positions kept by the last feed (see mneme_logits_mode), row-major
 * [*out_rows, *out_vocab]. The pointer stays valid until the next call that changes the session.
 * \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_get_logits(const mneme_session* session,
                                                                           const float** out_logits, size_t* out_rows,
                                                                           size_t* out_vocab) MNEME_NOEXCEPT;

/**
 * As mneme_session_get_logits, in double precision: exact for MNEME_PRECISION_F64 models (the
 * reference path), a widened copy otherwise. Same lifetime rule.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_get_logits_f64(const mneme_session* session,
                                                                               const double** out_logits,
                                                                               size_t* out_rows,
                                                                               size_t* out_vocab) MNEME_NOEXCEPT;

typedef struct mneme_token_event {
    uint32_t struct_size;
    int32_t token;         /**< the token id generated */
    const char* text;      /**< bytes this event completes: always whole UTF-8 characters (may be empty) */
    size_t text_len;
    uint64_t index;        /**< 0-based index of the token within this generate call */
    mneme_bool drafted;    /**< the token came from an accepted draft */
} mneme_token_event;

/** Streaming callback: return MNEME_TRUE to continue, MNEME_FALSE to stop. Runs on the caller's thread. */
typedef mneme_bool(MNEME_CALL* mneme_token_fn)(void* user_data, const mneme_token_event* event);

typedef enum mneme_draft_mode {
    MNEME_DRAFT_NONE = 0,  /**< one forward pass per token */
    MNEME_DRAFT_NGRAM = 1, /**< continuations that the context's own n-grams predict are drafted and
                                verified in one batched pass (greedy output identical; sampled output
                                keeps its exact distribution) */
    MNEME_DRAFT_FORCE32 = 0x7FFFFFFF
} mneme_draft_mode;

typedef struct mneme_generate_desc {
    uint32_t struct_size;   /**< sizeof(mneme_generate_desc) */
    uint32_t max_tokens;    /**< 0 = until end of sequence or a full context */
    const char* const* stop_strings; /**< generation stops when the output ends with one of them */
    size_t n_stop_strings;
    mneme_bool stop_at_eos; /**< stop at the model's end-of-sequence token (default true) */
    uint32_t reserved0;
    mneme_token_fn token_fn; /**< NULL = no streaming */
    void* token_user_data;
    mneme_draft_mode draft;  /**< lossless drafting: output and its distribution are unchanged */
    float draft_threshold;   /**< share of a continuation's count in the context needed to draft it; 0 = 0.92 */
    uint32_t draft_max;      /**< most tokens drafted ahead per verify pass; 0 = 8; at most 15 are used */
    uint32_t reserved1;
    uint32_t flags;          /**< MNEME_GENERATE_* */
    uint32_t reserved2;
} mneme_generate_desc;

/**
 * Also record which context positions the sparse-attention indexer (V3.2 DSA, V4 ratio-4 layers)
 * selected, for mneme_session_last_selection_counts. Off by default because it reads every
 * indexer layer's top-k back from the device once per decode pass (a synchronisation point on a
 * GPU); expert routing counts cost nothing and are always kept.
 */
#define MNEME_GENERATE_COLLECT_SELECTIONS 0x1u

#define MNEME_GENERATE_DESC_INIT \
    {sizeof(mneme_generate_desc), 0, NULL, 0, MNEME_TRUE, 0, NULL, NULL, MNEME_DRAFT_NONE, 0.0f, 0, 0, 0, 0}

typedef struct mneme_generate_result {
    uint32_t struct_size; /**< set by the caller */
    uint32_t reserved0;
    uint64_t n_tokens;          /**< tokens generated by this call */
    uint64_t n_drafted;         /**< of which came from accepted drafts */
    double prefill_seconds;
    double decode_seconds;
    mneme_status finish;        /**< MNEME_END_OF_STREAM (eos/stop string), MNEME_OK (max_tokens), MNEME_CANCELLED */
    uint32_t reserved1;
    uint64_t n_draft_proposed;  /**< draft tokens put to verification */
    uint64_t n_draft_accepted;  /**< of which the model accepted */
    uint64_t n_forward_passes;  /**< decode forward passes (verify passes included) */
} mneme_generate_result;

/**
 * Samples tokens after the current context until a stop condition, streaming each through
 * token_fn. Generated tokens become part of the context.
 * \param result optional; filled on return.
 * \returns MNEME_OK (max_tokens reached), MNEME_END_OF_STREAM, MNEME_CANCELLED, MNEME_ERROR_CONTEXT_FULL,
 *          MNEME_ERROR_BUSY, errors.
 * \threadsafety the session's thread (callbacks run on it too).
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_generate(mneme_session* session,
                                                                         const mneme_generate_desc* desc,
                                                                         mneme_generate_result* result) MNEME_NOEXCEPT;

/* ---------------------------------------------------------------------------------------------
 * Per-answer statistics: what the last mneme_session_generate did, and what led up to it
 * ------------------------------------------------------------------------------------------- */

typedef struct mneme_generation_stats {
    uint32_t struct_size;              /**< set by the caller */
    mneme_bool selections_collected;   /**< the generate call had MNEME_GENERATE_COLLECT_SELECTIONS */
    /* The prompt: every feed since the previous generate (or reset). */
    uint64_t prompt_tokens;            /**< tokens those feeds added (reused + evaluated) */
    uint64_t prompt_tokens_reused;     /**< of which restored from snapshots */
    double prefill_seconds;            /**< wall time of those feeds */
    double time_to_first_token_seconds; /**< from the first of those feeds (else from generate) to the first token */
    /* Decoding. */
    uint64_t generated_tokens;
    uint64_t forward_passes;           /**< decode passes, verify passes and re-feeds after a rejection included */
    uint64_t forwarded_tokens;         /**< token positions those passes evaluated (each routes every MoE layer) */
    double decode_seconds;             /**< wall time of the generate call */
    double decode_tokens_per_second;   /**< generated_tokens / decode_seconds */
    /* N-gram drafting (MNEME_DRAFT_NGRAM). */
    uint64_t draft_proposed;           /**< draft tokens put to verification */
    uint64_t draft_accepted;           /**< of which the model accepted */
    uint64_t drafted_tokens;           /**< output tokens that came from accepted drafts */
    double draft_acceptance_rate;      /**< draft_accepted / draft_proposed; 0 without proposals */
    double drafted_fraction;           /**< drafted_tokens / generated_tokens */
    /* Engram store counters during the generate call (model-wide: other sessions' work shows too). */
    mneme_bool engram_from_store;      /**< else the tables are in memory and no counter moves */
    uint32_t reserved0;
    uint64_t engram_hits;
    uint64_t engram_misses;
    uint64_t engram_bytes_read;
    double engram_stall_seconds;
    /* Shapes of mneme_session_last_expert_counts and mneme_session_last_selection_counts. */
    uint32_t n_layers;                 /**< rows of the expert counts (every layer; dense layers count 0) */
    uint32_t n_moe_layers;             /**< of which route experts */
    uint32_t n_experts;                /**< routed experts per MoE layer (columns) */
    uint32_t experts_per_token;        /**< each forwarded token selects this many per MoE layer */
    uint32_t n_indexer_layers;         /**< layers whose attention a top-k indexer makes sparse */
    uint32_t index_topk;               /**< entries each indexer layer selects per token (at most) */
    uint32_t selection_entry_tokens;   /**< context tokens one selectable entry stands for (1 V3.2, 4 V4) */
    uint32_t reserved1;
    uint64_t selection_rows;           /**< (forwarded token, indexer layer) pairs that selected (when collected) */
    uint64_t selections;               /**< entries they selected: per row min(index_topk, visible entries) */
    uint64_t context_tokens;           /**< session length after the call: the positions of the histogram */
} mneme_generation_stats;

/**
 * Statistics of the last mneme_session_generate on this session (zeros before the first). They
 * are reset when generate starts; the prompt counters cover the feeds since the previous
 * generate. A sibling of mneme_session_last_feed_stats. \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_last_generation_stats(const mneme_session* session,
                                                                                      mneme_generation_stats* out)
    MNEME_NOEXCEPT;

/**
 * How often each routed expert was selected during the last generate: counts[layer * n_experts +
 * expert] over n_layers rows (mneme_generation_stats). Every MoE row sums to forwarded_tokens *
 * experts_per_token. Caller-buffer convention: MNEME_INCOMPLETE with *out_count = the needed
 * size when capacity is too small (counts may be NULL then). \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_last_expert_counts(const mneme_session* session,
                                                                                   uint64_t* counts, size_t capacity,
                                                                                   size_t* out_count) MNEME_NOEXCEPT;

/**
 * How often the sparse-attention indexer selected each context position during the last
 * generate (MNEME_GENERATE_COLLECT_SELECTIONS; all zero without it), summed over indexer layers
 * and forwarded tokens, in buckets of `bucket_tokens` positions (1 = per position; 0 = 1):
 * counts[b] covers positions [b * bucket_tokens, (b + 1) * bucket_tokens) of the context.
 * A selected V4 entry counts once for each of the selection_entry_tokens positions it pools.
 * Caller-buffer convention, ceil(context_tokens / bucket_tokens) buckets.
 * \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_last_selection_counts(const mneme_session* session,
                                                                                      uint32_t bucket_tokens,
                                                                                      uint64_t* counts, size_t capacity,
                                                                                      size_t* out_count) MNEME_NOEXCEPT;

/** A run of context positions [first, first + count). */
typedef struct mneme_token_span {
    uint64_t first;
    uint64_t count;
} mneme_token_span;

/**
 * As mneme_session_last_selection_counts, summed over caller-chosen spans (e.g. the files of a
 * codebase, see mneme_codebase_get_file_span): out_counts[i] for spans[i]. Positions past the
 * context count 0. \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_last_selection_by_span(const mneme_session* session,
                                                                                       const mneme_token_span* spans,
                                                                                       size_t n_spans,
                                                                                       uint64_t* out_counts)
    MNEME_NOEXCEPT;

/**
 * Asks the feed/generate call running on this session to stop at the next safe point; that call
 * returns MNEME_CANCELLED. A feed stops inside the forward pass of its current chunk too (between
 * submissions of work to the device; on a GPU once the work already queued has run), and that
 * chunk leaves no trace: the context, caches and logits are exactly as after the chunks before it
 * (as before the call when it was the first). Generate stops between tokens. A cancel sent while
 * no call runs has no effect on later calls. \threadsafety any thread.
 */
MNEME_API void MNEME_CALL mneme_session_cancel(mneme_session* session) MNEME_NOEXCEPT;

/** Number of tokens currently in the session's context. \threadsafety the session's thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_token_count(const mneme_session* session,
                                                                            uint64_t* out_count) MNEME_NOEXCEPT;

/** Drops the context, keeping the session and its settings. \threadsafety the session's thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_reset(mneme_session* session) MNEME_NOEXCEPT;

/**
 * Saves the session's state (tokens and caches) to a file, atomically (written to a temporary
 * file, then renamed). \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_save_state(const mneme_session* session,
                                                                           const char* path) MNEME_NOEXCEPT;

/**
 * Restores a state saved by mneme_session_save_state for the same model. A file of another model
 * or a corrupt file is refused (MNEME_ERROR_INVALID_MODEL) and leaves the session unchanged.
 * \threadsafety the session's thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_session_load_state(mneme_session* session,
                                                                           const char* path) MNEME_NOEXCEPT;

/* ---------------------------------------------------------------------------------------------
 * Codebases: a folder of source code made ready for the prompt
 * ------------------------------------------------------------------------------------------- */

typedef struct mneme_codebase mneme_codebase;

typedef enum mneme_file_status {
    MNEME_FILE_STATUS_UNDEFINED = 0,
    MNEME_FILE_STATUS_INCLUDED = 1,
    MNEME_FILE_STATUS_EXCLUDED = 2,   /**< excluded by the host (mneme_codebase_set_included) */
    MNEME_FILE_STATUS_BINARY = 3,     /**< not UTF-8 text */
    MNEME_FILE_STATUS_GENERATED = 4,  /**< lock files, minified or machine-generated sources */
    MNEME_FILE_STATUS_TOO_LARGE = 5,
    MNEME_FILE_STATUS_UNREADABLE = 6,
    MNEME_FILE_STATUS_FORCE32 = 0x7FFFFFFF
} mneme_file_status;

/** Do not honour .gitignore files. */
#define MNEME_CODEBASE_NO_GITIGNORE 0x1u
/** Include dot-files and dot-folders (.git is always skipped). */
#define MNEME_CODEBASE_INCLUDE_HIDDEN 0x2u

typedef struct mneme_codebase_desc {
    uint32_t struct_size;    /**< sizeof(mneme_codebase_desc) */
    uint32_t flags;          /**< MNEME_CODEBASE_* */
    uint64_t max_file_bytes; /**< larger files are listed as TOO_LARGE; 0 = 1 MiB */
    mneme_progress_fn progress_fn; /**< called while scanning (units: files); may cancel */
    void* progress_user_data;
} mneme_codebase_desc;

#define MNEME_CODEBASE_DESC_INIT {sizeof(mneme_codebase_desc), 0, 0, NULL, NULL}

/**
 * Walks a folder: honours .gitignore, skips binary, generated, oversized and unreadable files
 * (listing them with a reason), counts tokens per file with the model's tokenizer (model may be
 * NULL: counts are then 0), and orders files so that recently modified ones come last.
 * Symbolic links to folders are not followed (no loops); names that are not UTF-8 are shown
 * with U+FFFD. \returns MNEME_OK, MNEME_CANCELLED, MNEME_ERROR_FILE_NOT_FOUND.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_scan(const mneme_model* model, const char* root,
                                                                      const mneme_codebase_desc* desc,
                                                                      mneme_codebase** out) MNEME_NOEXCEPT;

/** Accepts NULL. */
MNEME_API void MNEME_CALL mneme_codebase_destroy(mneme_codebase* codebase) MNEME_NOEXCEPT;

MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_file_count(const mneme_codebase* codebase,
                                                                            size_t* out_count) MNEME_NOEXCEPT;

typedef struct mneme_codebase_file {
    uint32_t struct_size; /**< set by the caller */
    mneme_file_status status;
    const char* path;     /**< relative, '/'-separated UTF-8; lives as long as the codebase */
    const char* reason;   /**< why it is not included, or "" */
    uint64_t bytes;
    uint64_t tokens;      /**< tokens of the file's block in the rendered prompt */
    int64_t mtime_seconds;
} mneme_codebase_file;

/** File `index` in rendering order. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_get_file(const mneme_codebase* codebase, size_t index,
                                                                          mneme_codebase_file* out) MNEME_NOEXCEPT;

typedef struct mneme_codebase_span {
    uint32_t struct_size;  /**< set by the caller */
    mneme_bool included;   /**< the file is in the rendered text (otherwise the span is empty) */
    uint64_t byte_offset;  /**< the file's block in the text of mneme_codebase_render */
    uint64_t byte_length;
    uint64_t token_offset; /**< its first token, counted from the first token of that text */
    uint64_t token_count;  /**< = mneme_codebase_file.tokens */
} mneme_codebase_span;

/**
 * Where file `index` lies in the rendered codebase text, in bytes and in tokens. Blocks are
 * tokenized on their own and a block boundary is also a pre-tokenizer boundary, so the spans of
 * the included files tile the tokens of the whole text in order. Add the tokens that precede the
 * text in a prompt (e.g. the chat template's prefix) to get prompt positions, for
 * mneme_session_last_selection_by_span. \threadsafety any thread, not with set_included.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_get_file_span(const mneme_codebase* codebase,
                                                                               size_t index,
                                                                               mneme_codebase_span* out) MNEME_NOEXCEPT;

/** Includes or excludes a text file (binary and unreadable files cannot be included). */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_set_included(mneme_codebase* codebase, size_t index,
                                                                              mneme_bool included) MNEME_NOEXCEPT;

/** Sum of the token counts of the included files. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_token_count(const mneme_codebase* codebase,
                                                                             uint64_t* out_tokens) MNEME_NOEXCEPT;

/**
 * The prompt text of the included files (docs/CODEBASE.md describes the format). Caller-buffer
 * convention: MNEME_INCOMPLETE with *out_len = the needed size when buf is too small.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_codebase_render(const mneme_codebase* codebase, char* buf,
                                                                        size_t buf_size, size_t* out_len) MNEME_NOEXCEPT;


/* ---------------------------------------------------------------------------------------------
 * Engram store
 * ------------------------------------------------------------------------------------------- */

/**
 * Imports the Engram tables of the checkpoint in `model_dir` into the store directory `store_dir`
 * (created when missing; see mneme_model_desc.engram_store_path). Resumable: tables already
 * imported are kept and an interrupted import continues where its last durable chunk ended. A kill
 * at any point leaves complete tables or tables the store reports as incomplete, never wrong rows.
 * Progress (stage MNEME_PROGRESS_STAGE_ENGRAM_IMPORT, bytes) may cancel: MNEME_CANCELLED.
 * \returns MNEME_OK, MNEME_CANCELLED, MNEME_ERROR_FILE_NOT_FOUND, MNEME_ERROR_INVALID_MODEL,
 *          MNEME_ERROR_INVALID_ARGUMENT (no Engram tables), MNEME_ERROR_IO.
 * \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_engram_import(mneme_runtime* runtime, const char* model_dir,
                                                                      const char* store_dir,
                                                                      mneme_progress_fn progress_fn,
                                                                      void* progress_user_data) MNEME_NOEXCEPT;

typedef struct mneme_engram_stats {
    uint32_t struct_size;        /**< set by the caller */
    mneme_bool from_store;       /**< the tables are served from an Engram store (else from the checkpoint) */
    uint64_t table_bytes;        /**< rows of every Engram table (codes and scales) */
    uint64_t cache_budget_bytes; /**< the store's DRAM row cache: its budget */
    uint64_t cache_bytes;        /**< and what it holds now */
    uint64_t hits;               /**< row lookups the cache served */
    uint64_t misses;             /**< row lookups read from the store's files */
    uint64_t bytes_read;         /**< from the store's files */
    uint64_t steps;              /**< forward passes that gathered rows */
    uint64_t prefetched_steps;   /**< of which had their reads issued ahead of need */
    double prefetch_lead_seconds; /**< summed over steps and layers: from issuing reads to needing rows */
    double stall_seconds;        /**< summed: time forward passes waited for rows */
} mneme_engram_stats;

/** Engram serving counters of a model (zeros but table_bytes without a store). \threadsafety any thread. */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_model_engram_stats(const mneme_model* model,
                                                                           mneme_engram_stats* out) MNEME_NOEXCEPT;

/**
 * Profiles a text for the Engram store the model serves its tables from: counts the table rows the
 * token sequence reads (they depend on token ids only: no forward pass runs), adds the counts to the
 * store's persisted profile and warms the row cache from it. Later opens warm from it too. A sample
 * of what the user will run (their codebase) makes the first steps hit the cache instead of the disk.
 * `out_distinct_rows` (may be NULL) receives how many different rows the text reads.
 * \returns MNEME_OK; MNEME_ERROR_INVALID_ARGUMENT (no store, a token outside the vocabulary);
 *          MNEME_ERROR_IO. \threadsafety any thread.
 */
MNEME_NODISCARD MNEME_API mneme_status MNEME_CALL mneme_model_engram_profile(mneme_model* model, const int32_t* tokens,
                                                                             size_t n_tokens,
                                                                             uint64_t* out_distinct_rows) MNEME_NOEXCEPT;

#if defined(__cplusplus)
} /* extern "C" */
#endif

#endif /* MNEME_H */
