# SPDX-License-Identifier: MIT
# Copyright (c) 2026 evwire contributors
{
  # llhttp (native/llhttp.js says where): Debian 13's static llhttp 9 in deps/llhttp when
  # scripts/fetch-llhttp.sh brought it, else Debian 12's llhttp 8 sources built here. Either
  # way third-party C kept with hidden symbols (Node exports its own llhttp). libevent
  # (native/libevent.js says which): the static, position-independent build of
  # scripts/build-libevent.sh in deps/libevent when it is there, else the system's shared one.
  "variables": {
    "llhttp_lib": "<!(node native/llhttp.js lib)",
    # The benchmark-only addon (evwire_bench below) is built where its sources are, a checkout:
    # the npm package ships no native/bench/, and scripts/prebuild.sh sets EVWIRE_BENCH_ADDON=0
    # so that a prebuild compiles evwire.node alone.
    "evwire_bench%": "<!(node -p \"process.env.EVWIRE_BENCH_ADDON !== '0' && require('fs').existsSync('native/bench/addon/bench_addon.cc') ? 1 : 0\")",
    # What both addons are compiled and linked with.
    "addon_include_dirs": [
      # Node's OpenSSL headers first (native/openssl.js): the addon links no OpenSSL.
      "<!(node native/openssl.js include)",
      "<!(node -p \"require('node-addon-api').include_dir\")",
      "native/core/include",
      "native/core/src",
      "<!(node native/libevent.js include)",
      "<!(node native/llhttp.js include)"
    ],
    "addon_defines": [
      "NAPI_VERSION=8",
      "NAPI_DISABLE_CPP_EXCEPTIONS",
      "NODE_ADDON_API_DISABLE_DEPRECATED",
      "_GNU_SOURCE"
    ],
    "addon_cflags": ["-Wall", "-Wextra", "-Werror", "-fvisibility=hidden", "-O2"],
    # The C++ runtime goes in too, so an addon needs nothing beyond libc, libm and the loader.
    "addon_ldflags": ["-static-libstdc++", "-static-libgcc"],
    # (after llhttp_lib, which a variable of this same block cannot name)
    "addon_libraries": ["<!@(node native/libevent.js libs)", "-Wl,--exclude-libs,ALL"]
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
      # The addon that ships: build/Release/evwire.node, loaded by lib/native.ts.
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
      "include_dirs": ["<@(addon_include_dirs)"],
      "defines": ["<@(addon_defines)"],
      "cflags": ["<@(addon_cflags)"],
      "cflags_c": ["-std=c11"],
      "cflags_cc": ["-std=c++17", "-fno-exceptions"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
      "ldflags": ["<@(addon_ldflags)"],
      "libraries": ["<@(llhttp_lib)", "<@(addon_libraries)"]
    },
    {
      # The benchmark-only addon, build/Release/evwire_bench.node (native/bench/addon/
      # bench_addon.cc): native code of the design experiments that the runtime does not use,
      # with its own copy of the core. node-gyp-build, which lib/native.ts loads through, takes
      # the first *.node of build/Release in name order: evwire.node ('.' sorts before '_'), and
      # lib/native.ts checks that what it loaded is the runtime's addon.
      "target_name": "evwire_bench",
      "conditions": [
        ["evwire_bench==1", {
          "type": "loadable_module",
          "dependencies": ["evwire_llhttp"],
          "sources": [
            "<!@(node native/sources.js)",
            "native/addon/options.cc",
            "native/bench/addon/bench_addon.cc"
          ],
          "include_dirs": ["<@(addon_include_dirs)", "native/addon"],
          "defines": ["<@(addon_defines)"],
          "cflags": ["<@(addon_cflags)"],
          "cflags_c": ["-std=c11"],
          "cflags_cc": ["-std=c++17", "-fno-exceptions"],
          "cflags!": ["-fno-exceptions"],
          "cflags_cc!": ["-std=gnu++17", "-std=gnu++1y", "-std=gnu++14"],
          "ldflags": ["<@(addon_ldflags)"],
          "libraries": ["<@(llhttp_lib)", "<@(addon_libraries)"]
        }, {
          "type": "none"
        }]
      ]
    }
  ]
}
