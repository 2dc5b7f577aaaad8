// Factory kernels: empty/zeros/ones/full, ranges, eye, and the random fills built on the
// counter-based Philox generator (reproducible regardless of thread count).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "core/generator.h"
#include "core/parallel.h"
#include "core/scalar_check.h"
#include "core/shape_util.h"
#include "hyflow/ops/tensor.h"
#include "kernels/cpu/int_wrap_internal.h"
#include "kernels/cpu/kernel_util.h"

namespace hy::cpu {

ArangePlan arange_plan(const Scalar& start, const Scalar& end, const Scalar& step, std::optional<DType> dtype) {
  const bool all_int = !start.is_float() && !end.is_float() && !step.is_float();
  const DType dt = dtype.value_or(all_int ? DType::Int64 : default_float_dtype());
  const double s = start.to_double(), e = end.to_double(), st = step.to_double();
  HY_CHECK(st != 0, ValueError, "arange: step must be nonzero");
  HY_CHECK(std::isfinite(s) && std::isfinite(e) && std::isfinite(st), ValueError,
           "arange: start, end and step must be finite");
  HY_CHECK((st > 0 && e >= s) || (st < 0 && e <= s), ValueError, "arange: the sign of step ", step,
           " does not lead from start ", start, " to end ", end);
  int64_t n;
  if (all_int) {
    // The span and the count in uint64: end - start overflows int64 for arange(-2**63, 2**63 - 1).
    const int64_t a = start.to_int(), b = end.to_int(), c = step.to_int();
    const uint64_t span = c > 0 ? wrap_sub<uint64_t>(b, a) : wrap_sub<uint64_t>(a, b);
    const uint64_t size = c > 0 ? static_cast<uint64_t>(c) : wrap_sub<uint64_t>(0, c);
    const uint64_t count = span / size + (span % size != 0);
    HY_CHECK(count <= static_cast<uint64_t>(INT64_MAX), ValueError, "arange: too many elements (", count, ")");
    n = static_cast<int64_t>(count);
  } else {
    const double len = std::ceil((e - s) / st);
    HY_CHECK(len < 9.2e18, ValueError, "arange: too many elements (", len, ")");
    n = static_cast<int64_t>(len);
  }
  if (n > 0) {  // the values are monotone: the ends fit the dtype, so all do
    // start + (n - 1) * step lies between start and end, so it fits even where (n - 1) * step does not.
    const Scalar last = all_int ? Scalar(wrap_add(start.to_int(), wrap_mul(n - 1, step.to_int())))
                                : Scalar(s + static_cast<double>(n - 1) * st);
    check_scalar_fits(start, dt, "arange", "start");
    check_scalar_fits(last, dt, "arange", "the last value");
  }
  return {dt, n, all_int};
}

}  // namespace hy::cpu

namespace hy::kernels::cpu {
namespace {

void check_cpu(const std::optional<Device>& device, const char* op) {
  HY_CHECK(!device || device->is_cpu(), NotImplementedError, "op '", op, "' has no kernel for device '",
           device_str(*device), "' in this build");
}

template <typename F>
void fill_by_index(const Tensor& t, const F& value_at) {
  HY_DISPATCH_ALL(t.dtype(), "fill", [&] {
    scalar_t* p = t.data<scalar_t>();
    parallel_for(0, t.numel(), 16384, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) p[i] = static_cast<scalar_t>(value_at(i));
    });
  });
}

// Uniform in [0, 1) from Philox words: 24 bits for float32 and below, 53 for float64.
inline double uniform01(const std::array<uint32_t, 4>& w, int which, bool wide) {
  if (wide) {
    uint64_t bits = (static_cast<uint64_t>(w[2 * which]) << 21) ^ (w[2 * which + 1] >> 11);
    return static_cast<double>(bits & ((1ull << 53) - 1)) * (1.0 / 9007199254740992.0);
  }
  return static_cast<double>(w[which] >> 8) * (1.0 / 16777216.0);
}

// A uniform draw for a 16-bit dtype keeps as many bits as its significand (11 for float16, 8 for bfloat16,
// 24 for float32: the same draw as uniform01), so [0, 1) stays below 1 after rounding to the dtype (24 bits
// rounded up to 1.0). The CUDA kernel draws the same values (cuda/random.cu).
inline double uniform_digits(const std::array<uint32_t, 4>& w, int digits) {
  return static_cast<double>(w[0] >> (32 - digits)) * std::ldexp(1.0, -digits);
}

int uniform_digits_of(DType dt) { return dt == DType::Float16 ? 11 : dt == DType::BFloat16 ? 8 : 24; }

std::shared_ptr<Generator> gen_or_default(const std::shared_ptr<Generator>& g) {
  return g ? g : default_generator();
}

template <typename Draw>
void random_fill(const Tensor& t, const std::shared_ptr<Generator>& generator, const Draw& draw) {
  auto g = gen_or_default(generator);
  uint64_t base = g->reserve(static_cast<uint64_t>(t.numel()));
  uint64_t key = g->seed();
  Tensor dst = t.is_contiguous() ? t : Tensor::empty(t.shape(), t.dtype());
  bool wide = dst.dtype() == DType::Float64;
  HY_DISPATCH_ALL(dst.dtype(), "random", [&] {
    scalar_t* p = dst.data<scalar_t>();
    parallel_for(0, dst.numel(), 8192, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i)
        p[i] = static_cast<scalar_t>(draw(philox4x32(key, base + static_cast<uint64_t>(i)), wide));
    });
  });
  if (!t.is_contiguous()) hy::cpu::copy_into(t, dst);
}

inline double normal_draw(const std::array<uint32_t, 4>& w, bool wide) {
  double u1 = 1.0 - uniform01(w, 0, wide);  // (0, 1]: log(u1) is finite
  double u2 = uniform01(w, 1, wide);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

}  // namespace

Tensor empty(const DimVector& size, std::optional<DType> dtype, std::optional<Device> device) {
  check_cpu(device, "empty");
  return Tensor::empty(size, dtype.value_or(default_float_dtype()));
}

Tensor zeros(const DimVector& size, std::optional<DType> dtype, std::optional<Device> device) {
  Tensor t = empty(size, dtype, device);
  std::memset(t.raw_data(), 0, static_cast<size_t>(t.nbytes()));  // all-zero bits is 0 for every dtype
  return t;
}

Tensor full(const DimVector& size, const Scalar& fill_value, std::optional<DType> dtype,
            std::optional<Device> device) {
  Tensor t = empty(size, dtype.value_or(fill_value.default_dtype()), device);
  return ops::fill_(t, fill_value);
}

Tensor ones(const DimVector& size, std::optional<DType> dtype, std::optional<Device> device) {
  return full(size, Scalar(static_cast<int64_t>(1)), dtype.value_or(default_float_dtype()), device);
}

Tensor arange(const Scalar& start, const Scalar& end, const Scalar& step, std::optional<DType> dtype,
              std::optional<Device> device) {
  const hy::cpu::ArangePlan plan = hy::cpu::arange_plan(start, end, step, dtype);
  const DType dt = plan.dtype;
  const int64_t n = plan.n;
  const bool all_int = plan.all_int;
  const double s = start.to_double(), st = step.to_double();
  Tensor t = empty(DimVector{n}, dt, device);
  if (all_int && dtype_is_integral(dt)) {
    int64_t a = start.to_int(), c = step.to_int();
    fill_by_index(t, [&](int64_t i) { return hy::cpu::wrap_add(a, hy::cpu::wrap_mul(i, c)); });
  } else {
    fill_by_index(t, [&](int64_t i) { return s + static_cast<double>(i) * st; });
  }
  return t;
}

Tensor linspace(const Scalar& start, const Scalar& end, int64_t steps, std::optional<DType> dtype,
                std::optional<Device> device) {
  HY_CHECK(steps >= 0, ValueError, "linspace: steps must be non-negative, got ", steps);
  Tensor t = empty(DimVector{steps}, dtype.value_or(default_float_dtype()), device);
  if (steps > 0) check_scalar_fits(start, t.dtype(), "linspace", "start");
  if (steps > 1) check_scalar_fits(end, t.dtype(), "linspace", "end");
  double s = start.to_double(), e = end.to_double();
  double step = steps > 1 ? (e - s) / static_cast<double>(steps - 1) : 0.0;
  // Fill from both ends so the last value is exactly `end`, as NumPy does; one step gives `start`.
  int64_t half = steps == 1 ? 1 : steps / 2;
  fill_by_index(t, [&](int64_t i) {
    return i < half ? s + step * static_cast<double>(i) : e - step * static_cast<double>(steps - 1 - i);
  });
  return t;
}

Tensor eye(int64_t n, std::optional<int64_t> m, std::optional<DType> dtype, std::optional<Device> device) {
  int64_t cols = m.value_or(n);
  HY_CHECK(n >= 0 && cols >= 0, ValueError, "eye: sizes must be non-negative, got n=", n, ", m=", cols);
  Tensor t = zeros(DimVector{n, cols}, dtype, device);
  Tensor one = full(DimVector{}, Scalar(static_cast<int64_t>(1)), t.dtype(), device);
  int64_t k = std::min(n, cols), item = t.itemsize();
  for (int64_t i = 0; i < k; ++i)
    std::memcpy(static_cast<char*>(t.raw_data()) + (i * cols + i) * item, one.raw_data(), static_cast<size_t>(item));
  return t;
}

Tensor uniform_(const Tensor& self, double low, double high, const std::shared_ptr<Generator>& generator) {
  hy::cpu::check_floating(self, "uniform_", "self");
  HY_CHECK(low <= high, ValueError, "uniform_: low (", low, ") must not exceed high (", high, ")");
  self.note_write();
  const int digits = uniform_digits_of(self.dtype());
  random_fill(self, generator, [&](const std::array<uint32_t, 4>& w, bool wide) {
    return low + (high - low) * (wide ? uniform01(w, 0, true) : uniform_digits(w, digits));
  });
  return self;
}

Tensor normal_(const Tensor& self, double mean, double std, const std::shared_ptr<Generator>& generator) {
  hy::cpu::check_floating(self, "normal_", "self");
  HY_CHECK(std >= 0, ValueError, "normal_: std must be non-negative, got ", std);
  self.note_write();
  random_fill(self, generator, [&](const std::array<uint32_t, 4>& w, bool wide) {
    return mean + std * normal_draw(w, wide);
  });
  return self;
}

Tensor rand(const DimVector& size, const std::shared_ptr<Generator>& generator, std::optional<DType> dtype,
            std::optional<Device> device) {
  return uniform_(empty(size, dtype, device), 0.0, 1.0, generator);
}

Tensor randn(const DimVector& size, const std::shared_ptr<Generator>& generator, std::optional<DType> dtype,
             std::optional<Device> device) {
  return normal_(empty(size, dtype, device), 0.0, 1.0, generator);
}

Tensor randint(int64_t low, int64_t high, const DimVector& size, const std::shared_ptr<Generator>& generator,
               std::optional<DType> dtype, std::optional<Device> device) {
  HY_CHECK(low < high, ValueError, "randint: low (", low, ") must be less than high (", high, ")");
  Tensor t = empty(size, dtype.value_or(DType::Int64), device);
  uint64_t range = static_cast<uint64_t>(high) - static_cast<uint64_t>(low);
  random_fill(t, generator, [&](const std::array<uint32_t, 4>& w, bool) {
    uint64_t r = (static_cast<uint64_t>(w[0]) << 32) | w[1];
    // Multiply-high maps 64 random bits onto [0, range) (Lemire); the bias is below 2^-32 here.
    uint64_t v = static_cast<uint64_t>((static_cast<unsigned __int128>(r) * range) >> 64);
    return static_cast<int64_t>(static_cast<uint64_t>(low) + v);
  });
  return t;
}

}  // namespace hy::kernels::cpu
