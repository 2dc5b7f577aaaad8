// The CUDA kernels of uniform_, normal_, rand, randn, randint and multinomial: counters come from the same Generator as on the
// CPU (reserve(numel)), so a seed gives the same stream on either device (random.cu).
#include <memory>
#include <optional>
#include <string>

#include "core/current_device.h"
#include "core/generator.h"
#include "cuda/glue_internal.h"
#include "kernels/device_copy.h"

namespace hy::kernels::cuda {
namespace {

Tensor random_fill(const char* op, const Tensor& self, bool normal, double a, double b,
                   const std::shared_ptr<Generator>& generator) {
  HY_CHECK(dtype_is_floating(self.dtype()), TypeError, op, ": self must be a floating-point tensor, got ",
           self.describe());
  self.note_write();
  auto g = generator ? generator : default_generator();
  const uint64_t base = g->reserve(static_cast<uint64_t>(self.numel()));
  Tensor dst = self.is_contiguous() ? self : Tensor::empty(self.shape(), self.dtype(), self.device());
  hy::cuda::launch_random(normal, dst.dtype(), dst.raw_data(), dst.numel(), g->seed(), base, a, b,
                          hy::cuda::launch_stream(self.device()));
  if (dst.impl() != self.impl()) hy::cuda::copy_into(self, dst);
  return self;
}

Device cuda_device(std::optional<Device> device) {
  return device.value_or(current_cuda_device());
}

}  // namespace

Tensor uniform_(const Tensor& self, double low, double high, const std::shared_ptr<Generator>& generator) {
  HY_CHECK(low <= high, ValueError, "uniform_: low (", low, ") must not exceed high (", high, ")");
  return random_fill("uniform_", self, false, low, high, generator);
}

Tensor normal_(const Tensor& self, double mean, double std, const std::shared_ptr<Generator>& generator) {
  HY_CHECK(std >= 0, ValueError, "normal_: std must be non-negative, got ", std);
  return random_fill("normal_", self, true, mean, std, generator);
}

Tensor rand(const DimVector& size, const std::shared_ptr<Generator>& generator, std::optional<DType> dtype,
            std::optional<Device> device) {
  return uniform_(Tensor::empty(size, dtype.value_or(default_float_dtype()), cuda_device(device)), 0.0, 1.0, generator);
}

Tensor randn(const DimVector& size, const std::shared_ptr<Generator>& generator, std::optional<DType> dtype,
             std::optional<Device> device) {
  return normal_(Tensor::empty(size, dtype.value_or(default_float_dtype()), cuda_device(device)), 0.0, 1.0, generator);
}

Tensor randint(int64_t low, int64_t high, const DimVector& size, const std::shared_ptr<Generator>& generator,
               std::optional<DType> dtype, std::optional<Device> device) {
  HY_CHECK(low < high, ValueError, "randint: low (", low, ") must be less than high (", high, ")");
  Tensor t = Tensor::empty(size, dtype.value_or(DType::Int64), cuda_device(device));
  auto g = generator ? generator : default_generator();
  const uint64_t base = g->reserve(static_cast<uint64_t>(t.numel()));
  hy::cuda::launch_randint(t.dtype(), t.raw_data(), t.numel(), g->seed(), base, low,
                           static_cast<uint64_t>(high) - static_cast<uint64_t>(low), hy::cuda::launch_stream(t.device()));
  return t;
}

// As on the CPU (kernels/cpu/random.cpp): the same checks and messages, the same counters, the same
// draws (running sums and the exponential race in float64). The weights' validity is computed on the
// device and read back (one small synchronizing copy), so a bad distribution raises before any draw.
Tensor multinomial(const Tensor& self, int64_t num_samples, bool replacement,
                   const std::shared_ptr<Generator>& generator) {
  HY_CHECK(self.defined(), ValueError, "multinomial: self is undefined (None)");
  HY_CHECK(dtype_is_floating(self.dtype()), TypeError, "multinomial: self must be a floating-point tensor, got ",
           self.describe());
  HY_CHECK(self.dim() == 1 || self.dim() == 2, ValueError, "multinomial: self (the weights) must be 1-D or 2-D, got ",
           self.describe());
  const int64_t n = self.shape()[self.dim() - 1], rows = self.dim() == 2 ? self.shape()[0] : 1;
  HY_CHECK(n > 0, ValueError, "multinomial: self must have at least one category, got ", self.describe());
  HY_CHECK(num_samples > 0, ValueError, "multinomial: num_samples must be positive, got ", num_samples);
  HY_CHECK(replacement || num_samples <= n, RuntimeError, "multinomial: cannot sample num_samples=", num_samples,
           " > ", n, " categories without replacement (pass replacement=True)");
  Tensor w = Tensor::empty(self.shape(), DType::Float64, self.device());
  hy::cuda::copy_into(w, self);  // dense float64
  void* stream = hy::cuda::launch_stream(self.device());
  Shape shape = self.dim() == 2 ? Shape{rows, num_samples} : Shape{num_samples};
  Tensor out = Tensor::empty(shape, DType::Int64, self.device());
  if (rows == 0) return out;
  Tensor status = Tensor::empty(Shape{rows}, DType::Int64, self.device());
  const auto* wp = static_cast<const double*>(w.raw_data());
  hy::cuda::launch_multinomial_check(wp, rows, n, num_samples, replacement, static_cast<int64_t*>(status.raw_data()),
                                     stream);
  const Tensor host_status = tensor_to_device(status, kCPU, false);
  const auto* st = static_cast<const int64_t*>(host_status.raw_data());
  for (int64_t r = 0; r < rows; ++r) {
    if (st[r] == 0) continue;
    const std::string in_row = rows > 1 ? str(" in row ", r) : std::string();
    if (st[r] > 0) {
      const int64_t c = st[r] - 1;
      const Tensor host_w = tensor_to_device(w, kCPU, false);
      const double x = static_cast<const double*>(host_w.raw_data())[r * n + c];
      throw RuntimeError(str("multinomial: probability tensor contains either inf, nan or element < 0 (self[",
                             rows > 1 ? str(r, ", ") : std::string(), c, "] = ", x, ")"));
    }
    if (st[r] == -1) throw RuntimeError(str("multinomial: invalid multinomial distribution (sum of probabilities <= 0)", in_row));
    throw RuntimeError(str("multinomial: invalid multinomial distribution (with replacement=False, not enough non-zero ",
                           "categories to sample): num_samples=", num_samples, " but only ", -2 - st[r],
                           " categories have a non-zero weight", in_row));
  }
  auto g = generator ? generator : default_generator();
  const int64_t per_row = replacement ? num_samples : n;
  const uint64_t key = g->seed();
  const uint64_t base = g->reserve(static_cast<uint64_t>(rows * per_row));
  Tensor scratch = Tensor::empty(Shape{rows, n}, DType::Float64, self.device());
  hy::cuda::launch_multinomial(wp, rows, n, num_samples, replacement, key, base,
                               static_cast<double*>(scratch.raw_data()), static_cast<int64_t*>(out.raw_data()), stream);
  return out;
}

}  // namespace hy::kernels::cuda
