#pragma once
// Why a listen failed, in words: CAF says only "cannot_open_port", so the
// same bind is tried once more with a plain socket to learn the reason.

#include <cstdint>
#include <string>

namespace annals::cluster::detail {

/// "the port is in use; ..." (EADDRINUSE), "the address is not one of this
/// host's; ..." and so on: the reason and what to do, for the message
/// "cannot listen on HOST:PORT: <reason>".
std::string why_cannot_listen(const std::string& host, std::uint16_t port);

} // namespace annals::cluster::detail
