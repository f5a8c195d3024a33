// The system zlib (Debian zlib1g-dev), for message bodies sent with a gzip or deflate
// content encoding. Only ServiceRuntime imports it.
#ifndef CZLIB_SHIM_H
#define CZLIB_SHIM_H

#include <zlib.h>

/// `inflateInit2` is a macro, which Swift cannot call: this passes the library's version and
/// the stream's size as the macro does. `window_bits`: 15 + 32 reads a gzip or zlib header,
/// -15 raw deflate.
static inline int czlib_inflate_init2(z_stream *stream, int window_bits) {
  return inflateInit2(stream, window_bits);
}

#endif
