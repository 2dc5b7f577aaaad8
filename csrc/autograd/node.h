// The autograd graph: a Node per recorded op, edges pointing at the nodes that produced its inputs.
//
//   y = ops::mul(x, w)      // records MulBackward with next_edges {x's AccumulateGrad, w's ...}
//   Node::apply({dy})       // returns {dx, dw}, one gradient per next edge
//
// Nodes own their saved tensors (SavedVariable); the engine (engine.h) runs them in dependency order.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace hy::autograd {

struct Node;
using TensorList = std::vector<Tensor>;

/// Where a gradient goes: input slot `input_nr` of node `fn` (fn null = nowhere).
struct Edge {
  std::shared_ptr<Node> fn;
  uint32_t input_nr = 0;
  bool valid() const { return static_cast<bool>(fn); }
};

/// A gradient hook: may return a replacement gradient, or an undefined Tensor to keep it.
using TensorHook = std::function<Tensor(const Tensor&)>;
/// Called with a leaf after its .grad was accumulated.
using PostAccumulateHook = std::function<void(const Tensor&)>;

/// Shape and dtype of one forward output, to materialize a zero gradient when none arrives.
struct OutputInfo {
  Shape shape;
  DType dtype = DType::Float32;
  Device device = kCPU;  // where a missing gradient of this output is made (zeros on the same device)
};

/// One recorded operation: turns gradients of its outputs into gradients of its inputs.
struct Node : std::enable_shared_from_this<Node> {
  virtual ~Node() = default;
  /// "MulBackward0", shown as tensor.grad_fn.
  virtual std::string name() const = 0;
  /// Gradients of the outputs (undefined ones already zero-filled) -> one gradient per next edge.
  virtual TensorList apply(TensorList&& grads) = 0;
  /// Frees saved tensors after a backward pass without retain_graph.
  virtual void release_variables() {}
  /// True for nodes whose apply() needs the GIL (Python Functions).
  virtual bool is_python() const { return false; }

  std::vector<Edge> next_edges;
  std::vector<OutputInfo> outputs;
  /// Tensor hooks of non-leaf outputs, keyed by output number.
  std::vector<std::pair<uint32_t, TensorHook>> pre_hooks;
  bool released = false;
};

/// A tensor kept for backward. Checks on unpack that nobody modified it in place since it was saved.
class SavedVariable {
 public:
  SavedVariable() = default;
  /// Save `t`. Outputs of the node itself (`is_output`) are kept without their grad_fn (no cycle).
  SavedVariable(const Tensor& t, bool is_output);
  /// The saved tensor; `owner` re-attaches an output to its node when building a higher-order graph.
  Tensor unpack(const std::shared_ptr<Node>& owner = nullptr) const;
  void reset();
  bool defined() const { return was_defined_; }

 private:
  Tensor data_;
  uint64_t version_ = 0;
  uint32_t output_nr_ = 0;
  bool is_output_ = false;
  bool was_defined_ = false;
  bool requires_grad_ = false;
  bool released_ = false;
};

/// The sink of a leaf tensor: accumulates incoming gradients into leaf.grad.
struct AccumulateGrad : Node {
  explicit AccumulateGrad(Tensor leaf) : variable(std::move(leaf)) {}
  std::string name() const override { return "AccumulateGrad"; }
  TensorList apply(TensorList&& grads) override;
  Tensor variable;
};

/// Recorded for ops whose backward formula is not supported yet: raises when backward reaches it.
struct NotDifferentiableNode : Node {
  NotDifferentiableNode(std::string op, std::string why) : op_(std::move(op)), why_(std::move(why)) {}
  std::string name() const override { return "NotImplementedBackward(" + op_ + ")"; }
  TensorList apply(TensorList&& grads) override;

 private:
  std::string op_, why_;
};

/// Gradient of `t` (a zero-filled one when `t` is undefined but `info` is known).
Tensor zeros_for(const OutputInfo& info);

}  // namespace hy::autograd
