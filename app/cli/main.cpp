// mneme-cli: command-line access to the Mneme SDK.
#include <mneme/mneme.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "bench-speed.h"
#include "commands.h"

namespace mneme_cli {

std::vector<std::string> runtime_option_names() { return {"threads", "plugin-path"}; }

mneme_runtime* open_runtime(const args& a) {
    mneme_runtime_desc desc = MNEME_RUNTIME_DESC_INIT;
    desc.n_threads = static_cast<uint32_t>(a.get_int("threads", 0));
    std::string extra = a.get_or("plugin-path", "");
    const char* paths[1] = {extra.c_str()};
    if (!extra.empty()) {
        desc.plugin_paths = paths;
        desc.plugin_path_count = 1;
    }
    mneme_runtime* rt = nullptr;
    const mneme_status st = mneme_runtime_create(&desc, &rt);
    if (st != MNEME_OK) {
        report_failure("cannot start the runtime", st);
        return nullptr;
    }
    return rt;
}

int report_failure(const std::string& context, mneme_status status) {
    const char* detail = mneme_last_error_message();
    std::fprintf(stderr, "error: %s: %s%s%s\n", context.c_str(), mneme_status_string(status), detail[0] ? ": " : "",
                 detail);
    return 1;
}

}  // namespace mneme_cli

namespace {

void print_usage() {
    std::printf(
        "usage: mneme-cli <command> [options]\n"
        "\n"
        "commands:\n"
        "  --version          print the library version\n"
        "  backends           list backend plugins, their state and devices\n"
        "  info               --model DIR [--context N]: architecture and memory estimate\n"
        "  plan               --model DIR --context N [--budget-gib G] [--json]: itemised memory plan\n"
        "  bench              --model DIR [--prompt-tokens P | --tokens IDS | --tokens-file F] [--gen-tokens G]\n"
        "                     [--prefill-chunk C] [--warmup-tokens W] [--reps R | --rounds-on-stdin] [--no-limits]\n"
        "                     [--json]:\n"
        "                     prefill and decode speed next to the measured memory bandwidth and GEMM peak;\n"
        "                     --rounds-on-stdin prefills once, then decodes G tokens per line read from stdin;\n"
        "                     --no-limits skips the bandwidth and GEMM probes\n"
        "  bench context      --model DIR --lengths 1024,8192,... [--json]: sparse vs dense at each length\n"
        "  engram import      --model DIR --store STORE: Engram tables into a store (resumable)\n"
        "  engram profile     --model DIR --store STORE --text FILE|DIR: warm the store's cache from a text\n"
        "  bench engram       --model DIR --store STORE --cache-mb N [--steps N] [--text FILE|DIR]\n"
        "                     [--profile-text FILE|DIR] [--json]: store vs table in RAM\n"
        "  tokenize           --model DIR --text TEXT [--bos]\n"
        "  logits             --model DIR --tokens 1,2,3 --out FILE.npy [--mode prefill|decode|chunked:N]\n"
        "                     [--precision f32|f64] [--act-quant on|off] [--dtype f32|f64]\n"
        "  generate           --model DIR (--prompt TEXT | --tokens IDS) [--max-tokens N] [--temp T]\n"
        "                     [--seed S] [--top-k K] [--top-p P] [--min-p P] [--repeat-penalty R] [--ids] [--chat]\n"
        "                     [--draft ngram|none] [--draft-threshold P] [--draft-max D]\n"
        "                     [--stats]: the answer's statistics (experts per layer, sparse selections, ...)\n"
        "  bench draft        --model DIR [--tokens N] [--json]: decode with and without n-gram drafting\n"
        "  chat               --model DIR [--codebase PATH] [--snapshots DIR] [--ask TEXT] [--max-tokens N]\n"
        "\n"
        "common options: --threads N, --plugin-path DIR, --backend NAME, --device N\n"
        "model options: --engram-store STORE --engram-cache-mb N (Engram tables from a store),\n"
        "               --index-coarse-block B (V3.2: two-stage approximate selection while decoding)\n");
}

}  // namespace

int main(int argc, char** argv) {
    using namespace mneme_cli;
    if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "help") == 0) {
        print_usage();
        return argc < 2 ? 2 : 0;
    }
    const std::string cmd = argv[1];
    if (cmd == "--version" || cmd == "version") {
        std::printf("mneme-cli %s (ABI %d)\n", mneme_version_string(), MNEME_ABI_VERSION);
        return 0;
    }
    try {
        if (cmd == "backends") return cmd_backends(args(argc, argv, 2, {}));
        if (cmd == "logits") return cmd_logits(args(argc, argv, 2, {}));
        if (cmd == "generate") return cmd_generate(args(argc, argv, 2, {"ids", "chat", "stats"}));
        if (cmd == "tokenize") return cmd_tokenize(args(argc, argv, 2, {"bos"}));
        if (cmd == "info") return cmd_info(args(argc, argv, 2, {}));
        if (cmd == "chat") return cmd_chat(args(argc, argv, 2, {}));
        if (cmd == "plan") return cmd_plan(args(argc, argv, 2, {"json"}));
        if (cmd == "engram" && argc > 2 && std::strcmp(argv[2], "import") == 0) {
            return cmd_engram_import(args(argc, argv, 3, {"quiet"}));
        }
        if (cmd == "engram" && argc > 2 && std::strcmp(argv[2], "profile") == 0) {
            return cmd_engram_profile(args(argc, argv, 3, {}));
        }
        if (cmd == "bench" && argc > 2 && std::strcmp(argv[2], "draft") == 0) {
            return cmd_bench_draft(args(argc, argv, 3, {"json"}));
        }
        if (cmd == "bench" && argc > 2 && std::strcmp(argv[2], "engram") == 0) {
            return cmd_bench_engram(args(argc, argv, 3, {"json"}));
        }
        if (cmd == "bench" && argc > 2 && std::strcmp(argv[2], "context") == 0) {
            return cmd_bench_context(args(argc, argv, 3, {"json"}));
        }
        if (cmd == "bench" && (argc == 2 || std::strncmp(argv[2], "--", 2) == 0)) {
            return cmd_bench_speed(args(argc, argv, 2, {"json", "rounds-on-stdin", "no-limits"}));
        }
        std::fprintf(stderr, "error: unknown command '%s' (see mneme-cli --help)\n", cmd.c_str());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s\n", e.what());
        return 1;
    } catch (const usage_error& e) {
        std::fprintf(stderr, "error: %s\n", e.message.c_str());
        return 2;
    }
}
