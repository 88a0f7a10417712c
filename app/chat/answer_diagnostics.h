// Reads the SDK's statistics of a session's last answer into plain Qt values: counters, expert
// routing counts, and the sparse-attention selections summed per codebase file.
#pragma once

#include <mneme/mneme.h>

#include "engine_types.h"

namespace mneme_chat {

// `codebase` may be NULL (no files then); `codebaseFirstToken` is the prompt position of the
// first token of the codebase's rendered text. `model` tells whether there are Engram tables.
AnswerDiagnostics readAnswerDiagnostics(const mneme_model* model, const mneme_session* session,
                                        const mneme_codebase* codebase, quint64 codebaseFirstToken);

}  // namespace mneme_chat
