// Boxed values: one type that can hold any op argument or result, so generic code (user-defined ops,
// Python kernels, later the tracer and ONNX exporter) can call any op by name.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "core/device.h"
#include "core/dim_vector.h"
#include "core/generator.h"
#include "core/scalar.h"
#include "core/tensor.h"

namespace hy {

/// None (monostate) or one argument value.
using Value = std::variant<std::monostate, Tensor, std::vector<Tensor>, Scalar, int64_t, DimVector, double, bool,
                           std::string, DType, Device, std::shared_ptr<Generator>>;
/// Arguments in schema order, or results in return order.
using ValueList = std::vector<Value>;

}  // namespace hy
