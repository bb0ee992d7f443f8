{
  "targets": [
    {
      "target_name": "childwatch",
      "sources": ["host/native/childwatch.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [
        ["OS=='linux'", { "sources": ["host/native/spawn_linux.c"], "ldflags": ["-Wl,-z,nodelete"], "libraries": ["-lpthread"] }],
        ["OS=='mac'", { "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-Wall", "-Wextra"],
                                            "MACOSX_DEPLOYMENT_TARGET": "10.15" } }]
      ]
    }
  ]
}
