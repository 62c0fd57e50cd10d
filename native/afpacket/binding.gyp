{
  "targets": [
    {
      "target_name": "afpacket",
      "sources": ["afpacket.c", "sockdiag.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
