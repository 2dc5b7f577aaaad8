#include "core/generator.h"

namespace hy {

std::array<uint32_t, 4> philox4x32(uint64_t key, uint64_t counter) {
  // Salmon et al., "Parallel random numbers: as easy as 1, 2, 3" (SC'11), Philox4x32-10.
  uint32_t c0 = static_cast<uint32_t>(counter), c1 = static_cast<uint32_t>(counter >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = static_cast<uint32_t>(key), k1 = static_cast<uint32_t>(key >> 32);
  for (int round = 0; round < 10; ++round) {
    uint64_t p0 = static_cast<uint64_t>(0xD2511F53u) * c0;
    uint64_t p1 = static_cast<uint64_t>(0xCD9E8D57u) * c2;
    uint32_t hi0 = static_cast<uint32_t>(p0 >> 32), lo0 = static_cast<uint32_t>(p0);
    uint32_t hi1 = static_cast<uint32_t>(p1 >> 32), lo1 = static_cast<uint32_t>(p1);
    c0 = hi1 ^ c1 ^ k0;
    c1 = lo1;
    c2 = hi0 ^ c3 ^ k1;
    c3 = lo0;
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  return {c0, c1, c2, c3};
}

namespace {
thread_local std::shared_ptr<Generator> t_thread_generator;
}  // namespace

std::shared_ptr<Generator> default_generator() {
  if (t_thread_generator) return t_thread_generator;
  static std::shared_ptr<Generator> g = std::make_shared<Generator>();
  return g;
}

std::shared_ptr<Generator> set_thread_generator(std::shared_ptr<Generator> g) {
  std::swap(g, t_thread_generator);
  return g;
}

}  // namespace hy
