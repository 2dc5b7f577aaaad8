# CPU targets: a portable baseline for the whole build, plus ISA variants of the hot kernels that the
# core loads at import for the best variant the running CPU supports (docs/design.md, "CPU variants").
#
#   hyflow_cpu_configure()          before the core is defined: sets HYFLOW_ARCH_FLAGS (the baseline),
#                                   HYFLOW_CPU_BASELINE_NAME/_LEVEL and HYFLOW_CPU_VARIANT_LIST
#   hyflow_add_cpu_variants(core)   after it: one MODULE library per variant, libhyflow_cpu_<name>.so
#
# A variant library compiles only the hot-kernel files (HYFLOW_CPU_VARIANT_SOURCES) with its -march
# flags. It is linked with a version script that exports exactly one symbol, so none of its code — our
# inline functions, Eigen's, std::'s — can ever be picked by the dynamic linker for the baseline core:
# the core reaches variant code only through kernel pointers it registers after checking the CPU.

# x86-64 variants: name -> flags. Each is an x86-64 psABI level, which the loader checks with cpuid and
# XGETBV (core/cpu_features.cpp), so "compiled for" and "checked for" are the same feature set.
set(_hyflow_variant_flags_avx2 "-march=x86-64-v3")
set(_hyflow_variant_level_avx2 3)
set(_hyflow_variant_flags_avx512 "-march=x86-64-v4")
set(_hyflow_variant_level_avx512 4)

# The hot kernels: elementwise (Eigen-vectorized transcendental math), reductions and softmax, stencils,
# fused optimizers, im2col, the FFTs (lane-blocked butterflies), and the copy/cast helpers they call. Their op-table families are registered
# over the baseline kernels; a family whose kernel is not in these files fails the variant's link.
set(HYFLOW_CPU_VARIANT_SOURCES
    csrc/kernels/cpu/unary.cpp csrc/kernels/cpu/unary_float.cpp csrc/kernels/cpu/binary.cpp
    csrc/kernels/cpu/ternary.cpp csrc/kernels/cpu/reduce.cpp csrc/kernels/cpu/reduce_minmax.cpp
    csrc/kernels/cpu/softmax.cpp csrc/kernels/cpu/layer_norm.cpp csrc/kernels/cpu/stencil.cpp
    csrc/kernels/cpu/optim.cpp csrc/kernels/cpu/conv.cpp csrc/kernels/cpu/conv_transpose.cpp csrc/kernels/cpu/copy.cpp
    csrc/kernels/cpu/gemm_bf16_kernels.cpp csrc/kernels/cpu/fft.cpp)
set(HYFLOW_CPU_VARIANT_FAMILIES unary binary ternary reduce stencil optim conv fft)

macro(hyflow_cpu_configure)
  option(HYFLOW_NATIVE "Compile everything for the build machine's CPU (-march=native): fastest there, SIGILL elsewhere" OFF)
  # HYFLOW_NATIVE_ARCH is the option's old name. An entry an older hyflow left in a build folder's cache
  # carries the old option's help text; that one is the stale default ON, not a choice, so it is dropped.
  if(DEFINED HYFLOW_NATIVE_ARCH)
    get_property(_old_help CACHE HYFLOW_NATIVE_ARCH PROPERTY HELPSTRING)
    if(NOT _old_help MATCHES "^Compile for the build machine's CPU")
      message(DEPRECATION "HYFLOW_NATIVE_ARCH is now called HYFLOW_NATIVE")
      set(HYFLOW_NATIVE ${HYFLOW_NATIVE_ARCH} CACHE BOOL "" FORCE)
    endif()
    unset(HYFLOW_NATIVE_ARCH CACHE)
  endif()

  set(_x86 OFF)
  if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64)$")
    set(_x86 ON)
  endif()
  if(_x86)
    set(_default_baseline "x86-64-v2")
    set(_default_variants "avx2;avx512")
  else()
    set(_default_baseline "")  # the compiler's default target
    set(_default_variants "")
  endif()
  set(HYFLOW_CPU_BASELINE "${_default_baseline}" CACHE STRING
      "-march for the whole build unless HYFLOW_NATIVE (x86-64, x86-64-v2, ...; empty: compiler default)")
  set(HYFLOW_CPU_VARIANTS "${_default_variants}" CACHE STRING
      "ISA variants of the hot kernels, chosen at run time (x86-64: avx2;avx512; empty: none)")

  set(HYFLOW_ARCH_FLAGS "")
  set(HYFLOW_CPU_BASELINE_LEVEL 0)  # x86-64 level the import checks the CPU for; 0: no check
  set(HYFLOW_CPU_VARIANT_LIST "")
  if(HYFLOW_NATIVE)
    check_cxx_compiler_flag("-march=native" HYFLOW_HAS_MARCH_NATIVE)
    if(HYFLOW_HAS_MARCH_NATIVE)
      set(HYFLOW_ARCH_FLAGS "-march=native")
    endif()
    set(HYFLOW_CPU_BASELINE_NAME "native")
  else()
    set(HYFLOW_CPU_BASELINE_NAME "${HYFLOW_CPU_BASELINE}")
    if(HYFLOW_CPU_BASELINE)
      set(HYFLOW_ARCH_FLAGS "-march=${HYFLOW_CPU_BASELINE}")
      if(HYFLOW_CPU_BASELINE STREQUAL "x86-64")
        set(HYFLOW_CPU_BASELINE_LEVEL 1)
      elseif(HYFLOW_CPU_BASELINE MATCHES "^x86-64-v([234])$")
        set(HYFLOW_CPU_BASELINE_LEVEL ${CMAKE_MATCH_1})
      endif()
    else()
      set(HYFLOW_CPU_BASELINE_NAME "compiler default")
    endif()
    foreach(_v IN LISTS HYFLOW_CPU_VARIANTS)
      if(NOT DEFINED _hyflow_variant_flags_${_v} OR NOT _x86)
        message(FATAL_ERROR "HYFLOW_CPU_VARIANTS: unknown variant '${_v}' for ${CMAKE_SYSTEM_PROCESSOR} "
                            "(x86-64 knows avx2, avx512)")
      endif()
      if(_hyflow_variant_level_${_v} LESS_EQUAL HYFLOW_CPU_BASELINE_LEVEL)
        continue()  # the baseline already covers it
      endif()
      check_cxx_compiler_flag("${_hyflow_variant_flags_${_v}}" HYFLOW_HAS_VARIANT_${_v})
      if(HYFLOW_HAS_VARIANT_${_v})
        list(APPEND HYFLOW_CPU_VARIANT_LIST ${_v})
      else()
        message(WARNING "the compiler does not take ${_hyflow_variant_flags_${_v}}: no ${_v} variant")
      endif()
    endforeach()
  endif()
  # "avx2:3;avx512:4" for the loader: which libraries exist and the x86-64 level each needs.
  set(HYFLOW_CPU_VARIANT_TABLE "")
  foreach(_v IN LISTS HYFLOW_CPU_VARIANT_LIST)
    list(APPEND HYFLOW_CPU_VARIANT_TABLE "${_v}:${_hyflow_variant_level_${_v}}")
  endforeach()
endmacro()

function(hyflow_add_cpu_variants core_target)
  if(NOT HYFLOW_CPU_VARIANT_LIST)
    return()
  endif()
  set(_src_dir ${PROJECT_SOURCE_DIR})
  list(TRANSFORM HYFLOW_CPU_VARIANT_SOURCES PREPEND "${_src_dir}/" OUTPUT_VARIABLE _sources)
  set(_exports ${_src_dir}/csrc/kernels/cpu/variant/variant_exports.map)
  foreach(_v IN LISTS HYFLOW_CPU_VARIANT_LIST)
    set(_t hyflow_cpu_${_v})
    add_library(${_t} MODULE ${_sources} ${_src_dir}/csrc/kernels/cpu/variant/variant_entry.cpp
                ${HYFLOW_GEN_DIR}/cpu_variant_generated.cpp)
    add_dependencies(${_t} hyflow_codegen)
    target_include_directories(${_t} PRIVATE ${_src_dir}/csrc ${HYFLOW_GEN_DIR})
    target_compile_definitions(${_t} PRIVATE HYFLOW_CPU_VARIANT_NAME="${_v}")
    target_compile_options(${_t} PRIVATE -O3 ${_hyflow_variant_flags_${_v}} -Wall -Wextra -Wno-unused-parameter)
    # Hidden visibility keeps every definition inside the library; the version script also localizes
    # the instantiations that headers mark visible (libstdc++ declares namespace std visibility
    # "default"), so the library exports hyflow_cpu_variant_register and nothing else.
    set_target_properties(${_t} PROPERTIES CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON
                          PREFIX "lib" LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/pkg
                          INSTALL_RPATH "$ORIGIN" LINK_DEPENDS ${_exports})
    target_link_options(${_t} PRIVATE -Wl,--no-undefined -Wl,--version-script=${_exports})
    target_link_libraries(${_t} PRIVATE ${core_target} Eigen3::Eigen Threads::Threads)
    install(TARGETS ${_t} LIBRARY DESTINATION hyflow)
    add_dependencies(_C ${_t})  # building the module builds what its import may load
  endforeach()
endfunction()
