// sockdiag.c: the kernel's socket diagnostics for the kernel probe (registered beside the frame port).
#pragma once
#include <node_api.h>

void sockdiag_register(napi_env env, napi_value exports);
