# Every keyflow target links keyflow_options: language level, warnings, sanitizers.
add_library(keyflow_options INTERFACE)
target_compile_features(keyflow_options INTERFACE cxx_std_20)
target_compile_options(keyflow_options INTERFACE
  -Wall -Wextra -Wshadow -Wconversion -Wno-sign-conversion -Wnon-virtual-dtor
  -Wold-style-cast -Wpedantic)
if(KEYFLOW_WERROR)
  target_compile_options(keyflow_options INTERFACE -Werror)
endif()
if(KEYFLOW_SANITIZE)
  target_compile_options(keyflow_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer)
  target_link_options(keyflow_options INTERFACE -fsanitize=address,undefined)
endif()
if(KEYFLOW_TSAN)
  target_compile_options(keyflow_options INTERFACE -fsanitize=thread)
  target_link_options(keyflow_options INTERFACE -fsanitize=thread)
endif()
