{
  "targets": [
    {
      "target_name": "afpacket",
      "sources": ["afpacket.c", "sockdiag.c", "nfqueue.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
