// Error types thrown at hyflow's API boundary. The bindings translate each into the Python exception of
// the same name, so a bad argument reaches the user as ValueError/TypeError/IndexError, never a crash.
//
//   HY_CHECK(dim < ndim, IndexError, "dim ", dim, " is out of range for a tensor of ", ndim, " dims");
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace hy {

/// A bad argument value (maps to Python ValueError).
struct ValueError : std::invalid_argument { using std::invalid_argument::invalid_argument; };
/// A wrong argument type or dtype (maps to Python TypeError).
struct TypeError : std::runtime_error { using std::runtime_error::runtime_error; };
/// An index or dim out of range (maps to Python IndexError).
struct IndexError : std::out_of_range { using std::out_of_range::out_of_range; };
/// Anything else that went wrong at run time (maps to Python RuntimeError).
struct RuntimeError : std::runtime_error { using std::runtime_error::runtime_error; };
/// An op has no kernel for the requested device/dtype (maps to Python NotImplementedError).
struct NotImplementedError : std::runtime_error { using std::runtime_error::runtime_error; };

namespace detail {
template <typename... Args>
std::string str_cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}
}  // namespace detail

/// Concatenate anything streamable into one message.
template <typename... Args>
std::string str(const Args&... args) { return detail::str_cat(args...); }

}  // namespace hy

#define HY_CHECK(cond, ErrType, ...)                                 \
  do {                                                               \
    if (!(cond)) throw ::hy::ErrType(::hy::str(__VA_ARGS__));        \
  } while (0)
