/*
 * Many SHA-256 digests in one call: a block's txids, sender addresses and
 * merkle levels are thousands of hashes of tens of bytes, where entering
 * node:crypto once per hash costs several times the hashing itself. Hashes
 * with the OpenSSL that Node links (and exports), so SHA-NI where the CPU
 * has it. Plain Node-API (C) keeps the binary ABI-stable across Node versions.
 */
#define NAPI_VERSION 8
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: the direct path, no provider lookup per digest */
#include <node_api.h>
#include <openssl/sha.h>
#include <stdint.h>

/* The bytes and length of a typed array of `want` elements, or NULL with a TypeError thrown. */
static void *typed_arg(napi_env env, napi_value v, napi_typedarray_type want, size_t *length, const char *what) {
  bool is_typed = false;
  napi_typedarray_type type;
  void *data = NULL;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, v, &type, length, &data, NULL, NULL) != napi_ok || type != want) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  /* An empty typed array may have no backing store at all. */
  static uint8_t empty;
  return data == NULL ? &empty : data;
}

/*
 * sha256Ranges(data: Uint8Array, ranges: Uint32Array, out: Uint8Array): undefined
 * ranges holds (start, length) pairs into data; digest i goes to out[32i, 32i + 32).
 * Every range is checked before any hashing, so a bad one writes nothing.
 */
static napi_value sha256_ranges(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != 3) {
    napi_throw_type_error(env, NULL, "sha256Ranges takes 3 arguments");
    return NULL;
  }
  size_t data_len = 0, ranges_len = 0, out_len = 0;
  const uint8_t *data = typed_arg(env, argv[0], napi_uint8_array, &data_len, "data must be a Uint8Array");
  if (data == NULL) return NULL;
  const uint32_t *ranges = typed_arg(env, argv[1], napi_uint32_array, &ranges_len, "ranges must be a Uint32Array");
  if (ranges == NULL) return NULL;
  uint8_t *out = typed_arg(env, argv[2], napi_uint8_array, &out_len, "out must be a Uint8Array");
  if (out == NULL) return NULL;
  if (ranges_len % 2 != 0 || out_len != 16 * ranges_len) {
    napi_throw_range_error(env, NULL, "out must hold 32 bytes per (start, length) pair of ranges");
    return NULL;
  }
  for (size_t i = 0; i < ranges_len; i += 2) {
    if ((uint64_t)ranges[i] + ranges[i + 1] > data_len) {
      napi_throw_range_error(env, NULL, "a range runs past the end of data");
      return NULL;
    }
  }
  SHA256_CTX ctx;
  for (size_t i = 0; i < ranges_len; i += 2) {
    SHA256_Init(&ctx);
    SHA256_Update(&ctx, data + ranges[i], ranges[i + 1]);
    SHA256_Final(out + 16 * i, &ctx);
  }
  return NULL;
}

NAPI_MODULE_INIT() {
  napi_property_descriptor props[] = {
      {"sha256Ranges", NULL, sha256_ranges, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, 1, props) != napi_ok) return NULL;
  return exports;
}
