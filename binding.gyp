# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
{
  # llhttp (native/llhttp.js says where): Debian 13's static llhttp 9 in deps/llhttp when
  # scripts/fetch-llhttp.sh brought it, else Debian 12's llhttp 8 sources built here. Either
  # way third-party C kept with hidden symbols (Node exports its own llhttp). libevent
  # (native/libevent.js says which): the static, position-independent build of
  # scripts/build-libevent.sh in deps/libevent when it is there, else the system's shared one.
  "variables": {
    "llhttp_lib": "<!(node native/llhttp.js lib)"
  },
  "targets": [
    {
      "target_name": "evwire_llhttp",
      "conditions": [
        ["llhttp_lib==''", {
          "type": "static_library",
          "sources": ["<!@(node native/llhttp.js gyp-sources)"],
          "include_dirs": ["<!(node native/llhttp.js include)"],
          "cflags": ["-w", "-fvisibility=hidden", "-O2"],
          "cflags!": ["-Wall", "-Wextra"]
        }, {
          "type": "none"
        }]
      ]
    },
    {
      "target_name": "evwire",
      "dependencies": ["evwire_llhttp"],
      # The C core's sources come from native/sources.txt, the list CMakeLists.txt reads too.
      "sources": [
        "<!@(node native/sources.js)",
        "native/addon/addon.cc",
        "native/addon/options.cc",
        "native/addon/lifecycle.cc",
        "native/addon/runtime.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native/core/include",
        "native/core/src",
        "<!(node native/libevent.js include)",
        "<!(node native/llhttp.js include)"
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
      # The C++ runtime goes in too, so the addon needs nothing beyond libc, libm and the loader.
      "ldflags": ["-static-libstdc++", "-static-libgcc"],
      "libraries": [
        "<@(llhttp_lib)",
        "<!@(node native/libevent.js libs)",
        "-Wl,--exclude-libs,ALL"
      ]
    }
  ]
}
