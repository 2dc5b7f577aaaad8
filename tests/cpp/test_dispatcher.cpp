// The dispatcher: schema parsing, defining ops at run time, boxed kernels, the errors that name op
// and device, and that every built-in op the table promises a CPU kernel for actually has one.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "core/error.h"
#include "dispatch/registry.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/creation.h"

namespace hy {
namespace {

Tensor filled(Shape shape, double v) { return ops::full(shape, Scalar(v), DType::Float32); }

Tensor scale_cpu(const Tensor& x, double a) { return ops::mul(x, filled({}, a)); }
std::tuple<Tensor, Tensor> split_sign_cpu(const Tensor& x) {
  return {ops::maximum(x, filled({}, 0.0)), ops::minimum(x, filled({}, 0.0))};
}

TEST(Schema, ParsesArgumentsDefaultsAndReturns) {
  Schema s = parse_schema("scale_add(Tensor x, Tensor? y, *, float alpha=1.0, int[] dims=[0, 1]) -> Tensor");
  EXPECT_EQ(s.name, "scale_add");
  ASSERT_EQ(s.args.size(), 4u);
  EXPECT_EQ(s.args[0].type, ArgType::ArgType_Tensor);
  EXPECT_FALSE(s.args[0].optional);
  EXPECT_TRUE(s.args[1].optional);
  EXPECT_FALSE(s.args[1].kwarg_only);
  EXPECT_TRUE(s.args[2].kwarg_only);
  EXPECT_EQ(*s.args[2].default_text, "1.0");
  EXPECT_EQ(s.args[3].type, ArgType::ArgType_IntList);
  EXPECT_EQ(*s.args[3].default_text, "[0, 1]");
  EXPECT_EQ(s.returns.size(), 1u);
  EXPECT_EQ(s.find_arg("alpha"), 2);
  EXPECT_EQ(s.find_arg("nope"), -1);
}

TEST(Schema, TupleAndEmptyReturns) {
  EXPECT_EQ(parse_schema("f(Tensor x) -> (Tensor, Tensor)").returns.size(), 2u);
  EXPECT_EQ(parse_schema("g() -> ()").returns.size(), 0u);
}

TEST(Schema, BadTextIsValueError) {
  EXPECT_THROW(parse_schema("no_parens -> Tensor"), ValueError);
  EXPECT_THROW(parse_schema("f(Tensor x)"), ValueError);
  EXPECT_THROW(parse_schema("f(Tensorr x) -> Tensor"), ValueError);
  EXPECT_THROW(parse_schema("f(Tensor x, Tensor x) -> Tensor"), ValueError);
  EXPECT_THROW(parse_schema("1f(Tensor x) -> Tensor"), ValueError);
  EXPECT_THROW(parse_schema("f(x) -> Tensor"), ValueError);
}

TEST(Registry, DefineImplCallBoxed) {
  Registry r;  // a private registry: nothing leaks into the global one
  r.define("myscale(Tensor x, float a) -> Tensor", {{"doc", "x * a"}});
  r.impl_boxed("myscale", DeviceType::DeviceType_CPU, make_boxed(&scale_cpu));
  ValueList args{filled({3}, 2.0), 1.5};
  ValueList out = r.call_boxed("myscale", args);
  ASSERT_EQ(out.size(), 1u);
  const Tensor& y = std::get<Tensor>(out[0]);
  EXPECT_EQ(y.shape(), (Shape{3}));
  EXPECT_FLOAT_EQ(y.data<float>()[2], 3.0f);
  EXPECT_EQ(r.get("myscale").meta.at("doc"), "x * a");
}

TEST(Registry, BoxedIntArgumentConvertsToFloat) {
  Registry r;
  r.define("myscale(Tensor x, float a) -> Tensor");
  r.impl_boxed("myscale", DeviceType::DeviceType_CPU, make_boxed(&scale_cpu));
  ValueList args{filled({1}, 2.0), int64_t{3}};
  EXPECT_FLOAT_EQ(std::get<Tensor>(r.call_boxed("myscale", args)[0]).data<float>()[0], 6.0f);
}

TEST(Registry, MultipleReturns) {
  Registry r;
  r.define("split_sign(Tensor x) -> (Tensor, Tensor)");
  r.impl_boxed("split_sign", DeviceType::DeviceType_CPU, make_boxed(&split_sign_cpu));
  Tensor x = filled({2}, -4.0);
  ValueList args{x};
  ValueList out = r.call_boxed("split_sign", args);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(std::get<Tensor>(out[0]).data<float>()[0], 0.0f);
  EXPECT_FLOAT_EQ(std::get<Tensor>(out[1]).data<float>()[0], -4.0f);
}

TEST(Registry, DuplicateDefineAndImplAreValueErrors) {
  Registry r;
  r.define("dup(Tensor x) -> Tensor");
  EXPECT_THROW(r.define("dup(Tensor y) -> Tensor"), ValueError);
  r.impl_boxed("dup", DeviceType::DeviceType_CPU, [](ValueList& a) { return a; });
  EXPECT_THROW(r.impl_boxed("dup", DeviceType::DeviceType_CPU, [](ValueList& a) { return a; }), ValueError);
}

TEST(Registry, MissingKernelNamesOpAndDevice) {
  Registry r;
  r.define("cuda_only(Tensor x) -> Tensor");
  r.impl_boxed("cuda_only", DeviceType::DeviceType_CUDA, [](ValueList& a) { return a; });
  ValueList args{filled({1}, 1.0)};
  try {
    r.call_boxed("cuda_only", args);
    FAIL() << "no exception";
  } catch (const NotImplementedError& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("cuda_only"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cpu"), std::string::npos) << msg;
  }
}

TEST(Registry, WrongArgumentCountAndTypeAreTypeErrors) {
  Registry r;
  r.define("myscale(Tensor x, float a) -> Tensor");
  r.impl_boxed("myscale", DeviceType::DeviceType_CPU, make_boxed(&scale_cpu));
  ValueList too_few{filled({1}, 1.0)};
  EXPECT_THROW(r.call_boxed("myscale", too_few), TypeError);
  ValueList wrong{std::string("not a tensor"), 1.0};
  EXPECT_THROW(r.call_boxed("myscale", wrong), TypeError);
}

TEST(Registry, UnknownOpAndBadSchema) {
  Registry r;
  EXPECT_EQ(r.find("nothing"), nullptr);
  EXPECT_THROW(r.get("nothing"), ValueError);
  ValueList none;
  EXPECT_THROW(r.call_boxed("nothing", none), ValueError);
  EXPECT_THROW(r.define("broken(Tensor"), ValueError);
}

TEST(Registry, NamesAreSorted) {
  Registry r;
  r.define("zeta(Tensor x) -> Tensor");
  r.define("alpha(Tensor x) -> Tensor");
  EXPECT_EQ(r.names(), (std::vector<std::string>{"alpha", "zeta"}));
}

TEST(GlobalRegistry, BuiltinsAreRegistered) {
  Registry& r = Registry::global();
  for (const char* name : {"add", "mul", "zeros", "view", "transpose", "contiguous"}) {
    OpEntry* e = r.find(name);
    ASSERT_NE(e, nullptr) << name;
    EXPECT_TRUE(e->builtin) << name;
  }
  std::vector<std::string> names = r.names();
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
}

TEST(GlobalRegistry, EveryPromisedCpuKernelExists) {
  std::vector<std::string> missing = Registry::global().missing_kernels(DeviceType::DeviceType_CPU);
  std::string joined;
  for (const auto& n : missing) joined += n + " ";
  EXPECT_TRUE(missing.empty()) << "ops without a CPU kernel: " << joined;
}

TEST(GlobalRegistry, BuiltinsCallableBoxed) {
  ValueList args{filled({2}, 1.0), filled({2}, 2.0), Scalar(int64_t{3}), std::monostate{}};
  ValueList out = Registry::global().call_boxed("add", args);
  EXPECT_FLOAT_EQ(std::get<Tensor>(out[0]).data<float>()[1], 7.0f);
}

TEST(GlobalRegistry, BuiltinsRejectUserKernelsAndMismatchedSignatures) {
  Registry& r = Registry::global();
  EXPECT_THROW(r.impl_boxed("add", DeviceType::DeviceType_CPU, [](ValueList& a) { return a; }), ValueError);
  EXPECT_THROW(r.impl("add", DeviceType::DeviceType_CUDA, &scale_cpu), TypeError);
  EXPECT_THROW(r.define("add(Tensor x) -> Tensor"), ValueError);
}

Tensor twice_baseline(const Tensor& x) { return ops::mul(x, filled({}, 2.0)); }
Tensor twice_variant(const Tensor& x) { return ops::add(x, x, Scalar(int64_t{1})); }

// What a CPU variant library does at import (dispatch/cpu_variant.cpp): replace a built-in's baseline
// kernel with one of the same signature, and nothing else.
TEST(Registry, ImplVariantReplacesOnlyAnExistingKernelOfTheSameSignature) {
  Registry r;
  r.define_builtin("twice(Tensor x) -> Tensor", {}, typeid(Tensor (*)(const Tensor&)), nullptr);
  // No baseline kernel yet: a variant must not be the only kernel (HYFLOW_CPU_CAPABILITY=default
  // would then leave the op without one).
  EXPECT_THROW(r.impl_variant("twice", DeviceType::DeviceType_CPU, &twice_variant), ValueError);
  r.impl("twice", DeviceType::DeviceType_CPU, &twice_baseline);
  EXPECT_THROW(r.impl_variant("twice", DeviceType::DeviceType_CPU, &scale_cpu), TypeError);
  EXPECT_THROW(r.impl_variant("nope", DeviceType::DeviceType_CPU, &twice_variant), ValueError);
  r.impl_variant("twice", DeviceType::DeviceType_CPU, &twice_variant);
  EXPECT_EQ(r.get("twice").typed_kernel(kCPU), reinterpret_cast<void*>(&twice_variant));
  r.define("user_op(Tensor x) -> Tensor");
  EXPECT_THROW(r.impl_variant("user_op", DeviceType::DeviceType_CPU, &twice_variant), ValueError);
}

TEST(Ops, FrontFunctionsComputeAndBroadcast) {
  Tensor a = filled({2, 1}, 1.0), b = filled({3}, 2.0);
  Tensor c = ops::add(a, b, Scalar(int64_t{2}));
  EXPECT_EQ(c.shape(), (Shape{2, 3}));
  EXPECT_FLOAT_EQ(c.data<float>()[5], 5.0f);
  EXPECT_THROW(ops::add(filled({2}, 1.0), filled({3}, 1.0)), ValueError);
}

}  // namespace
}  // namespace hy
