#include "cluster_certs.hpp"

#include "annals/scenarios/scenario_runner.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace annals::scenarios::cluster_run {

namespace {

void run(const std::string& command, const std::string& log, const std::string& what) {
  if (std::system(("(" + command + ") >>'" + log + "' 2>&1 </dev/null").c_str()) != 0)
    throw ClusterError(ClusterError::Kind::certificates_failed,
                       "making the cluster's TLS certificates failed at " + what + " (openssl's output: " + log + ")");
}

std::string q(const std::string& path) { return "'" + path + "'"; }

} // namespace

void make_cluster_certs(const std::string& dir, const std::vector<std::string>& nodes) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0)
    throw ClusterError(ClusterError::Kind::certificates_failed,
                       "a cluster scenario with \"tls\": true makes its certificates with openssl, which is missing: "
                       "install openssl (apt-get install openssl), or set \"tls\": false");
  std::filesystem::create_directories(dir);
  const std::string log = dir + "/openssl.log";
  const std::string d = dir + "/";
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -sha256 -keyout " + q(d + "ca.key") + " -out "
        + q(d + "ca.pem") + " -subj '/CN=annals scenario ca'",
      log, "the CA");
  {
    // No subjectAltName: CAF checks the CA chain, not host names (docs/cluster.md).
    std::ofstream ext(d + "node.ext", std::ios::trunc);
    ext << "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
           "extendedKeyUsage=serverAuth,clientAuth\n";
  }
  for (const auto& n : nodes) {
    run("openssl req -newkey rsa:2048 -nodes -keyout " + q(d + n + ".key") + " -out " + q(d + n + ".csr")
          + " -subj '/CN=" + n + "' && openssl x509 -req -in " + q(d + n + ".csr") + " -CA " + q(d + "ca.pem")
          + " -CAkey " + q(d + "ca.key") + " -CAcreateserial -days 825 -sha256 -extfile " + q(d + "node.ext")
          + " -out " + q(d + n + ".pem"),
        log, "node " + n + "'s certificate");
    std::error_code ec;
    std::filesystem::remove(d + n + ".csr", ec);
  }
  std::error_code ec;
  std::filesystem::remove(d + "node.ext", ec);
  std::filesystem::remove(d + "ca.srl", ec);
}

} // namespace annals::scenarios::cluster_run
