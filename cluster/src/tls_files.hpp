#pragma once
// Checks a node's TLS files with OpenSSL before CAF's openssl module sees
// them: CAF aborts the process (a missing certificate, only a CA file) or
// hangs in remote_actor (a key that does not decrypt) on bad files, and finds
// them only at the first connection.

#include "annals/cluster/node_transport.hpp"

namespace annals::cluster::detail {

/// Throws TransportError with one line saying which file is wrong and how:
/// not given, missing, unreadable, not PEM, a key that does not decrypt with
/// the passphrase or does not belong to the certificate, a certificate not
/// signed by the CA file (or expired).
void check_tls_files(const TlsFiles& tls);

} // namespace annals::cluster::detail
