// Ternary elementwise kernels with broadcasting (the op table's ternary family): where, clamp with
// scalar bounds, clamp_tensor with tensor bounds. Their math is the `scalar:` expressions of
// csrc/ops/table/ternary.yaml, generated into hy::scalar_ops; clamp runs clamp_tensor's functors on its
// bounds wrapped as 0-d tensors (one loop for both ops).
#include <algorithm>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "core/scalar_check.h"
#include "core/type_promotion.h"
#include "hyflow/ops/ops_common.h"
#include "hyflow/ops/scalar_ops_generated.h"
#include "kernels/cpu/binary_impl.h"

namespace hy::kernels::cpu {
using hy::cpu::binary_row;
using hy::cpu::cast_to;
using hy::cpu::check_defined;
using hy::cpu::compute_dtype;
using hy::cpu::copy_into;
using hy::cpu::ElementwisePlan;
using hy::cpu::kLowpBlock;
using hy::cpu::prepare_out;
using std::optional;
namespace so = hy::scalar_ops;

namespace {

// One row of out[i] = f(a[i], b[i], c[i]). Each input is either dense or broadcast (stride 0) in the
// common cases; those are compiled as separate loops (DA/DB/DC = dense) so every one vectorizes.
template <bool DA, bool DB, bool DC, typename Out, typename A, typename B, typename C, typename F>
inline void ternary_dense_loop(Out* o, const A* a, const B* b, const C* c, int64_t n, const F& f) {
  for (int64_t i = 0; i < n; ++i) o[i] = f(a[DA ? i : 0], b[DB ? i : 0], c[DC ? i : 0]);
}

template <typename Out, typename A, typename B, typename C, typename F>
void ternary_row(char** p, const int64_t* s, int64_t n, const F& f) {
  const A* a = reinterpret_cast<const A*>(p[1]);
  const B* b = reinterpret_cast<const B*>(p[2]);
  const C* c = reinterpret_cast<const C*>(p[3]);
  const bool ok_a = s[1] == sizeof(A) || s[1] == 0, ok_b = s[2] == sizeof(B) || s[2] == 0,
             ok_c = s[3] == sizeof(C) || s[3] == 0;
  if (s[0] == sizeof(Out) && ok_a && ok_b && ok_c) {
    Out* o = reinterpret_cast<Out*>(p[0]);
    const int mask = (s[1] != 0) << 2 | (s[2] != 0) << 1 | (s[3] != 0);
    switch (mask) {
      case 0b111: return ternary_dense_loop<true, true, true>(o, a, b, c, n, f);
      case 0b110: return ternary_dense_loop<true, true, false>(o, a, b, c, n, f);
      case 0b101: return ternary_dense_loop<true, false, true>(o, a, b, c, n, f);
      case 0b100: return ternary_dense_loop<true, false, false>(o, a, b, c, n, f);
      case 0b011: return ternary_dense_loop<false, true, true>(o, a, b, c, n, f);
      case 0b010: return ternary_dense_loop<false, true, false>(o, a, b, c, n, f);
      case 0b001: return ternary_dense_loop<false, false, true>(o, a, b, c, n, f);
      default: return ternary_dense_loop<false, false, false>(o, a, b, c, n, f);
    }
  }
  char *po = p[0], *pa = p[1], *pb = p[2], *pc = p[3];
  for (int64_t i = 0; i < n; ++i, po += s[0], pa += s[1], pb += s[2], pc += s[3]) {
    *reinterpret_cast<Out*>(po) = f(*reinterpret_cast<const A*>(pa), *reinterpret_cast<const B*>(pb),
                                    *reinterpret_cast<const C*>(pc));
  }
}

// Shape all of `ts` (undefined ones skipped) broadcast to; the error names the op.
Shape broadcast_all(const char* op, std::initializer_list<const Tensor*> ts) {
  Shape shape;
  try {
    for (const Tensor* t : ts)
      if (t->defined()) shape = broadcast_shapes(shape, t->shape());
  } catch (const ValueError& e) {
    throw ValueError(str(op, ": ", e.what()));
  }
  return shape;
}

// A bound as a weak 0-d tensor, so clamp(int_tensor, 0.5) promotes like int_tensor + 0.5.
Tensor wrap_scalar(const optional<Scalar>& s) {
  if (!s) return Tensor();
  Tensor t = Tensor::empty({}, s->is_bool() ? DType::Bool : s->is_int() ? DType::Int64 : DType::Float64);
  if (s->is_bool()) *t.data<bool>() = s->to_bool();
  else if (s->is_int()) *t.data<int64_t>() = s->to_int();
  else *t.data<double>() = s->to_double();
  t.impl()->set_wrapped_number(true);
  return t;
}

template <typename T>
void clamp_loop(const Tensor& dst, const Tensor& x, const Tensor& lo, const Tensor& hi) {
  const Shape& shape = dst.shape();
  if (lo.defined() && hi.defined()) {
    ElementwisePlan<4> plan(shape, {&dst, &x, &lo, &hi});
    plan.run([](char** p, const int64_t* s, int64_t n) {
      ternary_row<T, T, T, T>(p, s, n, so::clamp_tensor_both{});
    });
  } else if (lo.defined()) {
    ElementwisePlan<3> plan(shape, {&dst, &x, &lo});
    plan.run([](char** p, const int64_t* s, int64_t n) {
      binary_row<T, T>(p, s, n, so::clamp_tensor_min{});
    });
  } else {
    ElementwisePlan<3> plan(shape, {&dst, &x, &hi});
    plan.run([](char** p, const int64_t* s, int64_t n) {
      binary_row<T, T>(p, s, n, so::clamp_tensor_max{});
    });
  }
}

// One row of clamp for float16/bfloat16 storage S: blocks of x and the bounds are widened to float
// (`f32[k]`: operand k + 1 holds float32, a Python-number bound or one of another dtype), clamped in
// float and rounded once, as binary rows do (lowp_rows.h). `hi` is null for one-bound clamps.
template <typename S, bool TwoBounds, typename F>
void clamp_row_lowp(char** p, const int64_t* s, int64_t n, const F& f, const bool* f32) {
  alignas(64) float x[kLowpBlock];
  alignas(64) float lo[kLowpBlock];
  alignas(64) float hi[kLowpBlock];
  for (int64_t start = 0; start < n; start += kLowpBlock) {
    const int64_t m = std::min(kLowpBlock, n - start);
    hy::cpu::lowp_load_block<S>(p[1] + start * s[1], s[1], m, x, f32[0]);
    hy::cpu::lowp_load_block<S>(p[2] + start * s[2], s[2], m, lo, f32[1]);
    if constexpr (TwoBounds) {
      hy::cpu::lowp_load_block<S>(p[3] + start * s[3], s[3], m, hi, f32[2]);
      for (int64_t i = 0; i < m; ++i) x[i] = f(x[i], lo[i], hi[i]);
    } else {
      for (int64_t i = 0; i < m; ++i) x[i] = f(x[i], lo[i]);
    }
    hy::cpu::lowp_store_block<S>(p[0] + start * s[0], s[0], m, x);
  }
}

// clamp with a float16/bfloat16 result: x and bounds of that dtype are read in place, other bounds as
// float32 (the values the float32 path compares with), and each block is rounded once into `res`.
void clamp_lowp(const Tensor& res, DType common, const Tensor& self, const Tensor& lo, const Tensor& hi) {
  auto operand = [&](const Tensor& t, bool* f32) {
    *f32 = t.dtype() != common;
    return *f32 ? hy::cpu::cast_keep_layout(t, DType::Float32) : t;
  };
  bool f32[3] = {false, false, false};
  Tensor x = operand(self, &f32[0]);
  hy::cpu::visit_lowp_type(common, [&](auto tag) {
    using S = decltype(tag);
    if (lo.defined() && hi.defined()) {
      Tensor a = operand(lo, &f32[1]), b = operand(hi, &f32[2]);
      ElementwisePlan<4> plan(res.shape(), {&res, &x, &a, &b});
      plan.run([&](char** p, const int64_t* s, int64_t n) {
        clamp_row_lowp<S, true>(p, s, n, so::clamp_tensor_both{}, f32);
      });
      return;
    }
    Tensor a = operand(lo.defined() ? lo : hi, &f32[1]);
    ElementwisePlan<3> plan(res.shape(), {&res, &x, &a});
    plan.run([&](char** p, const int64_t* s, int64_t n) {
      if (lo.defined()) clamp_row_lowp<S, false>(p, s, n, so::clamp_tensor_min{}, f32);
      else clamp_row_lowp<S, false>(p, s, n, so::clamp_tensor_max{}, f32);
    });
  });
}

// The shared body of clamp (scalar bounds, wrapped as 0-d tensors) and clamp_tensor.
Tensor clamp_impl(const char* op, const Tensor& self, const Tensor& lo, const Tensor& hi,
                  const optional<Tensor>& out) {
  check_defined(self, op, "self");
  HY_CHECK(lo.defined() || hi.defined(), ValueError, op, ": at least one of min and max must be given");
  Shape shape = broadcast_all(op, {&self, &lo, &hi});
  DType common = result_type(std::vector<Tensor>{self, lo, hi});
  HY_CHECK(common != DType::Bool, TypeError, op, " is not supported for bool tensors, got ", self.describe());
  check_wrapped_number_fits(lo, common, op);  // clamp(int32_t, max=2**40) must not wrap the bound
  check_wrapped_number_fits(hi, common, op);
  Tensor res = prepare_out(out, shape, common, op);
  DType compute = compute_dtype(common);
  if (compute != common && res.dtype() == common) {
    clamp_lowp(res, common, self, lo, hi);
    return res;
  }
  Tensor dst = res.dtype() == compute ? res : Tensor::empty(shape, compute);
  Tensor cx = cast_to(self, compute);
  Tensor clo = lo.defined() ? cast_to(lo, compute) : Tensor();
  Tensor chi = hi.defined() ? cast_to(hi, compute) : Tensor();
  switch (compute) {
    case DType::Int32: clamp_loop<int32_t>(dst, cx, clo, chi); break;
    case DType::Int64: clamp_loop<int64_t>(dst, cx, clo, chi); break;
    case DType::Float32: clamp_loop<float>(dst, cx, clo, chi); break;
    case DType::Float64: clamp_loop<double>(dst, cx, clo, chi); break;
    default: throw NotImplementedError(str("op '", op, "' has no CPU kernel for dtype ", dtype_name(compute)));
  }
  if (dst.impl() != res.impl()) copy_into(res, dst);
  return res;
}

// where only moves elements, so it selects raw bytes of the element's width: one loop per item size
// serves every dtype, Half and BFloat16 included, and copies NaN payloads and -0.0 exactly.
template <typename Bits>
void where_loop(const Tensor& dst, const Tensor& cond, const Tensor& a, const Tensor& b) {
  ElementwisePlan<4> plan(dst.shape(), {&dst, &cond, &a, &b});
  plan.run([](char** p, const int64_t* s, int64_t n) {
    // hy::scalar::where selects unsigned bits with a mask, not a branch.
    ternary_row<Bits, bool, Bits, Bits>(p, s, n, so::where{});
  });
}

}  // namespace

Tensor where(const Tensor& condition, const Tensor& self, const Tensor& other, const optional<Tensor>& out) {
  check_defined(condition, "where", "condition");
  check_defined(self, "where", "self");
  check_defined(other, "where", "other");
  HY_CHECK(condition.dtype() == DType::Bool, TypeError, "where: condition must be a bool tensor, got ",
           condition.describe());
  Shape shape = broadcast_all("where", {&condition, &self, &other});
  DType common = result_type(self, other);
  check_wrapped_number_fits(self, common, "where");
  check_wrapped_number_fits(other, common, "where");
  Tensor res = prepare_out(out, shape, common, "where");
  // Writing into res directly is safe only when it has the element type the loop moves.
  Tensor dst = res.dtype() == common ? res : Tensor::empty(shape, common);
  Tensor ca = cast_to(self, common), cb = cast_to(other, common);
  switch (dtype_itemsize(common)) {
    case 1: where_loop<uint8_t>(dst, condition, ca, cb); break;
    case 2: where_loop<uint16_t>(dst, condition, ca, cb); break;
    case 4: where_loop<uint32_t>(dst, condition, ca, cb); break;
    case 8: where_loop<uint64_t>(dst, condition, ca, cb); break;
    default: throw NotImplementedError("16-byte (complex128) elements are not supported here");
  }
  if (dst.impl() != res.impl()) copy_into(res, dst);
  return res;
}

Tensor clamp(const Tensor& self, const optional<Scalar>& min, const optional<Scalar>& max,
             const optional<Tensor>& out) {
  return clamp_impl("clamp", self, wrap_scalar(min), wrap_scalar(max), out);
}

Tensor clamp_tensor(const Tensor& self, const optional<Tensor>& min, const optional<Tensor>& max,
                    const optional<Tensor>& out) {
  return clamp_impl("clamp_tensor", self, min ? *min : Tensor(), max ? *max : Tensor(), out);
}

}  // namespace hy::kernels::cpu
