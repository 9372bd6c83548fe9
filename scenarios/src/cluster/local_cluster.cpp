#include "local_cluster.hpp"

#include "cluster_certs.hpp"
#include "http_client.hpp"

#include "annals/cluster/rendezvous.hpp"
#include "annals/json_parse.hpp"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace annals::scenarios::cluster_run {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Enough for a command that waits for a shard's new owner (a lease round) or a paused peer.
constexpr milliseconds request_timeout{30000};
constexpr const char* marker_file = ".annals-cluster-run";

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

LatencyStats latency_of(std::vector<double> v) {
  LatencyStats l;
  l.count = v.size();
  if (v.empty()) return l;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5))]; };
  for (double x : v) l.sum += x;
  l.p50 = at(0.5);
  l.p95 = at(0.95);
  l.p99 = at(0.99);
  return l;
}

// The value of an unlabelled metric in Prometheus' text format.
std::optional<double> metric(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(name + " ", 0) == 0) return std::stod(line.substr(name.size() + 1));
  return std::nullopt;
}

// The run's directory, emptied if an earlier run made it; anything else there is left alone.
void prepare_directory(const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      throw ClusterError(ClusterError::Kind::directory, dir + " is not a directory; remove it or run elsewhere");
    if (fs::exists(fs::path(dir) / marker_file, ec)) fs::remove_all(dir, ec);
    else if (!fs::is_empty(dir, ec))
      throw ClusterError(ClusterError::Kind::directory,
                         dir + " exists and was not made by `annals run`: not deleting it; remove it or run elsewhere");
  }
  fs::create_directories(dir, ec);
  std::ofstream marker(fs::path(dir) / marker_file);
  marker << "made by `annals run` for a cluster scenario's node configs and logs; emptied by the next run\n";
  if (!marker) throw ClusterError(ClusterError::Kind::directory, "cannot write in " + dir + ": " + ec.message());
}

} // namespace

LocalCluster::LocalCluster(const Scenario& scenario, const RunOptions& options, RunObserver& observer)
    : scenario_(scenario), spec_(*scenario.cluster), options_(options), observer_(observer) {
  dir_ = fs::absolute(options.run_directory.empty() ? "annals-" + scenario.name + ".cluster" : options.run_directory)
           .lexically_normal()
           .string();
  std::error_code ec;
  executable_ = options.node_executable.empty() ? fs::read_symlink("/proc/self/exe", ec).string() : options.node_executable;
}

LocalCluster::~LocalCluster() { stop(); }

std::string LocalCluster::describe() const {
  return "a throwaway PostgreSQL 15, " + counted(spec_.nodes, "node") + " (annals node), " + counted(spec_.shards, "shard")
         + ", lease " + std::to_string(spec_.lease_ttl.count()) + " ms, "
         + (spec_.tls ? "mutual TLS" : "plain TCP") + " between the nodes; configs and logs in " + dir_;
}

void LocalCluster::write_config(const std::string& name) {
  json::array domains;
  for (const auto& d : scenario_.domains) domains.emplace_back(d);
  json::object c{{"node", name},           {"cluster", scenario_.name},  {"store", postgres_->url()},
                 {"listen", "127.0.0.1:0"}, {"http", "127.0.0.1:0"},     {"domains", std::move(domains)},
                 {"shards", spec_.shards},  {"lease_ttl_ms", spec_.lease_ttl.count()}};
  if (spec_.heartbeat) c["heartbeat_ms"] = spec_.heartbeat->count();
  if (spec_.member_timeout) c["member_timeout_ms"] = spec_.member_timeout->count();
  if (spec_.connection_timeout) c["connection_timeout_ms"] = spec_.connection_timeout->count();
  if (spec_.request_timeout) c["request_timeout_ms"] = spec_.request_timeout->count();
  if (spec_.tls)
    c["tls"] = json::object{{"certificate", "certs/" + name + ".pem"}, {"key", "certs/" + name + ".key"}, {"ca", "certs/ca.pem"}};
  std::ofstream out(dir_ + "/" + name + ".json", std::ios::trunc);
  out << json::serialize(c) << "\n";
  if (!out) throw ClusterError(ClusterError::Kind::directory, "cannot write " + dir_ + "/" + name + ".json");
}

void LocalCluster::announce(NodeProcess& n, pid_t pid) {
  if (pid == 0) pid = n.pid();
  json::object f{{"node", n.name()}, {"pid", pid}, {"state", n.state_name()}, {"log", n.log()}, {"config", n.config()}};
  std::string text = "node " + n.name() + " pid " + std::to_string(pid) + " " + n.state_name();
  if (n.http_port() && n.alive()) {
    f["http"] = "http://127.0.0.1:" + std::to_string(n.http_port());
    text += " on http://127.0.0.1:" + std::to_string(n.http_port());
  }
  observer_.cluster_event("cluster.node", f, text + ", log " + n.log());
}

void LocalCluster::start() {
  const auto t0 = Clock::now();
  if (executable_.empty() || !fs::exists(executable_))
    throw ClusterError(ClusterError::Kind::node_failed, "cannot find the annals program to start the nodes with");
  prepare_directory(dir_);
  postgres_ = std::make_unique<LocalPostgres>("annals");
  observer_.cluster_event("cluster.postgres",
                          {{"pid", postgres_->pid()}, {"url", postgres_->url()}, {"directory", postgres_->directory()}},
                          "PostgreSQL 15 pid " + std::to_string(postgres_->pid()) + " on " + postgres_->url()
                            + " (data in " + postgres_->directory() + ", removed at the end)");
  const auto names = spec_.node_names();
  if (spec_.tls) make_cluster_certs(dir_ + "/certs", names);
  for (const auto& n : names) {
    write_config(n);
    nodes_.push_back(std::make_unique<NodeProcess>(n, executable_, dir_ + "/" + n + ".json", dir_ + "/" + n + ".log"));
  }
  // n1 first, alone: it creates annals' schema in the empty database (nodes
  // started at once race there, and the losers refuse the half-made schema);
  // then the others together.
  const auto until = t0 + spec_.start_timeout;
  auto ready = [&](NodeProcess& n) {
    n.wait_ready(std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(until - Clock::now())),
                 options_.interrupted);
    announce(n);
  };
  nodes_.front()->spawn();
  announce(*nodes_.front());
  ready(*nodes_.front());
  for (std::size_t i = 1; i < nodes_.size(); ++i) {
    nodes_[i]->spawn();
    announce(*nodes_[i]);
  }
  for (std::size_t i = 1; i < nodes_.size(); ++i) ready(*nodes_[i]);
  for (auto& n : nodes_) {
    for (;;) {
      unsigned status = 0;
      get(n->name(), "/health", status);
      if (status == 200) break;
      if (stop_requested()) throw ClusterError(ClusterError::Kind::interrupted, "interrupted while the cluster started");
      if (!n->alive())
        throw ClusterError(ClusterError::Kind::node_failed, "node " + n->name() + " ended while starting: "
                                                              + n->last_log_line() + " (its log: " + n->log() + ")");
      if (Clock::now() >= until)
        throw ClusterError(ClusterError::Kind::node_failed, "node " + n->name() + " did not answer /health within "
                                                              + std::to_string(spec_.start_timeout.count()) + " ms (its log: "
                                                              + n->log() + ")");
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  bool settled = false;
  const auto left = std::max(milliseconds(1), std::chrono::duration_cast<milliseconds>(until - Clock::now()));
  auto count = wait_settled(left, settled);
  if (stop_requested()) throw ClusterError(ClusterError::Kind::interrupted, "interrupted while the cluster started");
  if (!settled)
    throw ClusterError(ClusterError::Kind::node_failed,
                       "the shards were not spread over the nodes within " + std::to_string(spec_.start_timeout.count())
                         + " ms (\"start_timeout_ms\"): " + count.text + "; the nodes' logs are in " + dir_);
  observer_.cluster_event("cluster.ready", {{"seconds", since(t0)}, {"shards", count.by_node}},
                          "cluster ready after " + human_seconds(since(t0)) + ": shards " + count.text);
}

void LocalCluster::stop() {
  if (nodes_.empty() && !postgres_) return;
  {
    std::lock_guard<std::mutex> lock(mtx_);
    clients_.clear();
  }
  // SIGTERM to all at once (each hands its shards back), then wait for each.
  for (auto& n : nodes_)
    if (n->alive()) n->request_stop();
  for (auto& n : nodes_) n->wait_stopped(milliseconds(10000));
  const bool had_nodes = !nodes_.empty();
  nodes_.clear();
  if (postgres_) {
    postgres_->stop();
    postgres_.reset();
    observer_.cluster_event("cluster.stopped", {{"directory", dir_}},
                            std::string(had_nodes ? "nodes stopped, " : "") + "PostgreSQL stopped and removed; the nodes' logs stay in " + dir_);
  }
}

NodeProcess& LocalCluster::node(const std::string& name) {
  for (auto& n : nodes_)
    if (n->name() == name) return *n;
  throw std::invalid_argument("no node " + name);  // the parser allows only n1..nN
}

HttpClient& LocalCluster::client(const std::string& node_name, int connection) {
  std::lock_guard<std::mutex> lock(mtx_);
  auto& c = clients_[{node_name, connection}];
  if (!c) c = std::make_unique<HttpClient>(node(node_name).http_port(), request_timeout);
  return *c;
}

void LocalCluster::drop_clients(const std::string& node_name) {
  std::lock_guard<std::mutex> lock(mtx_);
  for (auto it = clients_.begin(); it != clients_.end();)
    it = it->first.first == node_name ? clients_.erase(it) : std::next(it);
}

std::string LocalCluster::get(const std::string& node_name, const std::string& target, unsigned& status) {
  // Its own connection number: never one a load caller uses.
  auto a = client(node_name, -1).request(target);
  status = a.status;
  return a.body;
}

std::string LocalCluster::not_serving(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    auto& p = node(n);
    if (!p.serving())
      return "node " + n + " is " + p.state_name() + ": send to a running node"
             + (p.state() == NodeProcess::State::paused ? " (or resume_node it first)" : " (or restart_node it first)");
  }
  return {};
}

CommandResult LocalCluster::execute(const std::string& node_name, const Command& c, int connection) {
  const StreamId stream{c.aggregate, c.id};
  const auto t = Clock::now();
  auto a = client(node_name, connection).request("/commands", true, plain_json(c.to_json()));
  const double secs = since(t);
  CommandResult r;
  if (a.status == 0) {
    r = CommandResult::fail(stream, Error("node_unreachable", "node " + node_name + " did not answer: " + a.error));
  } else {
    json::error_code ec;
    const auto body = parse_json(a.body, ec);
    if (ec || !body.is_object()) {
      r = CommandResult::fail(stream, Error("internal_error", "node " + node_name + " answered HTTP "
                                                                 + std::to_string(a.status) + " without a JSON body"));
    } else if (a.status == 200 || a.status == 201) {
      auto parsed = CommandResult::from_json(body);
      r = parsed ? *parsed
                 : CommandResult::fail(stream, Error("internal_error", "node " + node_name + " answered an unreadable result: "
                                                                          + parsed.error().message));
    } else {
      // A problem (RFC 9457): its code, detail and outcome.
      const auto& o = body.as_object();
      auto str = [&](const char* k) {
        const auto* v = o.if_contains(k);
        return v && v->is_string() ? std::string(v->as_string()) : std::string();
      };
      Error e(str("code").empty() ? "internal_error" : str("code"), str("detail"));
      const auto* version = o.if_contains("version");
      const std::int64_t v = version && version->is_int64() ? version->as_int64() : 0;
      r = str("outcome") == "rejected" ? CommandResult::reject(stream, e, v) : CommandResult::fail(stream, e, v);
    }
  }
  std::lock_guard<std::mutex> lock(mtx_);
  auto& t2 = tallies_[node_name];
  ++t2.sent;
  latencies_.push_back(secs);
  if (r.accepted()) ++t2.accepted, t2.replays += r.replayed ? 1 : 0;
  else if (r.rejected()) ++t2.rejected;
  else {
    ++t2.failed;
    if (r.code() == "node_unavailable") ++t2.node_unavailable;
  }
  return r;
}

Expected<json::value> LocalCluster::query(const std::string& node_name, const std::string& projection,
                                          const std::string& q, const json::object& args, std::int64_t min_position,
                                          std::optional<milliseconds> timeout) {
  std::string target = "/queries/" + url_encode(projection) + "/" + url_encode(q);
  char sep = '?';
  for (const auto& kv : args) {
    const auto& v = kv.value();
    // A string in double quotes stays a string ("123" is not the integer 123).
    const std::string value = v.is_string() ? "\"" + std::string(v.as_string()) + "\"" : plain_json(v);
    target += sep + url_encode(std::string(kv.key())) + "=" + url_encode(value);
    sep = '&';
  }
  if (min_position > 0) target += sep + std::string("min_position=") + std::to_string(min_position), sep = '&';
  if (timeout) target += sep + std::string("timeout_ms=") + std::to_string(std::min<std::int64_t>(timeout->count(), 30000));
  const auto t = Clock::now();
  auto a = client(node_name, -2).request(target);
  {
    std::lock_guard<std::mutex> lock(mtx_);
    ++queries_;
    query_latencies_.push_back(since(t));
    if (a.status != 200) ++query_errors_;
  }
  if (a.status == 0) return Error("node_unreachable", "node " + node_name + " did not answer: " + a.error);
  json::error_code ec;
  const auto body = parse_json(a.body, ec);
  if (ec || !body.is_object())
    return Error("internal_error", "node " + node_name + " answered HTTP " + std::to_string(a.status) + " without JSON");
  const auto& o = body.as_object();
  if (a.status == 200 && o.contains("result")) return o.at("result");
  const auto* code = o.if_contains("code");
  const auto* detail = o.if_contains("detail");
  return Error(code && code->is_string() ? std::string(code->as_string()) : "internal_error",
               detail && detail->is_string() ? std::string(detail->as_string()) : a.body);
}

std::string LocalCluster::act(const std::string& action, const std::string& name) {
  auto& n = node(name);
  const auto pid = n.pid();
  std::string summary;
  if (action == "restart") {
    if (n.alive())
      return "node " + name + " is " + n.state_name() + " (pid " + std::to_string(pid) + "): not restarted; kill_node or stop_node it first";
    drop_clients(name);
    n.spawn();
    announce(n);
    n.wait_ready(spec_.start_timeout, options_.interrupted);
    announce(n);
    return "node " + name + " started again (pid " + std::to_string(n.pid()) + ", http://127.0.0.1:"
           + std::to_string(n.http_port()) + ", same config)";
  }
  if (!n.alive()) return "node " + name + " is " + n.state_name() + ": nothing to " + action;
  if (action == "kill") {
    n.kill();
    drop_clients(name);
    summary = "node " + name + " (pid " + std::to_string(pid) + ") killed with SIGKILL: its leases stay until they expire";
  } else if (action == "pause") {
    n.pause();
    summary = "node " + name + " (pid " + std::to_string(pid) + ") paused with SIGSTOP";
  } else if (action == "resume") {
    n.resume();
    summary = "node " + name + " (pid " + std::to_string(pid) + ") resumed with SIGCONT";
  } else {  // stop
    const int code = n.terminate(milliseconds(10000));
    drop_clients(name);
    summary = "node " + name + " (pid " + std::to_string(pid) + ") stopped with SIGTERM: "
              + (code == 0 ? std::string("it handed its shards back and exited 0")
                           : "it did not exit cleanly (" + std::to_string(code) + "); see " + n.log());
  }
  announce(n, pid);
  return summary;
}

ShardCount LocalCluster::shards() {
  ShardCount c;
  std::vector<std::string> live;
  for (auto& n : nodes_)
    if (n->serving()) live.push_back(n->name());
  std::int64_t sum = 0;
  bool each = !live.empty();
  std::vector<std::string> parts;
  for (auto& n : nodes_) {
    if (!n->serving()) {
      c.by_node[n->name()] = n->state_name();
      parts.push_back(n->name() + " " + n->state_name());
      continue;
    }
    unsigned status = 0;
    const auto text = get(n->name(), "/metrics", status);
    const auto v = status == 200 ? metric(text, "annals_cluster_shards_owned") : std::nullopt;
    if (!v) {
      each = false;
      c.by_node[n->name()] = nullptr;
      parts.push_back(n->name() + " no answer");
      continue;
    }
    // The nodes move shards until each holds what rendezvous hashing over
    // the live members gives it: settled is that state, not just "all held".
    const auto owned = static_cast<std::int64_t>(*v);
    const auto share = static_cast<std::int64_t>(cluster::rendezvous_shards(n->name(), live, spec_.shards).size());
    sum += owned;
    if (owned < 1 || owned != share) each = false;
    c.by_node[n->name()] = owned;
    parts.push_back(n->name() + " " + std::to_string(owned) + (owned != share ? " (its share: " + std::to_string(share) + ")" : ""));
  }
  c.settled = each && sum == spec_.shards;
  std::string joined;
  for (const auto& p : parts) joined += (joined.empty() ? "" : ", ") + p;
  c.text = joined + "; " + std::to_string(sum) + " of " + std::to_string(spec_.shards) + " held";
  return c;
}

ShardCount LocalCluster::wait_settled(milliseconds timeout, bool& settled) {
  const auto until = Clock::now() + timeout;
  int in_a_row = 0;
  for (;;) {
    auto c = shards();
    in_a_row = c.settled ? in_a_row + 1 : 0;
    if (in_a_row >= 2) {
      settled = true;
      return c;
    }
    if (Clock::now() >= until || stop_requested()) {
      settled = false;
      return c;
    }
    std::this_thread::sleep_for(milliseconds(25));
  }
}

RunReport LocalCluster::report(double seconds, std::int64_t head) {
  RunReport r;
  r.scenario = scenario_.name;
  r.seconds = seconds;
  r.head = head;
  std::map<std::string, std::int64_t> owned;
  for (auto& n : nodes_) {
    if (!n->serving()) continue;
    unsigned status = 0;
    const auto text = get(n->name(), "/metrics", status);
    if (auto v = metric(text, "annals_cluster_shards_owned"); status == 200 && v) owned[n->name()] = static_cast<std::int64_t>(*v);
  }
  std::lock_guard<std::mutex> lock(mtx_);
  for (const auto& name : spec_.node_names()) {
    const auto t = tallies_.count(name) ? tallies_.at(name) : Tally{};
    NodeReport nr;
    nr.node = name;
    for (auto& n : nodes_)
      if (n->name() == name) nr.state = n->state_name();
    nr.sent = t.sent;
    nr.accepted = t.accepted;
    nr.rejected = t.rejected;
    nr.failed = t.failed;
    nr.node_unavailable = t.node_unavailable;
    nr.shards = owned.count(name) ? owned.at(name) : -1;
    r.commands.accepted += t.accepted;
    r.commands.rejected += t.rejected;
    r.commands.failed += t.failed;
    r.commands.replays += t.replays;
    r.nodes.push_back(nr);
  }
  r.commands.latency = latency_of(latencies_);
  r.queries = queries_;
  r.query_errors = query_errors_;
  r.query_latency = latency_of(query_latencies_);
  const auto writes = r.commands.accepted + r.commands.rejected + r.commands.failed;
  r.read_write_ratio = writes ? static_cast<double>(r.queries) / static_cast<double>(writes) : 0.0;
  return r;
}

std::string LocalCluster::metrics_text() {
  std::string all;
  for (auto& n : nodes_) {
    if (!n->serving()) continue;
    unsigned status = 0;
    const auto text = get(n->name(), "/metrics", status);
    if (status == 200) all += "# node " + n->name() + "\n" + text;
  }
  return all;
}

} // namespace annals::scenarios::cluster_run
