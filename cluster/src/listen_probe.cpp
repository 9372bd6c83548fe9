#include "listen_probe.hpp"

#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

namespace annals::cluster::detail {

std::string why_cannot_listen(const std::string& host, std::uint16_t port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (const int rc = ::getaddrinfo(host.empty() ? nullptr : host.c_str(), service.c_str(), &hints, &found); rc != 0)
    return std::string("the address does not resolve (") + ::gai_strerror(rc) + "); give an address of this host";
  int err = 0;
  for (addrinfo* a = found; a; a = a->ai_next) {
    const int fd = ::socket(a->ai_family, a->ai_socktype, a->ai_protocol);
    if (fd < 0) { err = errno; continue; }
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const int rc = ::bind(fd, a->ai_addr, a->ai_addrlen);
    err = rc == 0 ? 0 : errno;
    ::close(fd);
    if (rc != 0) break;
  }
  ::freeaddrinfo(found);
  switch (err) {
    case EADDRINUSE:
      return "the port is in use; stop the process that holds it or choose another port (0: any free one)";
    case EADDRNOTAVAIL:
      return "the address is not one of this host's; give an address of this host";
    case EACCES:
      return "permission denied (ports below 1024 need privileges); choose a port above 1023";
    case 0:
      return "the port could not be opened (it may have been in use for a moment); try again or choose another port";
    default:
      return std::string(std::strerror(err)) + "; choose another address or port";
  }
}

} // namespace annals::cluster::detail
