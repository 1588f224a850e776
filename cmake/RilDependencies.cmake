# Every third-party package the build uses is found here, once.
# Imported targets made here for packages without a CMake config: ril_hdf5, ril_pcre2, ril_stb.

find_package(Torch REQUIRED)                      # Debian: target `torch` (no Torch::Torch)
find_package(MPI REQUIRED COMPONENTS C)
find_package(HDF5 REQUIRED COMPONENTS C)
find_package(Boost 1.74 CONFIG REQUIRED COMPONENTS program_options)
find_package(nlohmann_json 3 REQUIRED)
find_package(Threads REQUIRED)

# OpenMPI's C++ bindings are deprecated and not linked on every machine; we use the C API only.
target_compile_definitions(MPI::MPI_C INTERFACE OMPI_SKIP_MPICXX=1 MPICH_SKIP_MPICXX=1)

add_library(ril_hdf5 INTERFACE)
target_include_directories(ril_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(ril_hdf5 INTERFACE ${HDF5_C_LIBRARIES})
target_compile_definitions(ril_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} ${HDF5_DEFINITIONS})

find_path(PCRE2_INCLUDE_DIR pcre2.h HINTS ${PCRE2_ROOT}/include)
find_library(PCRE2_LIBRARY NAMES pcre2-8 HINTS ${PCRE2_ROOT}/lib ${PCRE2_ROOT}/lib/x86_64-linux-gnu)
if(NOT PCRE2_INCLUDE_DIR OR NOT PCRE2_LIBRARY)
  message(FATAL_ERROR "PCRE2 (8-bit) not found: install libpcre2-dev or pass -DPCRE2_ROOT=<prefix>")
endif()
add_library(ril_pcre2 INTERFACE)
target_include_directories(ril_pcre2 SYSTEM INTERFACE ${PCRE2_INCLUDE_DIR})
target_link_libraries(ril_pcre2 INTERFACE ${PCRE2_LIBRARY})
target_compile_definitions(ril_pcre2 INTERFACE PCRE2_CODE_UNIT_WIDTH=8)

# stb is header-only; the implementation is compiled once in src/data/stb_impl.cpp.
find_path(STB_INCLUDE_DIR stb_image.h PATH_SUFFIXES stb)
if(NOT STB_INCLUDE_DIR)
  message(FATAL_ERROR "stb not found: install libstb-dev or pass -DCMAKE_INCLUDE_PATH=<prefix>/include")
endif()
add_library(ril_stb INTERFACE)
target_include_directories(ril_stb SYSTEM INTERFACE ${STB_INCLUDE_DIR})

# CUDA + NCCL: the NCCL communicator only needs the CUDA runtime and NCCL, so RIL_CUDA=ON also
# compiles against a CPU-only LibTorch (a compile check); AUTO turns it on only when LibTorch
# itself has CUDA, i.e. when the build can really run on a GPU.
set(RIL_WITH_CUDA 0)
if(NOT RIL_CUDA STREQUAL "OFF")
  find_package(CUDAToolkit QUIET)
  find_path(NCCL_INCLUDE_DIR nccl.h HINTS ${NCCL_ROOT}/include ${CUDAToolkit_INCLUDE_DIRS})
  find_library(NCCL_LIBRARY nccl HINTS ${NCCL_ROOT}/lib ${CUDAToolkit_LIBRARY_DIR})
  set(_torch_has_cuda OFF)
  if(TARGET c10_cuda OR TARGET torch_cuda)
    set(_torch_has_cuda ON)
  endif()
  set(_have_cuda_nccl OFF)
  if(CUDAToolkit_FOUND AND NCCL_INCLUDE_DIR AND NCCL_LIBRARY)
    set(_have_cuda_nccl ON)
  endif()
  if(RIL_CUDA STREQUAL "ON")
    if(NOT _have_cuda_nccl)
      message(FATAL_ERROR "RIL_CUDA=ON but CUDA toolkit (${CUDAToolkit_FOUND}) or NCCL "
                          "(${NCCL_INCLUDE_DIR}, ${NCCL_LIBRARY}) was not found; pass -DNCCL_ROOT=")
    endif()
    set(RIL_WITH_CUDA 1)
  elseif(_have_cuda_nccl AND _torch_has_cuda)
    set(RIL_WITH_CUDA 1)
  endif()
  message(STATUS "ril: CUDA toolkit=${CUDAToolkit_FOUND} NCCL=${_have_cuda_nccl} "
                 "LibTorch CUDA=${_torch_has_cuda} -> RIL_WITH_CUDA=${RIL_WITH_CUDA}")
endif()
if(RIL_WITH_CUDA)
  add_library(ril_nccl INTERFACE)
  target_include_directories(ril_nccl SYSTEM INTERFACE ${NCCL_INCLUDE_DIR})
  target_link_libraries(ril_nccl INTERFACE ${NCCL_LIBRARY} CUDA::cudart)
endif()

if(RIL_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()
