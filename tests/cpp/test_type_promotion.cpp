// Type promotion must match PyTorch: the dtype lattice (promote_types) and the three tiers of
// result_type (dimensioned tensors > 0-d tensors > Python numbers, which only lift the category).
#include <gtest/gtest.h>

#include "core/dtype.h"
#include "core/error.h"
#include "core/scalar.h"
#include "core/type_promotion.h"

namespace hy {
namespace {

constexpr DType B = DType::Bool, I32 = DType::Int32, I64 = DType::Int64, F16 = DType::Float16,
                BF16 = DType::BFloat16, F32 = DType::Float32, F64 = DType::Float64, C64 = DType::Complex64,
                C128 = DType::Complex128;

Tensor make(DType d, Shape shape = {2}) { return Tensor::empty(shape, d); }
Tensor number(DType d) {
  Tensor t = Tensor::empty({}, d);
  t.impl()->set_wrapped_number(true);
  return t;
}

TEST(PromoteTypes, FullTableMatchesPyTorch) {
  // Rows and columns in the order B, I32, I64, F16, BF16, F32, F64 (torch.promote_types).
  const DType all[7] = {B, I32, I64, F16, BF16, F32, F64};
  const DType expected[7][7] = {
      {B, I32, I64, F16, BF16, F32, F64},
      {I32, I32, I64, F16, BF16, F32, F64},
      {I64, I64, I64, F16, BF16, F32, F64},
      {F16, F16, F16, F16, F32, F32, F64},
      {BF16, BF16, BF16, F32, BF16, F32, F64},
      {F32, F32, F32, F32, F32, F32, F64},
      {F64, F64, F64, F64, F64, F64, F64},
  };
  for (int i = 0; i < 7; ++i)
    for (int j = 0; j < 7; ++j)
      EXPECT_EQ(promote_types(all[i], all[j]), expected[i][j])
          << dtype_name(all[i]) << " with " << dtype_name(all[j]);
}

TEST(PromoteTypes, ComplexMatchesPyTorch) {
  // Each real dtype (B, I32, I64, F16, BF16, F32, F64) with complex64, then with complex128.
  const DType real[7] = {B, I32, I64, F16, BF16, F32, F64};
  const DType with_c64[7] = {C64, C64, C64, C64, C64, C64, C128};
  for (int i = 0; i < 7; ++i) {
    EXPECT_EQ(promote_types(real[i], C64), with_c64[i]) << dtype_name(real[i]);
    EXPECT_EQ(promote_types(real[i], C128), C128) << dtype_name(real[i]);
  }
  EXPECT_EQ(promote_types(C64, C128), C128);
  EXPECT_EQ(promote_types(C64, C64), C64);
}

TEST(PromoteTypes, IsSymmetric) {
  for (int i = 0; i < kNumDTypes; ++i)
    for (int j = 0; j < kNumDTypes; ++j)
      EXPECT_EQ(promote_types(DType(i), DType(j)), promote_types(DType(j), DType(i)));
}

TEST(DTypeNames, RoundTripAndAliases) {
  for (int i = 0; i < kNumDTypes; ++i) EXPECT_EQ(dtype_from_name(dtype_name(DType(i))), DType(i));
  EXPECT_EQ(dtype_from_name("double"), F64);
  EXPECT_EQ(dtype_from_name("half"), F16);
  EXPECT_EQ(dtype_from_name("long"), I64);
  EXPECT_EQ(dtype_from_name("cfloat"), C64);
  EXPECT_EQ(dtype_from_name("cdouble"), C128);
  EXPECT_THROW(dtype_from_name("complex32"), TypeError);
  EXPECT_THROW(dtype_from_name(""), TypeError);
}

TEST(DTypeNames, ItemsizeAndCategories) {
  EXPECT_EQ(dtype_itemsize(B), 1);
  EXPECT_EQ(dtype_itemsize(BF16), 2);
  EXPECT_EQ(dtype_itemsize(F64), 8);
  EXPECT_TRUE(dtype_is_floating(BF16));
  EXPECT_FALSE(dtype_is_floating(I64));
  EXPECT_TRUE(dtype_is_integral(I32));
  EXPECT_FALSE(dtype_is_integral(B));
  EXPECT_EQ(to_floating(I64), F32);
  EXPECT_EQ(to_floating(F16), F16);
  // complex is neither floating nor integral (dtype_is_floating names its dtypes, it is no enum range)
  EXPECT_EQ(dtype_itemsize(C64), 8);
  EXPECT_EQ(dtype_itemsize(C128), 16);
  EXPECT_FALSE(dtype_is_floating(C64));
  EXPECT_FALSE(dtype_is_integral(C128));
  EXPECT_TRUE(dtype_is_complex(C64));
  EXPECT_EQ(dtype_category(C64), DTypeCategory::DTypeCategory_Complex);
  EXPECT_EQ(dtype_complex_part(C128), F64);
  EXPECT_EQ(dtype_to_complex(F64), C128);
  EXPECT_EQ(dtype_to_complex(BF16), C64);
}

TEST(ResultType, ZeroDimComplexLiftsAFloatToItsWidth) {
  EXPECT_EQ(result_type(make(F64), make(C64, {})), C128);  // torch: float64 tensor + complex64 0-d
  EXPECT_EQ(result_type(make(F32), make(C128, {})), C64);
  EXPECT_EQ(result_type(make(I64), make(C64, {})), C64);
  EXPECT_EQ(result_type(make(C64), make(F64)), C128);
}

TEST(ResultType, PythonComplexIsAWeakComplex64) {
  // a Python complex arrives as a wrapped complex128 0-d tensor; like torch it counts as complex64
  EXPECT_EQ(result_type(make(F32), number(C128)), C64);
  EXPECT_EQ(result_type(make(F64), number(C128)), C128);
  EXPECT_EQ(result_type(make(I32), number(C128)), C64);
  EXPECT_EQ(result_type(make(C128), number(C128)), C128);
}

TEST(ResultType, DimensionedTensorsPromote) {
  EXPECT_EQ(result_type(make(I32), make(I64)), I64);
  EXPECT_EQ(result_type(make(F16), make(BF16)), F32);
  EXPECT_EQ(result_type(make(B), make(B)), B);
}

TEST(ResultType, ZeroDimTensorOnlyLiftsCategory) {
  EXPECT_EQ(result_type(make(F32), make(F64, {})), F32);  // same category: the dimensioned one wins
  EXPECT_EQ(result_type(make(I32), make(F64, {})), F64);  // higher category: at its own width
  EXPECT_EQ(result_type(make(F16), make(I64, {})), F16);
  EXPECT_EQ(result_type(make(F64, {}), make(I32, {})), F64);  // both 0-d: ordinary promotion
}

TEST(ResultType, PythonNumbersAreWeakest) {
  EXPECT_EQ(result_type(make(F16), number(F64)), F16);   // f16 tensor + 2.5 stays f16
  EXPECT_EQ(result_type(make(I32), number(I64)), I32);   // i32 tensor + 1 stays i32
  EXPECT_EQ(result_type(make(I32), number(F64)), F32);   // i32 tensor + 2.5 -> default float
  EXPECT_EQ(result_type(make(B), number(I64)), I64);
  EXPECT_EQ(result_type(make(I32, {}), number(F64)), F32);
  EXPECT_EQ(result_type(make(I64, {}), number(I64)), I64);
}

TEST(ResultType, ManyInputsAndUndefinedSkipped) {
  EXPECT_EQ(result_type({make(I32), Tensor(), make(F32), number(F64)}), F32);
  EXPECT_EQ(result_type({make(B), make(I32, {}), number(F64)}), F32);
}

TEST(DefaultDType, FollowsSetDefaultFloatDType) {
  // torch.set_default_dtype: the default float of numbers, of to_floating and of lone float scalars
  ASSERT_EQ(default_float_dtype(), F32);
  set_default_float_dtype(F64);
  EXPECT_EQ(default_float_dtype(), F64);
  EXPECT_EQ(default_complex_dtype(), C128);
  EXPECT_EQ(to_floating(I64), F64);
  EXPECT_EQ(Scalar(1.5).default_dtype(), F64);
  EXPECT_EQ(Scalar(int64_t{2}).default_dtype(), I64);
  EXPECT_EQ(result_type(make(I32), number(F64)), F64);   // i32 tensor + 2.5 -> the default float
  EXPECT_EQ(result_type(make(F32), number(F64)), F32);   // a float tensor + 2.5: the number stays weak
  EXPECT_EQ(result_type(make(I32), number(C128)), C128);  // i32 tensor + 1j -> the default complex
  EXPECT_EQ(result_type(make(F32), number(C128)), C64);
  set_default_float_dtype(BF16);
  EXPECT_EQ(to_floating(B), BF16);
  EXPECT_EQ(default_complex_dtype(), C64);
  EXPECT_THROW(set_default_float_dtype(I64), TypeError);
  EXPECT_THROW(set_default_float_dtype(C64), TypeError);
  EXPECT_EQ(default_float_dtype(), BF16);  // a refused dtype changes nothing
  set_default_float_dtype(F32);
  EXPECT_EQ(to_floating(I64), F32);
}

TEST(CanCastInPlace, NeverDownward) {
  EXPECT_TRUE(can_cast_in_place(I64, F32));
  EXPECT_TRUE(can_cast_in_place(B, I32));
  EXPECT_TRUE(can_cast_in_place(F64, F16));  // same category: allowed (a narrowing like torch)
  EXPECT_FALSE(can_cast_in_place(F32, I64));
  EXPECT_FALSE(can_cast_in_place(I32, B));
}

}  // namespace
}  // namespace hy
