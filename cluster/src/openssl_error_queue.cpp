// A fix for CAF 0.17.6's openssl module, which never empties OpenSSL's
// per-thread error queue: after one failed TLS handshake (a peer with a
// certificate from another CA, a node without TLS) the error stays queued
// on the middleman's thread, SSL_get_error then reports SSL_ERROR_SSL for
// the next harmless "want read" of ANY connection on that thread, and CAF
// closes it: one refused stranger cut this node off from its healthy peers
// (reproduced by the test "a node with a certificate from another CA is
// refused, ..."). OpenSSL's manual requires an empty queue before each I/O
// call (SSL_get_error(3)); these definitions interpose the four calls CAF
// makes, empty the queue and call OpenSSL's own. They apply to the whole
// process, where emptying the queue first is what every caller should do.

#include "openssl_error_queue.hpp"

#include <openssl/err.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace {

#define ANNALS_STR2(x) #x
#define ANNALS_STR(x) ANNALS_STR2(x)

/// OpenSSL's definition of `name` (not ours).
void* next_definition(const char* name, void* ours) {
  void* f = ::dlsym(RTLD_NEXT, name);
  if (f == nullptr || f == ours) {
    // Loaded after libssl (as part of a shared library): look in it directly.
    if (void* lib = ::dlopen("libssl.so." ANNALS_STR(OPENSSL_SHLIB_VERSION), RTLD_LAZY | RTLD_NOLOAD))
      f = ::dlsym(lib, name);
  }
  if (f == nullptr || f == ours) {
    std::fprintf(stderr, "annals: cannot find OpenSSL's %s\n", name);
    std::abort();
  }
  return f;
}

} // namespace

#define ANNALS_SSL_NEXT(name, type)                                                            \
  static const auto next = reinterpret_cast<type>(next_definition(#name, reinterpret_cast<void*>(&::name)))

extern "C" {

int SSL_read(SSL* ssl, void* buf, int num) {
  ANNALS_SSL_NEXT(SSL_read, int (*)(SSL*, void*, int));
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_write(SSL* ssl, const void* buf, int num) {
  ANNALS_SSL_NEXT(SSL_write, int (*)(SSL*, const void*, int));
  ERR_clear_error();
  return next(ssl, buf, num);
}

int SSL_accept(SSL* ssl) {
  ANNALS_SSL_NEXT(SSL_accept, int (*)(SSL*));
  ERR_clear_error();
  return next(ssl);
}

int SSL_connect(SSL* ssl) {
  ANNALS_SSL_NEXT(SSL_connect, int (*)(SSL*));
  ERR_clear_error();
  return next(ssl);
}

} // extern "C"

namespace annals::cluster::detail {

bool openssl_error_queue_fix_linked() { return true; }

} // namespace annals::cluster::detail
