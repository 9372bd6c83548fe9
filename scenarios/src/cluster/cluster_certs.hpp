#pragma once
// The TLS files of a cluster scenario's nodes, made for the run with the
// openssl program (the commands of scripts/make-cluster-certs.sh, here in
// C++ so that an installed or built `annals` needs no script beside it):
// DIR/ca.pem, DIR/ca.key, and DIR/NODE.pem, DIR/NODE.key per node.

#include <string>
#include <vector>

namespace annals::scenarios::cluster_run {

/// Throws ClusterError (certificates_failed) naming what to install or what failed.
void make_cluster_certs(const std::string& dir, const std::vector<std::string>& nodes);

} // namespace annals::scenarios::cluster_run
