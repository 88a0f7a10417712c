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
