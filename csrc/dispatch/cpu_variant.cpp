// Loading a CPU variant library. Why a separate shared library per ISA instead of compiling the hot
// files several times into the core: inline functions and templates (ours, Eigen's, std::'s) are
// emitted in every object that uses them and the linker keeps one copy, which could be an AVX-512 one
// reached from the baseline path on an older CPU (SIGILL). A variant library exports one symbol (its
// version script localizes everything else) and is opened RTLD_LOCAL, so the dynamic linker never
// binds anything outside it to its code; the core runs variant code only through the kernel pointers
// registered here, after the CPU check. Consequence: variant code is unreachable unless chosen.
#include "dispatch/cpu_variant.h"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <iterator>
#include <string>

#include "core/cpu_features.h"
#include "core/error.h"
#include "dispatch/registry.h"
#include "hyflow/build_config.h"

namespace hy {
namespace {

// Every variant name hyflow knows, lowest first; HYFLOW_CPU_CAPABILITY takes any of them, whether or
// not this build compiled it, so one test script can cap every build the same way.
const char* const kKnownVariants[] = {"default", "avx2", "avx512"};

int variant_rank(const std::string& name) {
  for (int i = 0; i < static_cast<int>(std::size(kKnownVariants)); ++i)
    if (name == kKnownVariants[i]) return i;
  return -1;
}

struct CompiledVariant {
  std::string name;
  int x86_level;  // the x86-64 level the CPU needs for it
};

// HYFLOW_CPU_VARIANT_TABLE is "avx2:3;avx512:4" (CMake writes it into build_config.h).
std::vector<CompiledVariant> compiled_variants() {
  std::vector<CompiledVariant> out;
  std::string table = HYFLOW_CPU_VARIANT_TABLE;
  size_t pos = 0;
  while (pos < table.size()) {
    size_t end = table.find(';', pos);
    if (end == std::string::npos) end = table.size();
    std::string item = table.substr(pos, end - pos);
    size_t colon = item.find(':');
    if (colon != std::string::npos)
      out.push_back({item.substr(0, colon), std::atoi(item.c_str() + colon + 1)});
    pos = end + 1;
  }
  return out;
}

// The cap HYFLOW_CPU_CAPABILITY asks for, as a rank; unset or empty: no cap.
int requested_cap() {
  const char* env = std::getenv("HYFLOW_CPU_CAPABILITY");
  if (!env || !*env) return static_cast<int>(std::size(kKnownVariants)) - 1;
  std::string v(env);
  std::transform(v.begin(), v.end(), v.begin(), [](unsigned char c) { return std::tolower(c); });
  int rank = variant_rank(v);
  HY_CHECK(rank >= 0, ValueError, "HYFLOW_CPU_CAPABILITY='", env, "' is not a CPU variant; expected one of ",
           "default, avx2, avx512");
  return rank;
}

// The folder libhyflow_core.so was loaded from: the variant libraries are installed beside it.
std::string core_library_dir() {
  Dl_info info{};
  HY_CHECK(dladdr(reinterpret_cast<void*>(&select_cpu_variant), &info) && info.dli_fname, RuntimeError,
           "cannot find the folder of libhyflow_core.so to load the CPU kernel variants from");
  std::string path = info.dli_fname;
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// dlopen the variant's library and find its one exported function.
CpuVariant load_variant(const std::string& name) {
  const std::string path = core_library_dir() + "/libhyflow_cpu_" + name + ".so";
  const char* hint = "; set HYFLOW_CPU_CAPABILITY=default to run the baseline kernels";
  // RTLD_LOCAL: nothing loaded later can bind to the variant's code. Never closed: the registry will
  // hold pointers into it for the rest of the process.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* why = dlerror();
    throw RuntimeError(str("cannot load the ", name, " CPU kernels: ", why ? why : path.c_str(), hint));
  }
  CpuVariant v;
  v.name = name;
  v.register_fn = reinterpret_cast<decltype(v.register_fn)>(dlsym(handle, "hyflow_cpu_variant_register"));
  HY_CHECK(v.register_fn != nullptr, RuntimeError, path, " has no hyflow_cpu_variant_register", hint);
  // Called without a registry it registers nothing and returns its name if built with our version.
  const char* probed = v.register_fn(nullptr, HYFLOW_VERSION);
  HY_CHECK(probed != nullptr && name == probed, RuntimeError, path,
           " belongs to another hyflow build than libhyflow_core.so (version ", HYFLOW_VERSION, ")", hint);
  return v;
}

std::string& active_capability() {
  static std::string name = "default";
  return name;
}

}  // namespace

CpuVariant select_cpu_variant() {
  const int level = cpu_x86_64_level();
  // The whole build assumes its baseline; say so instead of dying of SIGILL in some later kernel.
  HY_CHECK(HYFLOW_CPU_BASELINE_LEVEL == 0 || level >= HYFLOW_CPU_BASELINE_LEVEL, RuntimeError,
           "this hyflow was built for ", HYFLOW_CPU_BASELINE, " but this CPU only supports x86-64 level ", level,
           "; rebuild it with -DHYFLOW_CPU_BASELINE=x86-64");
  const int cap = requested_cap();
  std::vector<CompiledVariant> variants = compiled_variants();
  for (auto it = variants.rbegin(); it != variants.rend(); ++it)
    if (variant_rank(it->name) <= cap && level >= it->x86_level) return load_variant(it->name);
  return CpuVariant{};
}

void register_cpu_variant(Registry& r, const CpuVariant& v) {
  if (v.register_fn) v.register_fn(&r, HYFLOW_VERSION);
  active_capability() = v.name;
}

const std::string& cpu_capability() { return active_capability(); }

std::vector<std::string> cpu_variants_compiled() {
  std::vector<std::string> names{"default"};
  for (const auto& v : compiled_variants()) names.push_back(v.name);
  return names;
}

}  // namespace hy
