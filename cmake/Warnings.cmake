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
if(KEYFLOW_SANITIZE)
  target_compile_options(keyflow_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(keyflow_options INTERFACE -fsanitize=address,undefined)
endif()
if(KEYFLOW_TSAN)
  target_compile_options(keyflow_options INTERFACE -fsanitize=thread)
  target_link_options(keyflow_options INTERFACE -fsanitize=thread)
endif()
