// nfqueue.c: netfilter's packet queue (nfnetlink_queue) for intercept mode (registered beside the frame port).
#pragma once
#include <node_api.h>

void nfqueue_register(napi_env env, napi_value exports);
