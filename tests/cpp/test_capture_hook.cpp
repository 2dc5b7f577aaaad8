// The dispatcher's capture hook (dispatch/capture_hook.h) and the compiler's CaptureSession: outermost op
// calls are reported with their arguments and results, nested calls are not, and the hook is per thread.
#include <gtest/gtest.h>

#include <thread>

#include "compiler/capture_session.h"
#include "core/error.h"
#include "hyflow/ops/ops_generated.h"

namespace hy {
namespace {

Tensor vec(double v) { return ops::full(DimVector{4}, Scalar(v), DType::Float32); }

TEST(CaptureHook, RecordsOutermostCallsWithArgumentsAndResults) {
  Tensor x = vec(1.0), y = vec(2.0);
  compiler::CaptureSession s;
  s.begin();
  Tensor z = ops::mul(ops::add(x, y), y);
  s.end();
  ASSERT_EQ(s.calls().size(), 2u);
  EXPECT_EQ(s.calls()[0].op->name, "add");
  EXPECT_EQ(s.calls()[1].op->name, "mul");
  const ValueList& args = s.calls()[1].args;
  ASSERT_EQ(args.size(), 3u);  // self, other, out
  EXPECT_EQ(std::get<Tensor>(args[1]).impl(), y.impl());
  EXPECT_TRUE(std::holds_alternative<std::monostate>(args[2]));  // out=None
  EXPECT_EQ(std::get<Tensor>(s.calls()[1].results[0]).impl(), z.impl());
  EXPECT_TRUE(s.calls()[1].grad_enabled);
}

TEST(CaptureHook, NestedCallsAreNotRecorded) {
  // An out= that overlaps its input makes the front function clone the input (ops::clone) and call
  // itself again; only the caller's one call is recorded.
  Tensor x = vec(1.0);
  Tensor a = ops::slice(x, 0, 0, 3, 1), b = ops::slice(x, 0, 1, 4, 1);
  compiler::CaptureSession s;
  s.begin();
  ops::neg(a, b);
  s.end();
  ASSERT_EQ(s.calls().size(), 1u);
  EXPECT_EQ(s.calls()[0].op->name, "neg");
}

TEST(CaptureHook, EagerCallsAfterEndAndOnOtherThreadsAreNotRecorded) {
  compiler::CaptureSession s;
  s.begin();
  std::thread([] { ops::add(vec(1.0), vec(2.0)); }).join();  // another thread: no hook there
  s.end();
  ops::add(vec(1.0), vec(2.0));
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(capture::active_hook(), nullptr);
}

TEST(CaptureHook, GraphBreakStopsRecordingAndKeepsTheFirstReason) {
  compiler::CaptureSession s;
  s.begin();
  ops::add(vec(1.0), vec(2.0));
  capture::note_graph_break("item()");
  capture::note_graph_break("tolist()");
  ops::add(vec(1.0), vec(2.0));
  s.end();
  EXPECT_TRUE(s.calls().empty());
  EXPECT_EQ(s.break_reason(), "item()");
  capture::note_graph_break("no session: ignored");
}

TEST(CaptureHook, SessionDestroyedWhileRecordingUninstallsItself) {
  {
    compiler::CaptureSession s;
    s.begin();
    EXPECT_EQ(capture::active_hook(), &s);
  }
  EXPECT_EQ(capture::active_hook(), nullptr);
  compiler::CaptureSession twice;
  twice.begin();
  EXPECT_THROW(twice.begin(), RuntimeError);
  twice.end();
}

}  // namespace
}  // namespace hy
