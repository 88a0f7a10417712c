// The loop every crash test runs: start a writer process, SIGKILL it after a random delay, read
// back what it reported as committed, and let the caller check the files it left. The delays are
// drawn from a seeded generator whose seed is printed, so a failing sequence can be replayed with
// MNEME_CRASH_SEED=<seed>.
#pragma once

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace mneme::crash {

// What one writer process did before it ended.
struct writer_run {
    std::vector<std::string> reports;  // complete lines it printed (each printed after a commit)
    bool killed = false;               // ended by our SIGKILL
    bool exited_ok = false;            // ran to the end and exited 0
    double seconds = 0;                // from start to end
};

class kill_loop {
  public:
    // `kind` names the state in the log; `kills` is how many killed runs the caller makes
    // (MNEME_CRASH_KILLS overrides it).
    kill_loop(std::string kind, int kills);

    int kills() const noexcept { return kills_; }
    uint64_t seed() const noexcept { return seed_; }
    std::mt19937_64& rng() noexcept { return rng_; }

    // Runs this executable with `args` ("write", kind, ...) and kills it after `kill_after`
    // seconds; a negative value lets it finish (killed anyway after a minute: a hung writer).
    writer_run run(const std::vector<std::string>& args, double kill_after);
    // A delay drawn uniformly from [0, span] seconds.
    double random_delay(double span);

    // Records a failed check (printed with the iteration and the seed); the test fails at the end.
    void expect(bool ok, const std::string& what);
    void set_iteration(int i, double delay) {
        iteration_ = i;
        delay_ = delay;
    }
    int failures() const noexcept { return failures_; }
    // Prints the summary line and returns the process exit status (0 = every check passed).
    int finish(const std::string& summary) const;

  private:
    std::string kind_;
    int kills_;
    uint64_t seed_;
    std::mt19937_64 rng_;
    int iteration_ = -1;
    double delay_ = 0;
    int failures_ = 0;
};

// Writers print their reports with this: one line, written straight to stdout (a pipe) with a
// single write so that a kill never leaves half a line that could be mistaken for a report.
void report(const std::string& line);

// A fresh empty directory under the temporary folder, removed by the destructor.
struct scratch_dir {
    std::string path;
    explicit scratch_dir(const std::string& name);
    ~scratch_dir();
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
};

// 64-bit mix of a few integers: the deterministic "random" choices writers and checkers share.
uint64_t mix(uint64_t a, uint64_t b = 0, uint64_t c = 0);

}  // namespace mneme::crash
