// One main for the C++ suite: the op registry is filled once, as hyflow._C does when it loads, before
// any test calls an op.
#include <gtest/gtest.h>

#include "dispatch/registry.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  hy::register_all(hy::Registry::global());
  return RUN_ALL_TESTS();
}
