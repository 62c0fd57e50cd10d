{
  "targets": [
    {
      "target_name": "afpacket",
      "sources": ["afpacket.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
