// The backward engine: runs the graph behind some outputs in dependency order.
//
//   backward({loss}, {}, /*retain_graph=*/false, /*create_graph=*/false);      // fills leaf .grad
//   TensorList g = grad({y}, {x}, {}, false, true, false);                        // returns dy/dx
//
// Each node runs once all nodes that feed it have run; gradients arriving at the same input slot are
// summed. Without retain_graph every node frees its saved tensors after running, so a second backward
// through the same graph raises. With create_graph the gradient computation is itself recorded.
#pragma once
#include <functional>

#include "autograd/node.h"

namespace hy::autograd {

/// Called around Python nodes: acquires the GIL for the call (set by the bindings).
using PythonNodeRunner = std::function<TensorList(Node&, TensorList&&)>;
void set_python_node_runner(PythonNodeRunner runner);

/// Accumulate d(outputs)/d(leaves) into every reachable leaf's .grad.
void backward(const TensorList& outputs, const TensorList& grad_outputs, bool retain_graph, bool create_graph);

/// d(outputs)/d(inputs) returned, leaves' .grad untouched. Unreachable inputs give undefined tensors
/// (an error unless allow_unused).
TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                bool retain_graph, bool create_graph, bool allow_unused);

}  // namespace hy::autograd
