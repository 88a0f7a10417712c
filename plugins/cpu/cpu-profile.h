// Where a CPU pass spends its time, by kind of op: MNEME_CPU_PROFILE=1 times every op the backend
// runs and prints one table to stderr when the backend is closed. Matmuls are split by weight
// format and by activation rows (decode GEMV, drafting/small-expert products, packed-panel
// prefill) and by size (w<=64K: at most 64Ki weights), which decide the kernel and how well it
// streams; ops of 1-token decode passes are counted apart from prefill's (a pass is told by its
// RMS norms, so what runs before a pass's first norm, the embedding lookup and cache growth, is
// counted with the pass before). The time between submits, the host's share of a step, is printed
// after the ops; MNEME_CPU_PROFILE=shapes also tells matmuls apart by weight shape (N x K). Off by
// default: no clock is read.
#pragma once

#include <mneme/mneme_plugin.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mneme::cpu {

class op_profile {
public:
    // Reads MNEME_CPU_PROFILE once.
    op_profile();
    ~op_profile();  // prints the table when enabled and anything was recorded
    op_profile(const op_profile&) = delete;
    op_profile& operator=(const op_profile&) = delete;

    bool enabled() const noexcept { return enabled_; }
    void record(const mneme_op& op, uint64_t ns);
    // A queue_submit's start and end: the time between one submit's end and the next one's start
    // is the host's (graph recording, routing read-backs, sampling), printed apart from the ops.
    // Decode gaps are also tallied by the ops on either side (the last one of the submit before,
    // the first one of the next), which tells what the host was doing in between.
    void submit_started(uint64_t now_ns, const mneme_op& first);
    void submit_ended(uint64_t now_ns, const mneme_op& last);

  private:
    struct tally {
        uint64_t calls = 0, ns = 0;
        double flops = 0;  // matmuls only
    };
    bool enabled_ = false;
    std::mutex mu_;  // queues of several sessions may run at once
    std::map<std::string, tally> by_kind_;
    bool in_decode_ = false;  // the pass in progress has one token (set by its RMS norms)
    uint64_t last_end_ns_ = 0;  // of the previous submit; 0 before the first
    tally host_[2];             // time between submits: [0] other passes (loading included), [1] decode
    std::string last_kind_;     // of the previous submit's last op
    std::map<std::string, tally> decode_gaps_;  // "before -> after" op kinds
};

}  // namespace mneme::cpu
