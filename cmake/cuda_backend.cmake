# libhyflow_cuda.so: the CUDA backend (csrc/cuda + the generated kernels_cuda_generated.cpp), a separate
# library that links the core and the static CUDA runtime. The core never links CUDA: it dlopens this
# library at import when a driver is present (csrc/dispatch/cuda_backend_loader.cpp).
set(HYFLOW_CUDA_ARCHS "80-real;90" CACHE STRING
    "CUDA architectures of libhyflow_cuda (CMAKE_CUDA_ARCHITECTURES syntax); default: SASS for sm_80, SASS + PTX for sm_90")
set(HYFLOW_WITH_CUDA OFF)
if(HYFLOW_CUDA_FOUND_TOOLKIT AND HYFLOW_SANITIZE)
  message(STATUS "hyflow: sanitizer build: the CUDA backend is left out (nvcc takes no -fsanitize)")
elseif(HYFLOW_CUDA_FOUND_TOOLKIT)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    if(CCACHE_PROGRAM AND NOT CMAKE_CUDA_COMPILER_LAUNCHER)
      set(CMAKE_CUDA_COMPILER_LAUNCHER "${CCACHE_PROGRAM}")
    endif()
    set(CMAKE_CUDA_ARCHITECTURES "${HYFLOW_CUDA_ARCHS}")
    set(CMAKE_CUDA_STANDARD 17)
    set(CMAKE_CUDA_STANDARD_REQUIRED ON)
    enable_language(CUDA)
    set(HYFLOW_WITH_CUDA ON)
  elseif(HYFLOW_CUDA STREQUAL "ON")
    message(FATAL_ERROR "HYFLOW_CUDA=ON but no working CUDA compiler was found")
  endif()
endif()

# cuBLAS for matmul/mm/bmm: the toolkit's, else the nvidia-cublas wheel (site-packages/nvidia/cu13).
set(HYFLOW_WITH_CUBLAS OFF)
if(HYFLOW_WITH_CUDA)
  find_path(HYFLOW_CUBLAS_INCLUDE cublas_v2.h HINTS ${CUDAToolkit_INCLUDE_DIRS}
            PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/include include)
  find_library(HYFLOW_CUBLAS_LIB NAMES cublas libcublas.so.13 HINTS ${CUDAToolkit_LIBRARY_DIR}
               PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/lib lib)
  find_library(HYFLOW_CUBLASLT_LIB NAMES cublasLt libcublasLt.so.13 HINTS ${CUDAToolkit_LIBRARY_DIR}
               PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/lib lib)
  if(HYFLOW_CUBLAS_INCLUDE AND HYFLOW_CUBLAS_LIB AND HYFLOW_CUBLASLT_LIB)
    set(HYFLOW_WITH_CUBLAS ON)
  endif()
endif()

# cuFFT for the FFT ops: the toolkit's, else the nvidia-cufft wheel (site-packages/nvidia/cu13, like cuBLAS).
set(HYFLOW_WITH_CUFFT OFF)
if(HYFLOW_WITH_CUDA)
  find_path(HYFLOW_CUFFT_INCLUDE cufft.h HINTS ${CUDAToolkit_INCLUDE_DIRS}
            PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/include include)
  find_library(HYFLOW_CUFFT_LIB NAMES cufft libcufft.so.12 HINTS ${CUDAToolkit_LIBRARY_DIR}
               PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/lib lib)
  if(HYFLOW_CUFFT_INCLUDE AND HYFLOW_CUFFT_LIB)
    set(HYFLOW_WITH_CUFFT ON)
  endif()
endif()

# cuSOLVER for hy.linalg's decompositions: the toolkit's, else the nvidia-cusolver wheel (cuSOLVER 12, the
# CUDA 13 one; site-packages/nvidia/cu13 like cuBLAS; it pulls in nvidia-cusparse and nvidia-nvjitlink,
# which libcusolver loads through its own $ORIGIN). Needs cuBLAS too: libcusolver links it, and the
# triangular solve is cuBLAS's trsm.
set(HYFLOW_WITH_CUSOLVER OFF)
if(HYFLOW_WITH_CUBLAS)
  find_path(HYFLOW_CUSOLVER_INCLUDE cusolverDn.h HINTS ${CUDAToolkit_INCLUDE_DIRS}
            PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/include include)
  find_library(HYFLOW_CUSOLVER_LIB NAMES cusolver libcusolver.so.12 HINTS ${CUDAToolkit_LIBRARY_DIR}
               PATHS ${HYFLOW_NVIDIA_WHEEL_DIRS} PATH_SUFFIXES cu13/lib lib)
  if(HYFLOW_CUSOLVER_INCLUDE AND HYFLOW_CUSOLVER_LIB)
    set(HYFLOW_WITH_CUSOLVER ON)
  endif()
endif()

if(HYFLOW_WITH_CUDA)
  file(GLOB HYFLOW_CUDA_SOURCES CONFIGURE_DEPENDS csrc/cuda/*.cpp csrc/cuda/*.cu)
  if(HYFLOW_WITH_CUBLAS)
    list(FILTER HYFLOW_CUDA_SOURCES EXCLUDE REGEX "cublas_missing\\.cpp$")
    file(GLOB _hy_cublas_sources CONFIGURE_DEPENDS csrc/cuda/cublas/*.cpp)
    list(APPEND HYFLOW_CUDA_SOURCES ${_hy_cublas_sources})
  endif()
  if(HYFLOW_WITH_CUFFT)  # the FFT kernels; without cuFFT, cufft_missing.cpp says why they cannot run
    list(FILTER HYFLOW_CUDA_SOURCES EXCLUDE REGEX "cufft_missing\\.cpp$")
    file(GLOB _hy_cufft_sources CONFIGURE_DEPENDS csrc/cuda/cufft/*.cpp)
    list(APPEND HYFLOW_CUDA_SOURCES ${_hy_cufft_sources})
  endif()
  if(HYFLOW_WITH_CUSOLVER)  # the decompositions; without cuSOLVER, cusolver_missing.cpp says why they cannot run
    list(FILTER HYFLOW_CUDA_SOURCES EXCLUDE REGEX "cusolver_missing\\.cpp$")
    file(GLOB _hy_cusolver_sources CONFIGURE_DEPENDS csrc/cuda/cusolver/*.cpp)
    list(APPEND HYFLOW_CUDA_SOURCES ${_hy_cusolver_sources})
  endif()
  add_library(hyflow_cuda SHARED ${HYFLOW_CUDA_SOURCES} ${HYFLOW_GEN_DIR}/kernels_cuda_generated.cpp)
  # isclose compares against atol + rtol * |other|: fused into one FMA it can flip a boolean exactly on
  # the tolerance where the CPU (no contraction in the baseline build) rounds twice.
  # complex.cu: complex products rounded as the CPU's std::complex rounds them (no fused multiply-adds).
  set_source_files_properties(csrc/cuda/binary_extra.cu csrc/cuda/complex.cu PROPERTIES COMPILE_OPTIONS "--fmad=false")
  add_dependencies(hyflow_cuda hyflow_codegen)
  target_link_libraries(hyflow_cuda PRIVATE hyflow_core CUDA::cudart_static)
  if(HYFLOW_WITH_CUBLAS)
    target_include_directories(hyflow_cuda SYSTEM PRIVATE ${HYFLOW_CUBLAS_INCLUDE})
    target_link_libraries(hyflow_cuda PRIVATE ${HYFLOW_CUBLAS_LIB} ${HYFLOW_CUBLASLT_LIB})
    # DT_RPATH, not RUNPATH: the wheel's libcublas finds its libcublasLt only through our search path.
    target_link_options(hyflow_cuda PRIVATE -Wl,--disable-new-dtags)
    get_filename_component(_hy_cublas_dir "${HYFLOW_CUBLAS_LIB}" DIRECTORY)
  endif()
  if(HYFLOW_WITH_CUFFT)
    target_include_directories(hyflow_cuda SYSTEM PRIVATE ${HYFLOW_CUFFT_INCLUDE})
    target_link_libraries(hyflow_cuda PRIVATE ${HYFLOW_CUFFT_LIB})
    target_link_options(hyflow_cuda PRIVATE -Wl,--disable-new-dtags)
    get_filename_component(_hy_cufft_dir "${HYFLOW_CUFFT_LIB}" DIRECTORY)
  endif()
  if(HYFLOW_WITH_CUSOLVER)
    target_include_directories(hyflow_cuda SYSTEM PRIVATE ${HYFLOW_CUSOLVER_INCLUDE})
    target_link_libraries(hyflow_cuda PRIVATE ${HYFLOW_CUSOLVER_LIB})
    target_link_options(hyflow_cuda PRIVATE -Wl,--disable-new-dtags)
    get_filename_component(_hy_cusolver_dir "${HYFLOW_CUSOLVER_LIB}" DIRECTORY)
  endif()
  target_compile_options(hyflow_cuda PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -O3 -Xcompiler=-fvisibility=hidden>
    $<$<COMPILE_LANGUAGE:CXX>:-O2 -Wall -Wextra -Wno-unused-parameter>)
  # The static runtime: an installed hyflow needs only the driver, never a matching libcudart.
  set_target_properties(hyflow_cuda PROPERTIES CUDA_RUNTIME_LIBRARY Static
                        LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/pkg
                        INSTALL_RPATH "$ORIGIN;$ORIGIN/../nvidia/cu13/lib;${_hy_cublas_dir};${_hy_cufft_dir};${_hy_cusolver_dir}")
  target_link_options(hyflow_cuda PRIVATE -Wl,--no-undefined)
  # Only the loader asks whether the library exists, so only it recompiles when the toolkit comes or goes.
  set_source_files_properties(csrc/dispatch/cuda_backend_loader.cpp PROPERTIES COMPILE_DEFINITIONS
                              HYFLOW_CUDA_LIBRARY_BUILT)
  install(TARGETS hyflow_cuda LIBRARY DESTINATION hyflow)
endif()

# libhyflow_nccl.so: the NCCL communicator (csrc/distributed/nccl), loaded by the core only when a
# program calls dist.init(backend="nccl") (distributed/nccl_loader.cpp), so a CPU-only or single-GPU run
# never needs libnccl. NCCL comes from a system install or the nvidia-nccl-cu13 wheel.
set(HYFLOW_WITH_NCCL OFF)
if(HYFLOW_WITH_CUDA AND HYFLOW_NCCL_FOUND_TOOLKIT)
  set(HYFLOW_WITH_NCCL ON)
  file(GLOB HYFLOW_NCCL_SOURCES CONFIGURE_DEPENDS csrc/distributed/nccl/*.cpp)
  add_library(hyflow_nccl SHARED ${HYFLOW_NCCL_SOURCES})
  add_dependencies(hyflow_nccl hyflow_codegen)
  target_include_directories(hyflow_nccl SYSTEM PRIVATE ${HYFLOW_NCCL_INCLUDE})
  target_link_libraries(hyflow_nccl PRIVATE hyflow_core CUDA::cudart_static ${HYFLOW_NCCL_LIB})
  target_compile_options(hyflow_nccl PRIVATE -O2 -Wall -Wextra -Wno-unused-parameter)
  # Beside the core in the build tree and the wheel; libnccl from where CMake found it, or from the
  # nvidia-nccl-cu13 wheel installed next to hyflow in site-packages.
  get_filename_component(_hy_nccl_dir "${HYFLOW_NCCL_LIB}" DIRECTORY)
  set_target_properties(hyflow_nccl PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR}/pkg
                        INSTALL_RPATH "$ORIGIN;$ORIGIN/../nvidia/nccl/lib;${_hy_nccl_dir}")
  target_link_options(hyflow_nccl PRIVATE -Wl,--no-undefined)
  set_source_files_properties(csrc/distributed/nccl_loader.cpp PROPERTIES COMPILE_DEFINITIONS
                              HYFLOW_NCCL_LIBRARY_BUILT)
  install(TARGETS hyflow_nccl LIBRARY DESTINATION hyflow)
endif()
