# Build options. Optional parts are tri-state: AUTO builds them when the toolkit is found,
# ON fails loudly when it is missing, OFF skips them.
include_guard(GLOBAL)

set(MNEME_VULKAN AUTO CACHE STRING "Build the Vulkan backend plugin (AUTO|ON|OFF)")
set(MNEME_CUDA AUTO CACHE STRING "Build the CUDA backend plugin (AUTO|ON|OFF)")
set(MNEME_APP AUTO CACHE STRING "Build the Qt 6 desktop app (AUTO|ON|OFF)")
set_property(CACHE MNEME_VULKAN MNEME_CUDA MNEME_APP PROPERTY STRINGS AUTO ON OFF)

option(MNEME_BUILD_TESTS "Build the test suite" ${PROJECT_IS_TOP_LEVEL})
option(MNEME_WERROR "Treat compiler warnings as errors" OFF)
set(MNEME_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined | thread | empty")
option(MNEME_FUZZ "Build the libFuzzer targets (clang; instruments the whole runtime for coverage)" OFF)

set(MNEME_SUMMARY "")
function(mneme_summary line)
  set_property(GLOBAL APPEND PROPERTY MNEME_SUMMARY_LINES "${line}")
endfunction()

function(mneme_print_summary)
  get_property(lines GLOBAL PROPERTY MNEME_SUMMARY_LINES)
  message(STATUS "Mneme ${PROJECT_VERSION} configuration:")
  foreach(l IN LISTS lines)
    message(STATUS "  ${l}")
  endforeach()
endfunction()

# Resolves a tri-state option: sets ${out} to TRUE/FALSE, fails when ON but unavailable.
function(mneme_resolve_option name available reason out)
  if(${name} STREQUAL "OFF")
    set(${out} FALSE PARENT_SCOPE)
    mneme_summary("${name}: off (by request)")
  elseif(available)
    set(${out} TRUE PARENT_SCOPE)
    mneme_summary("${name}: on")
  elseif(${name} STREQUAL "ON")
    message(FATAL_ERROR "${name}=ON but ${reason}")
  else()
    set(${out} FALSE PARENT_SCOPE)
    mneme_summary("${name}: skipped (${reason})")
  endif()
endfunction()

# CUDA is enabled here, in the top-level directory, because both the kernel library (kernels/cuda) and
# the plugin (plugins/cuda) compile or link CUDA code, and enable_language must run in the highest
# directory common to them. The architecture list is explicit: CMake 3.25 cannot detect a GPU that
# is not there ("native"), and its default (75) is below what CUDA 13 targets here. sm_90 also
# carries PTX, so newer GPUs JIT-compile it.
set(MNEME_CUDA_ARCHITECTURES "80-real;86-real;89-real;90" CACHE STRING "GPU architectures of the CUDA plugin")
set(mneme_cuda_available FALSE)
if(NOT MNEME_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  if(NOT CMAKE_CUDA_HOST_COMPILER AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER} CACHE FILEPATH "Host compiler of nvcc")
  endif()
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(mneme_cuda_available TRUE)
  endif()
endif()
mneme_resolve_option(MNEME_CUDA "${mneme_cuda_available}" "no CUDA compiler (nvcc) was found" MNEME_BUILD_CUDA)
if(MNEME_BUILD_CUDA)
  set(CMAKE_CUDA_ARCHITECTURES ${MNEME_CUDA_ARCHITECTURES})
  set(CMAKE_CUDA_RUNTIME_LIBRARY Static)  # cudart_static: the plugin needs no libcudart.so at load time
  enable_language(CUDA)
  # CMake 3.25 knows CUDA dialects only up to C++17 and derives the CUDA dialect from
  # CMAKE_CXX_STANDARD (20); nvcc 12+ accepts -std=c++20, so teach CMake the flag.
  if(NOT CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
    set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
    set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
  endif()
  find_package(CUDAToolkit REQUIRED)
  string(REPLACE ";" " " mneme_cuda_arch_text "${CMAKE_CUDA_ARCHITECTURES}")
  mneme_summary("CUDA architectures: ${mneme_cuda_arch_text}")
endif()

if(MNEME_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "MNEME_FUZZ needs clang (libFuzzer); use the fuzz preset")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link)
  if(NOT MNEME_SANITIZE)
    set(MNEME_SANITIZE "address,undefined")
  endif()
  mneme_summary("fuzz targets: on")
endif()

# Shared objects must resolve every symbol at link time, except in clang sanitizer builds, where the
# sanitizer runtime is provided by the executable that loads them.
set(MNEME_NO_UNDEFINED -Wl,--no-undefined)
if(MNEME_SANITIZE AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(MNEME_NO_UNDEFINED "")
endif()
if(MNEME_FUZZ)
  set(MNEME_NO_UNDEFINED "")
endif()

if(MNEME_SANITIZE)
  if(MNEME_SANITIZE MATCHES "thread" AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # Boost.Asio's fenced blocks use atomic_thread_fence, which GCC warns TSan does not model.
    add_compile_options(-Wno-tsan)
  endif()
  add_compile_options(-fsanitize=${MNEME_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  if(MNEME_SANITIZE MATCHES "undefined" AND CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    # clang's vptr/function checks need its C++ UBSan runtime, which plain C programs linking
    # libmneme (the C consumers and examples) do not get.
    add_compile_options(-fno-sanitize=vptr,function)
  endif()
  add_link_options(-fsanitize=${MNEME_SANITIZE})
  mneme_summary("sanitizers: ${MNEME_SANITIZE}")
endif()

# The Vulkan plugin needs the Vulkan headers and glslc at build time (the loader is opened at run time).
if(NOT MNEME_VULKAN STREQUAL "OFF")
  find_package(Vulkan QUIET COMPONENTS glslc)
endif()
mneme_resolve_option(MNEME_VULKAN "${Vulkan_FOUND}" "the Vulkan headers or glslc were not found" MNEME_BUILD_VULKAN)
