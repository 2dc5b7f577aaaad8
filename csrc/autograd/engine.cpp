#include "autograd/engine.h"

#include <unordered_map>
#include <unordered_set>

#include "autograd/autograd_meta.h"
#include "autograd/grad_mode.h"
#include "dispatch/autocast_state.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/creation.h"

namespace hy::autograd {
namespace {

PythonNodeRunner& python_runner() {
  static PythonNodeRunner runner;
  return runner;
}

// Gradients arriving at the input slots of one node, summed as they arrive.
struct InputBuffer {
  TensorList slots;
  void add(uint32_t nr, const Tensor& g) {
    if (!g.defined()) return;
    if (slots.size() <= nr) slots.resize(nr + 1);
    slots[nr] = slots[nr].defined() ? ops::add(slots[nr], g) : g;
  }
};

Tensor default_grad_output(const Tensor& out) {
  HY_CHECK(out.numel() == 1, RuntimeError, "grad can be implicitly created only for scalar outputs, got ",
           out.describe());
  return ops::ones(out.shape(), out.dtype(), out.device());  // beside the output (a CUDA loss: on the GPU)
}

// Topological order of every node reachable from `roots` (Kahn's algorithm, iterative so deep graphs
// cannot overflow the stack).
std::vector<Node*> topo_order(const std::vector<Node*>& roots) {
  std::unordered_map<Node*, int> deps;
  std::vector<Node*> stack(roots.begin(), roots.end());
  std::unordered_set<Node*> seen(roots.begin(), roots.end());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (auto& e : n->next_edges) {
      if (!e.valid()) continue;
      deps[e.fn.get()] += 1;
      if (seen.insert(e.fn.get()).second) stack.push_back(e.fn.get());
    }
  }
  std::vector<Node*> order, ready;
  for (Node* r : roots)
    if (deps[r] == 0) ready.push_back(r);
  std::unordered_set<Node*> queued(ready.begin(), ready.end());
  while (!ready.empty()) {
    Node* n = ready.back();
    ready.pop_back();
    order.push_back(n);
    for (auto& e : n->next_edges) {
      if (!e.valid()) continue;
      if (--deps[e.fn.get()] == 0 && queued.insert(e.fn.get()).second) ready.push_back(e.fn.get());
    }
  }
  return order;
}

TensorList run_node(Node& n, TensorList&& grads) {
  if (n.is_python()) {
    HY_CHECK(static_cast<bool>(python_runner()), RuntimeError, "no Python runner for node ", n.name());
    return python_runner()(n, std::move(grads));
  }
  return n.apply(std::move(grads));
}

// The shared core of backward() and grad(). `captures` maps (node, slot) of each requested input to its
// position in the result; in capture mode AccumulateGrad nodes do not run.
TensorList execute(const TensorList& outputs, const TensorList& grad_outputs, bool retain_graph,
                   bool create_graph, const std::vector<Edge>* captures, bool allow_unused = true) {
  HY_CHECK(grad_outputs.empty() || grad_outputs.size() == outputs.size(), ValueError, "grad_outputs has ",
           grad_outputs.size(), " entries but there are ", outputs.size(), " outputs");
  GradModeGuard mode(create_graph);
  // Backward formulas run in the dtypes the forward chose (a grad of a bfloat16 matmul is bfloat16);
  // an autocast region open around backward() must not recast them (docs/amp.md).
  autocast::Suspend no_autocast;
  std::unordered_map<Node*, InputBuffer> buffers;
  std::vector<Node*> roots;
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (size_t i = 0; i < outputs.size(); ++i) {
    const Tensor& out = outputs[i];
    HY_CHECK(requires_grad(out), RuntimeError,
             "element ", i, " of tensors does not require grad and does not have a grad_fn");
    Edge e = gradient_edge(out);
    Tensor g = grad_outputs.empty() || !grad_outputs[i].defined() ? default_grad_output(out) : grad_outputs[i];
    HY_CHECK(g.shape() == out.shape(), RuntimeError, "Mismatch in shape: grad_output[", i, "] has a shape of ",
             g.shape(), " and output[", i, "] has a shape of ", out.shape());
    buffers[e.fn.get()].add(e.input_nr, g);
    roots.push_back(e.fn.get());
    keep_alive.push_back(e.fn);
  }
  // Which nodes lead to a requested input; the others need not run in capture mode.
  std::vector<Node*> order = topo_order(roots);
  std::unordered_set<Node*> needed;
  TensorList captured;
  if (captures) {
    // Unreachable inputs are an error before anything runs (and frees the graph).
    std::unordered_set<Node*> reachable(order.begin(), order.end());
    for (size_t i = 0; i < captures->size(); ++i) {
      HY_CHECK(allow_unused || reachable.count((*captures)[i].fn.get()), RuntimeError,
               "One of the differentiated Tensors (input ", i, ") appears to not have been used in the graph. "
               "Set allow_unused=True if this is the desired behavior.");
    }
    captured.resize(captures->size());
    for (auto& c : *captures)
      if (c.valid()) needed.insert(c.fn.get());
    for (auto it = order.rbegin(); it != order.rend(); ++it) {
      for (auto& e : (*it)->next_edges)
        if (e.valid() && needed.count(e.fn.get())) needed.insert(*it);
    }
  }
  for (Node* n : order) {
    auto bit = buffers.find(n);
    if (bit == buffers.end()) continue;  // nothing flowed here
    TensorList grads = std::move(bit->second.slots);
    buffers.erase(bit);
    grads.resize(std::max<size_t>(grads.size(), std::max<size_t>(n->outputs.size(), 1)));
    // Tensor hooks of non-leaf outputs see (and may replace) the summed gradient.
    for (auto& [nr, hook] : n->pre_hooks) {
      if (nr < grads.size() && grads[nr].defined()) {
        Tensor r = hook(grads[nr]);
        if (r.defined()) grads[nr] = r;
      }
    }
    if (captures) {
      for (size_t k = 0; k < captures->size(); ++k) {
        const Edge& c = (*captures)[k];
        if (c.fn.get() == n && c.input_nr < grads.size() && grads[c.input_nr].defined()) {
          auto* acc = dynamic_cast<AccumulateGrad*>(n);
          Tensor g = grads[c.input_nr];
          if (acc) {  // leaf tensor hooks also run for autograd.grad
            for (auto& hook : ensure_meta(acc->variable).hooks) {
              Tensor r = hook(g);
              if (r.defined()) g = r;
            }
          }
          captured[k] = g;
        }
      }
      if (!needed.count(n) || dynamic_cast<AccumulateGrad*>(n)) continue;
      bool feeds = false;
      for (auto& e : n->next_edges) feeds = feeds || (e.valid() && needed.count(e.fn.get()));
      if (!feeds) continue;
    }
    bool any = false;
    for (auto& g : grads) any = any || g.defined();
    if (!any) continue;
    for (size_t k = 0; k < grads.size() && k < n->outputs.size(); ++k)
      if (!grads[k].defined()) grads[k] = zeros_for(n->outputs[k]);
    TensorList in_grads = run_node(*n, std::move(grads));
    if (!retain_graph && !dynamic_cast<AccumulateGrad*>(n)) {
      n->release_variables();
      n->released = true;
    }
    HY_CHECK(in_grads.size() == n->next_edges.size() || in_grads.empty(), RuntimeError, "node ", n->name(),
             " returned ", in_grads.size(), " gradients, expected ", n->next_edges.size());
    for (size_t k = 0; k < in_grads.size(); ++k) {
      const Edge& e = n->next_edges[k];
      if (e.valid() && in_grads[k].defined()) buffers[e.fn.get()].add(e.input_nr, in_grads[k]);
    }
  }
  return captured;
}

}  // namespace

void set_python_node_runner(PythonNodeRunner runner) { python_runner() = std::move(runner); }

void backward(const TensorList& outputs, const TensorList& grad_outputs, bool retain_graph, bool create_graph) {
  execute(outputs, grad_outputs, retain_graph || create_graph, create_graph, nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                bool retain_graph, bool create_graph, bool allow_unused) {
  std::vector<Edge> captures;
  for (size_t i = 0; i < inputs.size(); ++i) {
    HY_CHECK(requires_grad(inputs[i]), RuntimeError, "One of the differentiated Tensors (input ", i,
             ") does not require grad");
    captures.push_back(gradient_edge(inputs[i]));
  }
  TensorList result =
      execute(outputs, grad_outputs, retain_graph || create_graph, create_graph, &captures, allow_unused);
  for (size_t i = 0; i < result.size(); ++i) {
    HY_CHECK(allow_unused || result[i].defined(), RuntimeError, "One of the differentiated Tensors (input ", i,
             ") appears to not have been used in the graph. Set allow_unused=True if this is the desired "
             "behavior.");
  }
  return result;
}

}  // namespace hy::autograd
