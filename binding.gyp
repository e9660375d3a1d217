# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
{
  "targets": [
    {
      "target_name": "evwire",
      # The C core's sources come from native/sources.txt, the list CMakeLists.txt reads too.
      "sources": [
        "<!@(node native/sources.js)",
        "native/addon/addon.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/core/include",
        "native/core/src"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_DISABLE_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "_GNU_SOURCE"
      ],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-O2"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "libraries": [
        "<!@(pkg-config --libs libevent_core)",
        "-Wl,--exclude-libs,ALL"
      ]
    }
  ]
}
