{
  "targets": [
    {
      "target_name": "zi_pow",
      "sources": [
        "native/addon.c",
        "native/pow_scalar.c",
        "native/pow_sha_ni.c"
      ],
      "cflags_c": [
        "-std=c11",
        "-O3"
      ],
      "cflags!": [
        "-O2"
      ],
      "xcode_settings": {
        "OTHER_CFLAGS": [
          "-std=c11",
          "-O3"
        ]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "Optimization": 2
        }
      }
    },
    {
      "target_name": "zi_hash",
      "sources": [
        "native/hash.c"
      ],
      "cflags_c": [
        "-std=c11",
        "-O3"
      ],
      "cflags!": [
        "-O2"
      ],
      "xcode_settings": {
        "OTHER_CFLAGS": [
          "-std=c11",
          "-O3"
        ]
      },
      "msvs_settings": {
        "VCCLCompilerTool": {
          "Optimization": 2
        }
      }
    }
  ]
}
