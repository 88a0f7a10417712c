// Entry point of the backend-generic tests: `mneme-backend-tests --backend NAME [catch options]`
// (or MNEME_TEST_BACKEND=NAME). A backend without a usable device is reported as skipped with the
// probe's reason (exit code 77, ctest's SKIP_RETURN_CODE), never as a pass.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "plugin-device.h"

namespace bt = mneme::backend_test;

int main(int argc, char** argv) {
    std::vector<char*> rest;
    std::string backend;
    if (const char* env = std::getenv("MNEME_TEST_BACKEND")) backend = env;
    for (int i = 0; i < argc; ++i) {
        if (std::strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
            backend = argv[++i];
            continue;
        }
        rest.push_back(argv[i]);
    }
    if (backend.empty()) {
        std::fprintf(stderr, "mneme-backend-tests: name the backend with --backend NAME or MNEME_TEST_BACKEND\n");
        return 2;
    }
    bt::set_backend_under_test(backend);
    {
        bt::plugin_device probe(backend);
        if (!probe.usable()) {
            std::printf("SKIPPED: backend '%s' has no usable device: %s\n", backend.c_str(),
                        probe.probe_message().c_str());
            return 77;
        }
        std::printf("backend '%s': %s\n", backend.c_str(), probe.probe_message().c_str());
    }
    return Catch::Session().run(static_cast<int>(rest.size()), rest.data());
}
