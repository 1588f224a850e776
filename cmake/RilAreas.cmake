# ril_add_area(<area> DEPS ...): the static library ril_<area> from src/<area>/*.cpp, with
# include/ as its public include root. One library per area keeps a broken file in one area
# from stopping the build of the others, and lets tests link only what they use.
function(ril_add_area area)
  cmake_parse_arguments(ARG "" "" "DEPS;PCH" ${ARGN})
  file(GLOB _sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/${area}/*.cpp)
  set(_lib ril_${area})
  if(_sources)
    add_library(${_lib} STATIC ${_sources})
    set(_scope PUBLIC)
  else()
    add_library(${_lib} INTERFACE)
    set(_scope INTERFACE)
  endif()
  target_include_directories(${_lib} ${_scope}
      $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
      $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/generated>
      $<INSTALL_INTERFACE:include>)
  target_link_libraries(${_lib} ${_scope} ${ARG_DEPS} Threads::Threads)
  if(_sources)
    target_compile_options(${_lib} PRIVATE -Wall -Wextra -Wno-unused-parameter)
    # LibTorch headers cost 7-25 s per file; one precompiled header per area pays that once.
    if(ARG_PCH)
      target_precompile_headers(${_lib} PRIVATE ${ARG_PCH})
    endif()
  endif()
  if(area STREQUAL "dist" AND RIL_WITH_CUDA)
    target_link_libraries(${_lib} PUBLIC ril_nccl)
  endif()
endfunction()
