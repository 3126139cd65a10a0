/*
 * Node-API binding of the nonce search: one call searches a whole range in C,
 * so JavaScript is entered once per chunk, never per nonce. Plain Node-API (C)
 * keeps the binary ABI-stable across Node versions.
 */
#define NAPI_VERSION 8
#include <node_api.h>
#include <stdint.h>

#include "pow.h"

enum { MODE_AUTO = 0, MODE_SCALAR = 1, MODE_SHA_NI = 2 };

/* Each function receives the cpuid answer as its callback data, read once per module instance (thread). */
#define HAS_SHA_NI(data) ((intptr_t)(data) != 0)

#define CHECK(call)                                      \
  do {                                                   \
    if ((call) != napi_ok) {                             \
      napi_throw_error(env, NULL, "node-api call failed"); \
      return NULL;                                       \
    }                                                    \
  } while (0)

/* The bytes of a Uint8Array of exactly `len` bytes, or NULL with a TypeError thrown. */
static const uint8_t *bytes_arg(napi_env env, napi_value v, size_t len, const char *what) {
  bool is_typed = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array ||
      length != len) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return (const uint8_t *)data;
}

/* search(prefix: Uint8Array(104), target: Uint8Array(32), start: bigint, count: number, mode: number): bigint | null */
static napi_value search(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, &data));
  const int has_sha_ni = HAS_SHA_NI(data);
  if (argc != 5) {
    napi_throw_type_error(env, NULL, "search takes 5 arguments");
    return NULL;
  }
  const uint8_t *prefix = bytes_arg(env, argv[0], ZI_POW_PREFIX_BYTES, "prefix must be a Uint8Array of 104 bytes");
  if (prefix == NULL) return NULL;
  const uint8_t *target = bytes_arg(env, argv[1], ZI_POW_TARGET_BYTES, "target must be a Uint8Array of 32 bytes");
  if (target == NULL) return NULL;

  uint64_t start = 0;
  bool lossless = false;
  if (napi_get_value_bigint_uint64(env, argv[2], &start, &lossless) != napi_ok || !lossless) {
    napi_throw_range_error(env, NULL, "start must be a bigint in [0, 2^64)");
    return NULL;
  }
  double count_d = 0;
  if (napi_get_value_double(env, argv[3], &count_d) != napi_ok || !(count_d >= 0) || count_d > 9007199254740991.0 ||
      count_d != (double)(uint64_t)count_d) {
    napi_throw_range_error(env, NULL, "count must be a safe non-negative integer");
    return NULL;
  }
  uint64_t count = (uint64_t)count_d;
  if (count > 0 && count - 1 > UINT64_MAX - start) {
    napi_throw_range_error(env, NULL, "start + count - 1 passes 2^64 - 1");
    return NULL;
  }
  int32_t mode = 0;
  CHECK(napi_get_value_int32(env, argv[4], &mode));
  if (mode == MODE_AUTO) mode = has_sha_ni ? MODE_SHA_NI : MODE_SCALAR;
  if (mode != MODE_SCALAR && mode != MODE_SHA_NI) {
    napi_throw_range_error(env, NULL, "unknown mode");
    return NULL;
  }
  if (mode == MODE_SHA_NI && !has_sha_ni) {
    napi_throw_error(env, NULL, "this CPU has no SHA extensions");
    return NULL;
  }

  zi_pow_job job;
  zi_pow_prepare(&job, prefix, target);
  uint64_t found = 0;
  int hit = mode == MODE_SHA_NI ? zi_pow_search_sha_ni(&job, start, count, &found)
                                : zi_pow_search_scalar(&job, start, count, &found);
  napi_value result;
  if (hit == 1) {
    CHECK(napi_create_bigint_uint64(env, found, &result));
  } else {
    CHECK(napi_get_null(env, &result));
  }
  return result;
}

static napi_value sha_ni(napi_env env, napi_callback_info info) {
  void *data = NULL;
  CHECK(napi_get_cb_info(env, info, NULL, NULL, NULL, &data));
  napi_value result;
  CHECK(napi_get_boolean(env, HAS_SHA_NI(data), &result));
  return result;
}

NAPI_MODULE_INIT() {
  void *has_sha_ni = (void *)(intptr_t)zi_cpu_has_sha_ni();
  napi_property_descriptor props[] = {
      {"search", NULL, search, NULL, NULL, NULL, napi_enumerable, has_sha_ni},
      {"hasShaNi", NULL, sha_ni, NULL, NULL, NULL, napi_enumerable, has_sha_ni},
  };
  if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok) return NULL;
  return exports;
}
