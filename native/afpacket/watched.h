// watched.h: an fd on Node's event loop with the JavaScript function it
// calls (afpacket.c's frame ports and alarms, nfqueue.c's queue), and the
// helpers every part of the addon uses to call back and to throw.
#pragma once
#include <node_api.h>
#include <stdint.h>
#include <uv.h>

// An fd the event loop watches, with the JavaScript function it calls: what a
// port and an alarm share. Its memory goes once both the loop (uv_close) and
// the garbage collector (the handle's finalizer) are done with it.
typedef struct watched {
  napi_env env;
  int fd;
  uv_poll_t poll;
  napi_ref callback;
  napi_async_context async;
  int closing;
  int uv_closed;
  int collected;
} watched_t;

// Throws an Error "<what>: strerror(err)" with `errno` set; returns NULL.
napi_value throw_errno(napi_env env, const char *what, int err);
// Starts watching `fd` (owned from now on) for readability; returns the JavaScript handle.
napi_value watched_start(napi_env env, watched_t *w, int fd, napi_value callback, const char *name, uv_poll_cb on_ready);
// The open handle `v` of kind `what`, or NULL with an exception pending.
watched_t *watched_get(napi_env env, napi_value v, const char *what);
// Reads a call's arguments (at most 3), the first being an open handle of `what`.
watched_t *handle_call(napi_env env, napi_callback_info info, napi_value argv[3], const char *what);
// Stops watching, closes the fd; the memory goes once the loop and the GC are done with it.
void watched_close(napi_env env, watched_t *w);
// Calls the handle's function with int32 arguments (at most 2), through make_callback.
void call_js(watched_t *w, int argc, const int32_t *ints);
