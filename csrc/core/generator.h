// Reproducible random numbers: a counter-based Philox4x32-10 stream. Element i of a draw uses counter
// (offset + i), so results do not depend on how many threads generate them.
//
//   Generator g(42);  uint64_t base = g.reserve(n);   // then philox(g.seed(), base + i) per element
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <mutex>

namespace hy {

/// Philox4x32 with 10 rounds: 4 random 32-bit words for (key, counter).
std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter);

/// A seeded random stream. Thread-safe: reserve() hands out disjoint counter ranges.
class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ull) : seed_(seed) {}
  /// Restart the stream from `seed`.
  void manual_seed(uint64_t seed) { std::lock_guard<std::mutex> l(mu_); seed_ = seed; offset_ = 0; }
  uint64_t seed() const { return seed_; }
  /// Counter position; with seed it is the whole state.
  uint64_t offset() const { return offset_; }
  void set_state(uint64_t seed, uint64_t offset) { std::lock_guard<std::mutex> l(mu_); seed_ = seed; offset_ = offset; }
  /// Claim n counters; returns the first.
  uint64_t reserve(uint64_t n) { std::lock_guard<std::mutex> l(mu_); uint64_t b = offset_; offset_ += n; return b; }

 private:
  std::mutex mu_;
  uint64_t seed_;
  uint64_t offset_ = 0;
};

/// The generator used when none is passed: this thread's override if set, else the process-wide one
/// (hy.manual_seed seeds whichever it is).
std::shared_ptr<Generator> default_generator();
/// Make `g` this thread's default generator (null: back to the process-wide one); returns the previous
/// override. A workflow task runs with its own ctx.rng installed, so random init and dropout inside a
/// task draw from a stream no other task touches, and runs are reproducible whatever the thread timing.
std::shared_ptr<Generator> set_thread_generator(std::shared_ptr<Generator> g);

}  // namespace hy
