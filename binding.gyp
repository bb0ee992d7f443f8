{
  "targets": [
    {
      "target_name": "childwatch",
      "sources": ["host/native/childwatch.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"],
      "conditions": [
        ["OS=='linux'", { "ldflags": ["-Wl,-z,nodelete"], "libraries": ["-lpthread"] }]
      ]
    }
  ]
}
