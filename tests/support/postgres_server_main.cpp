// The ctest fixture's server (tests/support/postgres_server.hpp):
//   annals_test_postgres start <state dir>   start a server that outlives this program
//   annals_test_postgres stop <state dir>    stop it and remove its data
#include "postgres_server.hpp"

#include <iostream>
#include <stdexcept>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
    std::cerr << "usage: annals_test_postgres start|stop <state dir>\n";
    return 2;
  }
  try {
    if (std::string(argv[1]) == "start") annals::test::PostgresServer::start_detached(argv[2]);
    else annals::test::PostgresServer::stop_detached(argv[2]);
  } catch (const std::exception& e) {
    std::cerr << "annals_test_postgres: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
