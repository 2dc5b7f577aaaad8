// Turn a typed C++ function into a boxed kernel (ValueList -> ValueList) and back.
//
//   Tensor my_scale(const Tensor& x, double a);
//   BoxedKernel k = make_boxed(&my_scale);        // callable by name with boxed arguments
#pragma once
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "dispatch/value.h"

namespace hy {

/// A kernel that takes its arguments boxed, in schema order, and returns its results boxed.
using BoxedKernel = std::function<ValueList(ValueList&)>;

namespace boxing {

template <typename T> struct unbox;  // Value -> T

template <typename T> T get_or_throw(Value& v, size_t i) {
  if (auto* p = std::get_if<T>(&v)) return *p;
  throw TypeError(str("boxed argument ", i, " has the wrong type for this kernel"));
}

template <typename T> struct unbox { static T get(Value& v, size_t i) { return get_or_throw<T>(v, i); } };
template <> struct unbox<double> {
  static double get(Value& v, size_t i) {
    if (auto* p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
    if (auto* s = std::get_if<Scalar>(&v)) return s->to_double();
    return get_or_throw<double>(v, i);
  }
};
template <> struct unbox<Scalar> {
  static Scalar get(Value& v, size_t i) {
    if (auto* p = std::get_if<int64_t>(&v)) return Scalar(*p);
    if (auto* p = std::get_if<double>(&v)) return Scalar(*p);
    if (auto* p = std::get_if<bool>(&v)) return Scalar(*p);
    return get_or_throw<Scalar>(v, i);
  }
};
template <typename T> struct unbox<std::optional<T>> {
  static std::optional<T> get(Value& v, size_t i) {
    if (std::holds_alternative<std::monostate>(v)) return std::nullopt;
    return unbox<T>::get(v, i);
  }
};

template <typename T> void box_into(ValueList& out, T&& v) { out.emplace_back(std::forward<T>(v)); }
template <typename... Ts> void box_into(ValueList& out, std::tuple<Ts...>&& t) {
  std::apply([&](auto&&... xs) { (out.emplace_back(std::move(xs)), ...); }, std::move(t));
}

template <typename R, typename... Args, size_t... I>
ValueList call(R (*fn)(Args...), ValueList& args, std::index_sequence<I...>) {
  if (args.size() != sizeof...(Args))
    throw TypeError(str("kernel expects ", sizeof...(Args), " arguments, got ", args.size()));
  ValueList out;
  if constexpr (std::is_void_v<R>) {
    fn(unbox<std::decay_t<Args>>::get(args[I], I)...);
  } else {
    box_into(out, fn(unbox<std::decay_t<Args>>::get(args[I], I)...));
  }
  return out;
}

}  // namespace boxing

/// Wrap a plain function pointer into a BoxedKernel.
template <typename R, typename... Args>
BoxedKernel make_boxed(R (*fn)(Args...)) {
  return [fn](ValueList& args) { return boxing::call(fn, args, std::index_sequence_for<Args...>{}); };
}

}  // namespace hy
