// multinomial (csrc/ops/table/random.yaml): category indices drawn from rows of non-negative weights.
//
// Each row's draws use Philox counters reserved from the generator in one block, counter = base + the
// draw's position, so results do not depend on the thread count (see core/generator.h).
//   with replacement     one uniform per sample, looked up in the row's cumulative weights;
//   without replacement  the exponential race: category c gets the key E_c / w_c with E_c ~ Exp(1), and
//                        the num_samples smallest keys, in order, are distributed exactly like drawing
//                        one category at a time and removing it (zero weights never win).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "core/generator.h"
#include "core/parallel.h"
#include "hyflow/ops/ops_common.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::kernels::cpu {
namespace {

// Uniform in [0, 1) with 53 random bits.
double uniform53(uint64_t key, uint64_t counter) {
  std::array<uint32_t, 4> w = philox4x32(key, counter);
  uint64_t bits = (static_cast<uint64_t>(w[0]) << 21) ^ (w[1] >> 11);
  return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
}

// The errors PyTorch raises, before anything is drawn.
void check_weights(const double* w, int64_t rows, int64_t n, int64_t num_samples, bool replacement) {
  for (int64_t r = 0; r < rows; ++r) {
    double total = 0;
    int64_t positive = 0;
    for (int64_t c = 0; c < n; ++c) {
      const double x = w[r * n + c];
      HY_CHECK(std::isfinite(x) && x >= 0, RuntimeError, "multinomial: probability tensor contains either inf, nan ",
               "or element < 0 (self[", rows > 1 ? str(r, ", ") : std::string(), c, "] = ", x, ")");
      total += x;
      positive += x > 0;
    }
    HY_CHECK(total > 0, RuntimeError, "multinomial: invalid multinomial distribution (sum of probabilities <= 0)",
             rows > 1 ? str(" in row ", r) : std::string());
    HY_CHECK(replacement || positive >= num_samples, RuntimeError, "multinomial: invalid multinomial distribution ",
             "(with replacement=False, not enough non-zero categories to sample): num_samples=", num_samples,
             " but only ", positive, " categories have a non-zero weight",
             rows > 1 ? str(" in row ", r) : std::string());
  }
}

}  // namespace

Tensor multinomial(const Tensor& self, int64_t num_samples, bool replacement,
                   const std::shared_ptr<Generator>& generator) {
  hy::cpu::check_defined(self, "multinomial", "self");
  hy::cpu::check_floating(self, "multinomial", "self");
  HY_CHECK(self.dim() == 1 || self.dim() == 2, ValueError, "multinomial: self (the weights) must be 1-D or 2-D, got ",
           self.describe());
  const int64_t n = self.shape()[self.dim() - 1], rows = self.dim() == 2 ? self.shape()[0] : 1;
  HY_CHECK(n > 0, ValueError, "multinomial: self must have at least one category, got ", self.describe());
  HY_CHECK(num_samples > 0, ValueError, "multinomial: num_samples must be positive, got ", num_samples);
  HY_CHECK(replacement || num_samples <= n, RuntimeError, "multinomial: cannot sample num_samples=", num_samples,
           " > ", n, " categories without replacement (pass replacement=True)");
  Tensor w = hy::cpu::contiguous(hy::cpu::cast_to(self, DType::Float64));
  const double* wp = w.data<double>();
  check_weights(wp, rows, n, num_samples, replacement);

  Shape shape = self.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  Tensor out = Tensor::empty(shape, DType::Int64);
  int64_t* o = out.data<int64_t>();
  std::shared_ptr<Generator> g = generator ? generator : default_generator();
  const int64_t per_row = replacement ? num_samples : n;
  const uint64_t key = g->seed();
  const uint64_t base = g->reserve(static_cast<uint64_t>(rows * per_row));
  parallel_for(0, rows, 1, [&](int64_t b, int64_t e) {
    std::vector<double> acc(static_cast<size_t>(n));
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t r = b; r < e; ++r) {
      const double* wr = wp + r * n;
      const uint64_t row_base = base + static_cast<uint64_t>(r * per_row);
      if (replacement) {
        std::partial_sum(wr, wr + n, acc.begin());
        // The last positive category: the draw when u * total rounds up to total.
        int64_t last = n - 1;
        while (last > 0 && wr[last] <= 0) --last;
        for (int64_t s = 0; s < num_samples; ++s) {
          const double u = uniform53(key, row_base + static_cast<uint64_t>(s)) * acc[n - 1];
          const int64_t c = std::upper_bound(acc.begin(), acc.end(), u) - acc.begin();
          o[r * num_samples + s] = std::min(c, last);
        }
      } else {
        for (int64_t c = 0; c < n; ++c) {
          const double exp1 = -std::log1p(-uniform53(key, row_base + static_cast<uint64_t>(c)));  // Exp(1)
          acc[c] = wr[c] > 0 ? exp1 / wr[c] : INFINITY;
        }
        std::iota(order.begin(), order.end(), int64_t{0});
        std::partial_sort(order.begin(), order.begin() + num_samples, order.end(), [&](int64_t i, int64_t j) {
          return acc[i] < acc[j] || (acc[i] == acc[j] && i < j);
        });
        std::copy(order.begin(), order.begin() + num_samples, o + r * num_samples);
      }
    }
  });
  return out;
}

}  // namespace hy::kernels::cpu
