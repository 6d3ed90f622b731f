# Every keyflow target links keyflow_options: language level, warnings, sanitizers.
add_library(keyflow_options INTERFACE)
target_compile_features(keyflow_options INTERFACE cxx_std_20)
target_compile_options(keyflow_options INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wpedantic)
if(KEYFLOW_WERROR)
  # GCC 12 at -O2 reports std::optional members as maybe-uninitialized and std::string
  # concatenation as out of bounds where neither is (GCC bugs 105562, 105329 and kin); keep
  # those warnings visible but not fatal.
  target_compile_options(keyflow_options INTERFACE -Werror -Wno-error=maybe-uninitialized
    -Wno-error=array-bounds -Wno-error=stringop-overflow -Wno-error=restrict)
endif()
# ASan+UBSan (scripts/test --sanitize, and every fuzz build). UBSan does not recover, so
# undefined behaviour fails the test or fuzz run like an ASan report does. Its vptr check is
# off: it reads /proc/self/maps on every cache miss and reports false errors in a process out
# of file descriptors, which the accept-flood test makes on purpose.
if(KEYFLOW_SANITIZE OR KEYFLOW_FUZZ)
  target_compile_options(keyflow_options INTERFACE -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-sanitize=vptr -fno-omit-frame-pointer)
  target_link_options(keyflow_options INTERFACE -fsanitize=address,undefined)
endif()
if(KEYFLOW_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "KEYFLOW_FUZZ needs clang for libFuzzer: -DCMAKE_CXX_COMPILER=clang++")
  endif()
  # Coverage feedback from every library; only the fuzz targets link libFuzzer itself (its
  # main), so test executables in the same tree still link and run as usual.
  target_compile_options(keyflow_options INTERFACE -fsanitize=fuzzer-no-link)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND (KEYFLOW_SANITIZE OR KEYFLOW_FUZZ))
  # clang 14 cannot emit -fsanitize=function's checks for coroutines ("Cannot represent a
  # difference across sections" on http/server.cpp); the rest of UBSan stays.
  target_compile_options(keyflow_options INTERFACE -fno-sanitize=function)
  # ccache reuses clang's precompiled headers only when they carry no timestamp.
  target_compile_options(keyflow_options INTERFACE "SHELL:-Xclang -fno-pch-timestamp")
endif()
if(KEYFLOW_TSAN)
  target_compile_options(keyflow_options INTERFACE -fsanitize=thread)
  target_link_options(keyflow_options INTERFACE -fsanitize=thread)
endif()
