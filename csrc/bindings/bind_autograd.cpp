// Autograd from Python: Tensor.requires_grad/.grad/.grad_fn/hooks, the engine (GIL released while C++
// nodes run), grad mode, and the node behind hy.autograd.Function (python/hyflow/autograd/function.py).
#include "autograd/autograd_meta.h"
#include "autograd/engine.h"
#include "autograd/grad_mode.h"
#include "bindings/pyconvert.h"
#include "dispatch/capture_hook.h"
#include "hyflow/ops/binary.h"
#include "hyflow/ops/tensor.h"

namespace py = pybind11;

namespace hy {
namespace {

using autograd::Node;
using autograd::TensorList;
using TensorClass = py::class_<TensorImpl, std::shared_ptr<TensorImpl>>;

// A Python object owned from C++ code that may drop it without the GIL (graph teardown in the engine).
struct PyRef {
  py::object obj;
  explicit PyRef(py::object o) : obj(std::move(o)) {}
  ~PyRef() {
    if (!Py_IsInitialized()) {
      obj.release();
      return;
    }
    py::gil_scoped_acquire gil;
    obj = py::object();
  }
};

// The node of a hy.autograd.Function call: apply() calls the Python backward (under the GIL).
struct PyFunctionNode : Node {
  PyFunctionNode(std::string name, std::shared_ptr<PyRef> fn) : name_(std::move(name)), fn_(std::move(fn)) {}
  std::string name() const override { return name_; }
  bool is_python() const override { return true; }
  TensorList apply(TensorList&& grads) override {
    HY_CHECK(fn_, RuntimeError, "Trying to backward through the graph a second time (or directly access saved "
             "tensors after they have already been freed). Specify retain_graph=True if you need to backward "
             "through the graph a second time.");
    py::tuple args(grads.size());
    for (size_t i = 0; i < grads.size(); ++i) args[i] = py::cast(grads[i]);
    py::object out = fn_->obj(*args);
    py::tuple res = py::isinstance<py::tuple>(out) ? out.cast<py::tuple>() : py::make_tuple(out);
    HY_CHECK(res.size() == next_edges.size(), RuntimeError, "function ", name_, ".backward returned ",
             res.size(), " gradients, but forward had ", next_edges.size(), " inputs");
    TensorList r(res.size());
    for (size_t i = 0; i < res.size(); ++i) {
      if (res[i].is_none()) continue;
      HY_CHECK(py::isinstance<TensorImpl>(res[i]), TypeError, "function ", name_,
               ".backward must return tensors or None, got ", Py_TYPE(res[i].ptr())->tp_name);
      r[i] = res[i].cast<Tensor>();
    }
    return r;
  }
  // After a backward pass without retain_graph, as the C++ nodes free their saved tensors: drop the
  // Python backward and with it ctx and everything stored on it (a second backward then raises). This
  // also breaks, without waiting for the cycle collector, a cycle through ctx (ctx.keep = output).
  void release_variables() override { fn_.reset(); }
  /// tp_traverse on behalf of the sole owner of this node (see autograd_traverse).
  int traverse(visitproc visit, void* arg) const {
    if (fn_ && fn_.use_count() == 1) Py_VISIT(fn_->obj.ptr());
    return 0;
  }

 private:
  std::string name_;
  std::shared_ptr<PyRef> fn_;
};

TensorList tensors_or_none(const py::sequence& seq) {
  TensorList out;
  for (auto h : seq) out.push_back(h.is_none() ? Tensor() : h.cast<Tensor>());
  return out;
}

// A removable hook: the handle's remove() turns the hook into a no-op.
struct HookHandle {
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  void remove() { *alive = false; }
};

autograd::TensorHook python_tensor_hook(py::function fn, const std::shared_ptr<bool>& alive) {
  auto ref = std::make_shared<PyRef>(std::move(fn));
  return [ref, alive](const Tensor& g) -> Tensor {
    if (!*alive) return Tensor();
    py::gil_scoped_acquire gil;
    py::object r = ref->obj(g);
    return r.is_none() ? Tensor() : r.cast<Tensor>();
  };
}

void set_grad(const Tensor& t, py::handle value) {
  if (value.is_none()) {
    if (auto* m = autograd::meta_of(t)) m->grad = Tensor();
    return;
  }
  Tensor g = value.cast<Tensor>();
  HY_CHECK(g.shape() == t.shape(), RuntimeError, "assigned grad has data of a different size: ", g.shape(),
           " vs the tensor's ", t.shape());
  HY_CHECK(g.dtype() == t.dtype(), RuntimeError, "assigned grad has data of a different type: ",
           dtype_name(g.dtype()), " vs the tensor's ", dtype_name(t.dtype()));
  autograd::ensure_meta(t).grad = g;
}

}  // namespace

// A custom Function whose forward stores its own output on ctx (ctx.keep = y) makes a cycle
//   Python y -> TensorImpl -> grad_fn (PyFunctionNode) -> backward closure -> ctx -> Python y
// whose middle runs through C++ shared_ptrs that Python's cycle collector cannot see, so the graph would
// never be freed. As PyTorch does, a tensor reports the node's closure as its own reference when it is the
// only owner of both its TensorImpl and that node: the reference is then truly reachable through this
// object alone, so the collector's count stays exact (were either shared, e.g. by a downstream node or
// the engine running backward, counting it here could let the collector clear a closure still in use).
int autograd_traverse(const std::shared_ptr<TensorImpl>& impl, visitproc visit, void* arg) {
  if (impl.use_count() != 1) return 0;
  const auto* meta = static_cast<const autograd::AutogradMeta*>(impl->autograd_meta());
  if (!meta || !meta->grad_fn || meta->grad_fn.use_count() != 1) return 0;
  if (const auto* node = dynamic_cast<const PyFunctionNode*>(meta->grad_fn.get())) return node->traverse(visit, arg);
  return 0;
}

void bind_autograd(py::module_& m, TensorClass& cls) {
  py::module_ ag = m.def_submodule("_autograd", "autograd engine (private: use hyflow.autograd)");
  autograd::set_python_node_runner([](Node& n, TensorList&& grads) {
    py::gil_scoped_acquire gil;
    return n.apply(std::move(grads));
  });

  py::class_<Node, std::shared_ptr<Node>>(ag, "Node", "A recorded operation of the autograd graph.")
      .def("name", &Node::name)
      .def_property_readonly("next_functions", [](const Node& n) {
        py::list out;
        for (const auto& e : n.next_edges)
          out.append(py::make_tuple(e.fn ? py::cast(e.fn) : py::none(), e.input_nr));
        return py::tuple(out);
      })
      .def_property_readonly("variable", [](const Node& n) -> py::object {
        // AccumulateGrad nodes end the graph at a leaf: which leaf (None for other nodes)
        if (const auto* acc = dynamic_cast<const autograd::AccumulateGrad*>(&n)) return py::cast(acc->variable);
        return py::none();
      })
      .def("__repr__", [](const Node& n) { return "<" + n.name() + ">"; });
  py::class_<HookHandle>(ag, "HookHandle", "Returned by register_hook; call remove() to unregister.")
      .def("remove", &HookHandle::remove);

  ag.def("is_grad_enabled", &autograd::grad_mode_enabled);
  ag.def("set_grad_enabled", &autograd::set_grad_mode_enabled);
  ag.def("is_inference_mode_enabled", &autograd::inference_mode_enabled);
  ag.def("set_inference_mode_enabled", &autograd::set_inference_mode_enabled);

  ag.def("backward", [](const py::sequence& outputs, const py::sequence& grads, bool retain, bool create) {
    capture::note_graph_break("backward() inside the traced code");
    TensorList outs = tensors_or_none(outputs), gs = tensors_or_none(grads);
    py::gil_scoped_release nogil;
    autograd::backward(outs, gs, retain, create);
  });
  ag.def("grad", [](const py::sequence& outputs, const py::sequence& inputs, const py::sequence& grads, bool retain,
                    bool create, bool allow_unused) {
    capture::note_graph_break("autograd.grad() inside the traced code");
    TensorList outs = tensors_or_none(outputs), ins = tensors_or_none(inputs), gs = tensors_or_none(grads);
    TensorList r;
    {
      py::gil_scoped_release nogil;
      r = autograd::grad(outs, ins, gs, retain, create, allow_unused);
    }
    py::list out;
    for (auto& t : r) out.append(t.defined() ? py::cast(t) : py::none());
    return py::tuple(out);
  });
  // Record a hy.autograd.Function call: `inputs` are the forward arguments (None for non-tensors),
  // `backward` maps output gradients to one gradient per argument. Returns the outputs with history.
  ag.def("record_function", [](const std::string& name, py::function backward, const py::sequence& inputs,
                               const py::sequence& outputs) {
    capture::note_graph_break("a hy.autograd.Function inside the traced code");
    auto node = std::make_shared<PyFunctionNode>(name, std::make_shared<PyRef>(std::move(backward)));
    TensorList ins = tensors_or_none(inputs);
    for (auto& t : ins) node->next_edges.push_back(t.defined() ? autograd::gradient_edge(t) : autograd::Edge{});
    py::list result;
    uint32_t nr = 0;
    for (auto h : outputs) {
      if (!py::isinstance<TensorImpl>(h)) {
        result.append(h);
        continue;
      }
      Tensor out = h.cast<Tensor>();
      for (auto& in : ins)
        if (in.defined() && in.impl() == out.impl()) out = autograd::detach(out);
      node->outputs.push_back(autograd::OutputInfo{out.shape(), out.dtype(), out.device()});
      if (autograd::dtype_differentiable(out.dtype())) autograd::set_history(out, node, nr);
      ++nr;
      result.append(py::cast(out));
    }
    return py::tuple(result);
  });

  cls.def_property("requires_grad", [](const Tensor& t) { return autograd::requires_grad(t); },
                   [](const Tensor& t, bool v) { autograd::set_requires_grad(t, v); },
                   "Whether gradients are computed for this tensor.")
      .def("requires_grad_", [](const Tensor& t, bool v) {
             capture::note_graph_break("requires_grad_() inside the traced code");
             autograd::set_requires_grad(t, v);
             return t;
           },
           py::arg("requires_grad") = true, "Set requires_grad in place; returns self.")
      .def_property("grad", [](const Tensor& t) -> py::object {
                      auto* m = autograd::meta_of(t);
                      if (m && m->grad_fn && !m->retains_grad && !m->grad.defined()) {
                        PyErr_WarnEx(PyExc_UserWarning,
                                     "The .grad attribute of a Tensor that is not a leaf Tensor is being "
                                     "accessed. Its .grad attribute won't be populated during "
                                     "autograd.backward(); use .retain_grad() on the non-leaf Tensor.", 1);
                      }
                      return m && m->grad.defined() ? py::cast(m->grad) : py::none();
                    }, &set_grad, "Accumulated gradient (leaves and tensors that retain_grad()).")
      .def_property_readonly("grad_fn", [](const Tensor& t) -> py::object {
        auto fn = autograd::grad_fn(t);
        return fn ? py::cast(fn) : py::none();
      })
      .def_property_readonly("is_leaf", [](const Tensor& t) { return autograd::is_leaf(t); })
      .def_property_readonly("retains_grad", [](const Tensor& t) {
        auto* m = autograd::meta_of(t);
        return m && m->retains_grad;
      })
      .def_property_readonly("_output_nr", [](const Tensor& t) {
        auto* m = autograd::meta_of(t);
        return m ? m->output_nr : 0;
      })
      .def("detach", [](const Tensor& t) {
             capture::note_graph_break("detach() inside the traced code (not an op-table op yet)");
             return autograd::detach(t);
           },
           "A new tensor sharing memory, cut from the graph (requires_grad False).")
      .def("detach_", [](const Tensor& t) {
        capture::note_graph_break("detach_() inside the traced code");
        if (auto* m = autograd::meta_of(t)) {
          m->grad_fn.reset();
          m->requires_grad = false;
        }
        return t;
      }, "Cut this tensor from the graph in place.")
      .def("retain_grad", [](const Tensor& t) {
        auto* m = autograd::meta_of(t);
        HY_CHECK(m && m->requires_grad, RuntimeError, "can't retain_grad on Tensor that has requires_grad=False");
        if (!m->grad_fn || m->retains_grad) return;
        m->retains_grad = true;
        std::weak_ptr<TensorImpl> weak = t.impl_ptr();
        m->grad_fn->pre_hooks.emplace_back(m->output_nr, [weak](const Tensor& g) -> Tensor {
          if (auto impl = weak.lock()) {
            auto& meta = autograd::ensure_meta(Tensor(impl));
            if (!meta.retains_grad) return Tensor();
            if (!meta.grad.defined()) meta.grad = autograd::grad_mode_enabled() ? g : ops::clone(g);
            else meta.grad = ops::add(meta.grad, g);
          }
          return Tensor();
        });
      }, "Populate .grad of this non-leaf tensor during backward.")
      .def("register_hook", [](const Tensor& t, py::function fn) {
        auto* m = autograd::meta_of(t);
        HY_CHECK(m && m->requires_grad, RuntimeError,
                 "cannot register a hook on a tensor that doesn't require gradient");
        HookHandle h;
        auto hook = python_tensor_hook(std::move(fn), h.alive);
        if (m->grad_fn) m->grad_fn->pre_hooks.emplace_back(m->output_nr, std::move(hook));
        else m->hooks.push_back(std::move(hook));
        return h;
      }, py::arg("hook"), "hook(grad) -> Tensor or None, called with this tensor's gradient during backward.")
      .def("register_post_accumulate_grad_hook", [](const Tensor& t, py::function fn) {
        auto* m = autograd::meta_of(t);
        HY_CHECK(m && m->requires_grad && !m->grad_fn, RuntimeError,
                 "post accumulate grad hooks cannot be registered on non-leaf tensors");
        HookHandle h;
        auto ref = std::make_shared<PyRef>(std::move(fn));
        auto alive = h.alive;
        m->post_acc_hooks.push_back([ref, alive](const Tensor& leaf) {
          if (!*alive) return;
          py::gil_scoped_acquire gil;
          ref->obj(leaf);
        });
        return h;
      }, py::arg("hook"), "hook(tensor) called after this leaf's .grad was accumulated.");
}

}  // namespace hy
