// The CUDA kernels of uniform_, normal_, rand and randn: counters come from the same Generator as on the
// CPU (reserve(numel)), so a seed gives the same stream on either device (random.cu).
#include <memory>
#include <optional>

#include "core/generator.h"
#include "cuda/glue_internal.h"

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
  return device.value_or(Device{DeviceType::DeviceType_CUDA, 0});
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
  return uniform_(Tensor::empty(size, dtype.value_or(DType::Float32), cuda_device(device)), 0.0, 1.0, generator);
}

Tensor randn(const DimVector& size, const std::shared_ptr<Generator>& generator, std::optional<DType> dtype,
             std::optional<Device> device) {
  return normal_(Tensor::empty(size, dtype.value_or(DType::Float32), cuda_device(device)), 0.0, 1.0, generator);
}

}  // namespace hy::kernels::cuda
