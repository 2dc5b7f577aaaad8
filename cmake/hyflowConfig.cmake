# CMake package for building C++ extensions against an installed hyflow (docs/extending.md).
#
#   list(APPEND CMAKE_PREFIX_PATH "<output of: python -c 'import hyflow; print(hyflow.cmake_prefix_path())'>")
#   find_package(hyflow CONFIG REQUIRED)
#   hyflow_add_extension(myops myops.cpp)          # or: target_link_libraries(t PRIVATE hyflow::core)
#
# Installed layout, relative to the hyflow package folder (site-packages/hyflow):
#   libhyflow_core.so, include/{core,dispatch,...}/*.h, include/hyflow/ops/{ops_generated,ops_common,<family>}.h,
#   share/cmake/hyflow/hyflowConfig.cmake
get_filename_component(_hyflow_pkg_dir "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

set(hyflow_VERSION "@PROJECT_VERSION@")
set(hyflow_PACKAGE_DIR "${_hyflow_pkg_dir}")
set(hyflow_INCLUDE_DIRS "${_hyflow_pkg_dir}/include")
set(hyflow_LIBRARY "${_hyflow_pkg_dir}/libhyflow_core.so")

if(NOT EXISTS "${hyflow_LIBRARY}")
  set(hyflow_FOUND FALSE)
  set(hyflow_NOT_FOUND_MESSAGE "hyflow: ${hyflow_LIBRARY} is missing; reinstall hyflow")
  return()
endif()

if(NOT TARGET hyflow::core)
  add_library(hyflow::core SHARED IMPORTED)
  # The extension must load the very libhyflow_core.so that hyflow._C loaded, so that both share one
  # op registry: linking by soname makes the dynamic loader reuse the copy already in the process.
  set_target_properties(hyflow::core PROPERTIES
    IMPORTED_LOCATION "${hyflow_LIBRARY}"
    IMPORTED_SONAME "libhyflow_core.so"
    INTERFACE_INCLUDE_DIRECTORIES "${hyflow_INCLUDE_DIRS}"
    INTERFACE_COMPILE_FEATURES cxx_std_17)
endif()

# hyflow_add_extension(<name> <sources>...): a shared library that hy.ops.load_library() can load.
# It links hyflow::core with an rpath to the installed package, so it also loads on its own.
function(hyflow_add_extension name)
  add_library(${name} MODULE ${ARGN})
  target_link_libraries(${name} PRIVATE hyflow::core)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    CXX_STANDARD 17
    CXX_STANDARD_REQUIRED ON
    BUILD_RPATH "${hyflow_PACKAGE_DIR}"
    INSTALL_RPATH "${hyflow_PACKAGE_DIR}")
endfunction()

unset(_hyflow_pkg_dir)
