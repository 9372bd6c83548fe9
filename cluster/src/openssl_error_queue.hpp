#pragma once
// openssl_error_queue.cpp interposes OpenSSL's I/O calls to empty the
// thread's error queue first (CAF 0.17.6's openssl module never does, and a
// failed handshake then closes healthy connections). This function is
// called by the transport so that the linker keeps that object file in
// every program that uses the transport (a static library's unreferenced
// object would be dropped, and the fix with it).

namespace annals::cluster::detail {

bool openssl_error_queue_fix_linked();

} // namespace annals::cluster::detail
