# Warning and sanitizer settings shared by every target of ours.
add_library(campaignd_settings INTERFACE)
target_compile_options(campaignd_settings INTERFACE -Wall -Wextra -Wpedantic)
if(CAMPAIGND_SANITIZE)
  target_compile_options(campaignd_settings INTERFACE
    -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(campaignd_settings INTERFACE -fsanitize=address,undefined)
endif()
