#include "annals/scenarios/scenario_parser.hpp"

#include "scenario_fields.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

namespace annals::scenarios {

namespace {

std::string describe(const std::string& file, std::size_t step, const std::string& kind, const std::string& reason) {
  std::string where = file;
  if (step > 0) where += ": step " + std::to_string(step) + (kind.empty() ? "" : " (" + kind + ")");
  return where + ": " + reason;
}

using detail::Fields;

CountExpectation parse_count(Fields& f, const json::value& v, const std::string& what) {
  CountExpectation c;
  if (v.is_object()) {
    Fields n = f.nested(what, v.as_object());
    c.exactly = n.optional_integer("exactly", 0, INT64_MAX);
    c.at_least = n.optional_integer("at_least", 0, INT64_MAX);
    c.at_most = n.optional_integer("at_most", 0, INT64_MAX);
    n.done();
    if (!c.exactly && !c.at_least && !c.at_most) f.fail("'" + what + "' needs exactly, at_least or at_most");
  } else {
    c.exactly = f.as_integer(v, "'" + what + "'", 0, INT64_MAX);
  }
  return c;
}

std::optional<CountExpectation> optional_count(Fields& f, const std::string& key) {
  auto v = f.any(key);
  if (!v) return std::nullopt;
  return parse_count(f, *v, key);
}

CommandExpectation parse_command_expectation(Fields& f) {
  CommandExpectation e;
  const auto* v = f.find("expect");
  if (!v) return e;
  static const std::vector<std::string> statuses{"accepted", "rejected", "failed"};
  auto check_status = [&](const std::string& s) {
    if (std::find(statuses.begin(), statuses.end(), s) == statuses.end())
      f.fail("'expect' status must be accepted, rejected or failed, not '" + s + "'");
  };
  if (v->is_string()) {
    // "accepted", "rejected", "rejected:insufficient_funds"
    std::string s(v->as_string());
    auto colon = s.find(':');
    e.status = s.substr(0, colon);
    check_status(e.status);
    if (colon != std::string::npos) {
      e.code = s.substr(colon + 1);
      if (e.code->empty()) f.fail("'expect' has an empty code after ':'");
    }
  } else if (v->is_object()) {
    Fields x = f.nested("expect", v->as_object());
    e.status = x.choice("status", statuses, std::string("accepted"));
    e.code = x.optional_string("code");
    if (const auto* ev = x.find("events")) {
      if (!ev->is_array()) x.fail("'expect.events' must be an array of event types, not " + std::string(json_kind(*ev)));
      std::vector<std::string> types;
      for (const auto& t : ev->as_array()) {
        if (!t.is_string()) x.fail("'expect.events' must hold strings (event types)");
        types.emplace_back(t.as_string());
      }
      e.events = std::move(types);
    }
    x.done();
  } else {
    f.fail("'expect' must be a string (\"accepted\", \"rejected:CODE\") or an object, not " + std::string(json_kind(*v)));
  }
  if (e.status == "accepted" && e.code) f.fail("'expect': an accepted command has no error code");
  return e;
}

using Cluster = std::optional<ClusterSpec>;

// A node's name in a cluster scenario: one of n1..nN.
std::string node_name(Fields& f, const Cluster& cluster, const json::value& v, const std::string& what) {
  if (!v.is_string()) f.fail(what + " must be a node's name (a string such as \"n2\"), not " + std::string(json_kind(v)));
  const std::string name(v.as_string());
  const auto names = cluster->node_names();
  if (std::find(names.begin(), names.end(), name) == names.end())
    f.fail(what + " names no node of this cluster: '" + name + "' (its nodes: " + Fields::join(names) + ")");
  return name;
}

// `"node"` of a command or query: only in a cluster scenario (default n1).
std::string optional_node(Fields& f, const Cluster& cluster) {
  const auto* v = f.find("node");
  if (!v) return "n1";
  if (!cluster) f.fail("'node' applies only to a cluster scenario (one with a \"cluster\" section); remove it");
  return node_name(f, cluster, *v, "'node'");
}

CommandStep parse_command(Fields& f, const Cluster& cluster) {
  CommandStep s;
  s.node = optional_node(f, cluster);
  s.aggregate = f.string("aggregate");
  s.id = f.string("id");
  s.command = f.string("command");
  s.data = f.object("data");
  s.idempotency_key = f.optional_string("idempotency_key");
  s.expected_version = f.optional_integer("expected_version", 0, INT64_MAX);
  s.principal = f.string("principal", std::string(), true);
  s.repeat = static_cast<int>(f.integer("repeat", 1, 10000, 1));
  s.expect = parse_command_expectation(f);
  return s;
}

// A template value inside load data: strings with {i} / {n}, {"random": [lo, hi]}.
void check_template(Fields& f, const json::value& v, const std::string& where) {
  if (v.is_object()) {
    const auto& o = v.as_object();
    if (o.contains("random")) {
      const auto& r = o.at("random");
      if (o.size() != 1 || !r.is_array() || r.as_array().size() != 2 || !r.as_array()[0].is_int64() ||
          !r.as_array()[1].is_int64() || r.as_array()[0].as_int64() > r.as_array()[1].as_int64())
        f.fail(where + ": {\"random\": [lo, hi]} needs two integers with lo <= hi");
      return;
    }
    for (const auto& kv : o) check_template(f, kv.value(), where + "." + std::string(kv.key()));
  } else if (v.is_array()) {
    for (const auto& x : v.as_array()) check_template(f, x, where + "[]");
  }
}

LoadCommand parse_load_command(Fields& f, const json::value& v, const std::string& where) {
  if (!v.is_object()) f.fail("'" + where + "' must be an object {command, data, weight}, not " + json_kind(v));
  Fields c = f.nested(where, v.as_object());
  LoadCommand lc;
  lc.command = c.string("command");
  lc.data = c.object("data");
  lc.weight = static_cast<int>(c.integer("weight", 1, 1000000, 1));
  c.done();
  check_template(f, lc.data, "'" + where + ".data'");
  return lc;
}

LoadStep parse_load(Fields& f, const Cluster& cluster) {
  LoadStep s;
  const auto* one = f.find("node");
  const auto* many = f.find("nodes");
  if ((one || many) && !cluster)
    f.fail(std::string(one ? "'node'" : "'nodes'") + " applies only to a cluster scenario (one with a \"cluster\" section); remove it");
  if (one && many) f.fail("give 'node' or 'nodes', not both");
  if (one) s.nodes = {node_name(f, cluster, *one, "'node'")};
  if (many) {
    if (many->is_string() && many->as_string() == "all") s.nodes = cluster->node_names();
    else if (!many->is_array() || many->as_array().empty())
      f.fail("'nodes' must be \"all\" or an array of node names such as [\"n1\", \"n2\"]");
    else {
      s.nodes.clear();
      for (const auto& n : many->as_array()) s.nodes.push_back(node_name(f, cluster, n, "'nodes[]'"));
    }
  }
  s.aggregate = f.string("aggregate");
  s.id = f.string("id", s.aggregate + "-{i}");
  s.aggregates = static_cast<int>(f.integer("aggregates", 1, 1000000));
  if (s.aggregates > 1 && s.id.find("{i}") == std::string::npos)
    f.fail("'id' must contain {i} (the aggregate's number) when there are several aggregates, e.g. \"acc-{i}\"");
  s.commands = static_cast<int>(f.integer("commands", 0, 10000000));
  s.concurrency = static_cast<int>(f.integer("concurrency", 1, 1024, 1));
  s.seed = f.unsigned_integer("seed", 1);
  s.pick = f.choice("pick", {"random", "round_robin"}, std::string("random"));
  if (const auto* v = f.find("setup")) s.setup = parse_load_command(f, *v, "setup");
  if (const auto* v = f.find("mix")) {
    if (!v->is_array()) f.fail("'mix' must be an array of {command, data, weight}, not " + std::string(json_kind(*v)));
    std::size_t i = 0;
    for (const auto& c : v->as_array()) s.mix.push_back(parse_load_command(f, c, "mix[" + std::to_string(i++) + "]"));
  }
  if (s.commands > 0 && s.mix.empty()) f.fail("'mix' is needed: which commands to send");
  s.retry_fraction = f.number("retry_fraction", 0.0, 1.0, 0.0);
  s.idempotency_keys = f.boolean("idempotency_keys", true);
  auto expect = f.object("expect");
  Fields e = f.nested("expect", expect);
  s.accepted = optional_count(e, "accepted");
  s.rejected = optional_count(e, "rejected");
  s.failed = optional_count(e, "failed");
  s.replayed = optional_count(e, "replayed");
  e.done();
  return s;
}

QueryStep parse_query(Fields& f, const Cluster& cluster) {
  QueryStep s;
  s.node = optional_node(f, cluster);
  s.projection = f.string("projection");
  s.query = f.string("query");
  s.args = f.object("args");
  s.read_your_writes = f.boolean("read_your_writes", false);
  s.min_position = f.integer("min_position", 0, INT64_MAX, 0);
  s.timeout = f.optional_millis("timeout_ms", 1);
  s.expect = f.any("expect");
  s.equals = f.any("equals");
  if (const auto* v = f.find("that")) {
    if (!v->is_array()) f.fail("'that' must be an array of {path, op, value}");
    std::size_t i = 0;
    for (const auto& p : v->as_array()) {
      std::string where = "that[" + std::to_string(i++) + "]";
      if (!p.is_object()) f.fail("'" + where + "' must be an object {path, op, value}");
      Fields pf = f.nested(where, p.as_object());
      Predicate pr;
      pr.path = pf.string("path", std::string(), true);
      if (!pr.path.empty() && pr.path[0] != '/') pf.fail("'" + where + ".path' must be a JSON pointer like \"/balance\"");
      pr.op = pf.choice("op", {"==", "!=", "<", "<=", ">", ">=", "exists", "missing"});
      auto value = pf.any("value");
      if (pr.op != "exists" && pr.op != "missing") {
        if (!value) pf.fail("'" + where + "' needs a 'value' for op " + pr.op);
        if ((pr.op != "==" && pr.op != "!=") && !value->is_number())
          pf.fail("'" + where + ".value' must be a number for op " + pr.op);
        pr.value = *value;
      }
      pf.done();
      s.that.push_back(std::move(pr));
    }
  }
  s.expect_error = f.optional_string("expect_error");
  if (s.expect_error && (s.expect || s.equals || !s.that.empty()))
    f.fail("'expect_error' cannot be combined with expectations on a result");
  return s;
}

WaitStep parse_wait(Fields& f, const Cluster& cluster) {
  WaitStep s;
  if (cluster) {
    // The projections run inside the node processes: only the cluster's own condition.
    const auto* c = f.find("condition");
    if (c && c->is_string() && c->as_string() != "shards_settled")
      f.fail("'condition' must be shards_settled in a cluster scenario (its projections run inside the nodes), not '"
             + std::string(c->as_string()) + "'");
    s.condition = f.choice("condition", {"shards_settled"}, std::string("shards_settled"));
    s.timeout = f.millis("timeout_ms", std::chrono::milliseconds(30000));
    return s;
  }
  s.projection = f.string("projection", std::string("*"));
  const auto* c = f.find("condition");
  if (c && c->is_string() && c->as_string() == "shards_settled")
    f.fail("'condition' shards_settled needs a cluster scenario (a \"cluster\" section, docs/scenarios.md)");
  s.condition = f.choice("condition", {"caught_up", "running", "restarted", "parked"}, std::string("caught_up"));
  s.count = f.integer("count", 0, INT64_MAX, 1);
  s.timeout = f.millis("timeout_ms", std::chrono::milliseconds(10000));
  return s;
}

InjectStep parse_inject(Fields& f) {
  InjectStep s;
  s.fault = f.choice("fault", {"crash_projector", "fail_projector", "delay_projector", "clear_faults", "restart_runtime"});
  if (s.fault != "restart_runtime") s.projection = f.string("projection");
  if (s.fault == "fail_projector") {
    Fields m = f.nested("match", f.object("match"));
    s.match.aggregate = m.string("aggregate", std::string(), true);
    s.match.event_type = m.string("type", std::string(), true);
    s.match.id = m.string("id", std::string(), true);
    m.done();
    s.times = static_cast<int>(f.integer("times", 1, 1000, 1));
  }
  if (s.fault == "delay_projector") s.delay = f.millis("delay_ms", std::chrono::milliseconds(0), 60000);
  if (s.fault == "crash_projector") s.wait = f.boolean("wait", true);
  return s;
}

DeadLettersStep parse_dead_letters(Fields& f) {
  DeadLettersStep s;
  s.projection = f.string("projection");
  s.count = optional_count(f, "count");
  s.retry = f.boolean("retry", false);
  if (s.retry) s.expect_retry = f.choice("expect_retry", {"ok", "fails"}, std::string("ok"));
  return s;
}

InspectStep parse_inspect(Fields& f) {
  InspectStep s;
  s.aggregate = f.string("aggregate");
  s.id = f.string("id");
  s.version = f.optional_integer("version", 0, INT64_MAX);
  s.state = f.any("state");
  return s;
}

StreamStep parse_stream(Fields& f) {
  StreamStep s;
  s.aggregate = f.string("aggregate");
  s.id = f.string("id");
  s.version = f.optional_integer("version", 0, INT64_MAX);
  s.types = f.object("types");
  for (const auto& kv : s.types) f.as_integer(kv.value(), "'types." + std::string(kv.key()) + "'", 0, INT64_MAX);
  return s;
}

// Letters, digits, '-', '_' and '.'; anything else becomes '-' (no '..' either).
std::string safe_name(std::string s) {
  if (s.empty()) return "scenario";
  for (auto& c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) c = '-';
  if (s.find("..") != std::string::npos || s.front() == '.') s = "scenario-" + s;
  for (std::size_t at = s.find(".."); at != std::string::npos; at = s.find("..")) s.replace(at, 2, "-");
  return s;
}

// The steps that work on the nodes of a cluster, and those that need the
// runner's own in-process runtime (not there when the nodes are processes).
const std::vector<std::string>& node_step_kinds() {
  static const std::vector<std::string> kinds{"kill_node", "pause_node", "resume_node", "restart_node", "stop_node"};
  return kinds;
}
bool needs_runtime(const std::string& kind) {
  for (const char* k : {"inject", "reconcile", "rebuild", "dead_letters", "inspect", "stream"})
    if (kind == k) return true;
  return false;
}

Step parse_step(const json::value& v, const std::string& file, std::size_t number, const Cluster& cluster) {
  if (!v.is_object()) throw ScenarioError(file, number, "", std::string("a step must be an object, not ") + json_kind(v));
  const auto& obj = v.as_object();
  Fields f(obj, file, number, "");
  Step step;
  step.number = number;
  step.kind = f.choice("step", step_kinds());
  Fields g(obj, file, number, step.kind);  // errors from here on name the kind
  g.find("step");
  step.note = g.string("note", std::string(), true);
  const auto& k = step.kind;
  const auto& node_kinds = node_step_kinds();
  const bool node_step = std::find(node_kinds.begin(), node_kinds.end(), k) != node_kinds.end();
  if (node_step && !cluster)
    g.fail("'" + k + "' needs a cluster scenario: add a \"cluster\" section (docs/scenarios.md, \"Clusters\")");
  if (cluster && needs_runtime(k))
    g.fail("'" + k + "' needs the runner's in-process runtime, which a cluster scenario does not have (its nodes are "
           "separate processes); use command, load, query, wait_until, the *_node steps, report or sleep");
  if (node_step) {
    NodeStep n;
    n.action = k.substr(0, k.find('_'));
    n.node = node_name(g, cluster, g.require("node"), "'node'");
    step.body = n;
  } else if (k == "command") step.body = parse_command(g, cluster);
  else if (k == "load") step.body = parse_load(g, cluster);
  else if (k == "query") step.body = parse_query(g, cluster);
  else if (k == "wait_until") step.body = parse_wait(g, cluster);
  else if (k == "inject") step.body = parse_inject(g);
  else if (k == "reconcile") {
    ReconcileStep s;
    s.projection = g.string("projection");
    const auto expect = g.choice("expect", {"equal", "different", "equal_except_parked"}, std::string("equal"));
    s.expect_equal = expect != "different";
    s.except_parked = expect == "equal_except_parked";
    step.body = s;
  } else if (k == "rebuild") step.body = RebuildStep{g.string("projection")};
  else if (k == "dead_letters") step.body = parse_dead_letters(g);
  else if (k == "inspect") step.body = parse_inspect(g);
  else if (k == "stream") step.body = parse_stream(g);
  else if (k == "report") step.body = ReportStep{};
  else if (k == "sleep") step.body = SleepStep{g.millis("ms", std::chrono::milliseconds(0), 600000)};
  g.done();
  return step;
}

} // namespace

ScenarioError::ScenarioError(std::string file, std::size_t step, std::string step_kind, std::string reason)
    : std::runtime_error(describe(file, step, step_kind, reason)), file_(std::move(file)), step_(step),
      reason_(std::move(reason)) {}

const std::vector<std::string>& step_kinds() {
  static const std::vector<std::string> kinds{"command",    "load",         "query",       "wait_until",   "inject",
                                              "reconcile",  "rebuild",      "dead_letters", "inspect",     "stream",
                                              "report",     "sleep",        "kill_node",   "pause_node",   "resume_node",
                                              "restart_node", "stop_node"};
  return kinds;
}

Scenario parse_scenario(std::string_view text, const std::string& file) {
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos)
    throw ScenarioError(file, 0, "", "empty file: a scenario is a JSON object with \"name\" and \"steps\" (docs/scenarios.md)");
  boost::system::error_code ec;
  json::parse_options po;
  po.allow_comments = true;  // scenarios are hand-written and explained
  po.allow_trailing_commas = true;
  auto doc = json::parse(text, ec, {}, po);
  if (ec) {
    // Find the line of the error for the message: boost::json stops at the offending byte.
    json::stream_parser p({}, po);
    std::size_t consumed = p.write_some(text.data(), text.size(), ec);
    std::size_t line = 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(std::min(consumed, text.size())), '\n'));
    throw ScenarioError(file, 0, "", "not valid JSON (line " + std::to_string(line) + "): " + ec.message());
  }
  if (!doc.is_object()) throw ScenarioError(file, 0, "", std::string("a scenario must be a JSON object, not ") + json_kind(doc));
  const auto& obj = doc.as_object();
  Fields f(obj, file, 0, "");
  Scenario s;
  s.file = file;
  std::string stem = std::filesystem::path(file).stem().string();
  s.name = f.string("name", safe_name(stem.empty() || file == "<scenario>" ? std::string("scenario") : stem));
  if (s.name != safe_name(s.name))
    f.fail("'name' may hold only letters, digits, '-', '_' and '.' (it names the default store file), not '" + s.name + "'");
  s.description = f.string("description", std::string(), true);
  if (const auto* d = f.find("domain")) {
    if (!d->is_string() || d->as_string().empty()) f.fail("'domain' must be a domain name (a string)");
    s.domains.emplace_back(d->as_string());
  }
  if (const auto* d = f.find("domains")) {
    if (!d->is_array()) f.fail("'domains' must be an array of domain names");
    for (const auto& x : d->as_array()) {
      if (!x.is_string() || x.as_string().empty()) f.fail("'domains' must hold domain names (strings)");
      s.domains.emplace_back(x.as_string());
    }
  }
  if (const auto* c = f.find("cluster")) {
    if (!c->is_object()) f.fail(std::string("'cluster' must be an object {nodes, shards, lease_ttl_ms, tls, domains}, not ") + json_kind(*c));
    Fields cf = f.nested("cluster", c->as_object());
    ClusterSpec spec;
    spec.nodes = static_cast<int>(cf.integer("nodes", 1, 16, 3));
    spec.shards = static_cast<int>(cf.integer("shards", 1, 100000, 16));
    if (spec.shards < spec.nodes)
      cf.fail("'cluster.shards' (" + std::to_string(spec.shards) + ") must be at least 'cluster.nodes' ("
              + std::to_string(spec.nodes) + "): every node holds a shard once the cluster has settled");
    // The nodes check their own bounds (a lease of at least 300 ms): their refusal ends the run.
    spec.lease_ttl = cf.millis("lease_ttl_ms", std::chrono::milliseconds(3000), 600000);
    spec.tls = cf.boolean("tls", false);
    spec.heartbeat = cf.optional_millis("heartbeat_ms", 1);
    spec.member_timeout = cf.optional_millis("member_timeout_ms", 1);
    spec.connection_timeout = cf.optional_millis("connection_timeout_ms", 1);
    spec.request_timeout = cf.optional_millis("request_timeout_ms", 1);
    spec.start_timeout = cf.millis("start_timeout_ms", std::chrono::milliseconds(60000));
    if (const auto* d = cf.find("domains")) {
      if (!d->is_array() || d->as_array().empty()) cf.fail("'cluster.domains' must be an array of domain names");
      std::vector<std::string> domains;
      for (const auto& x : d->as_array()) {
        if (!x.is_string() || x.as_string().empty()) cf.fail("'cluster.domains' must hold domain names (strings)");
        domains.emplace_back(x.as_string());
      }
      if (!s.domains.empty() && domains != s.domains)
        cf.fail("'cluster.domains' differs from the scenario's 'domain'/'domains': give one of them");
      s.domains = std::move(domains);
    }
    cf.done();
    s.cluster = spec;
    if (f.find("settings"))
      f.fail("'settings' tune the runner's in-process runtime, which a cluster scenario does not have; the "
             "\"cluster\" section holds the nodes' settings");
  }
  if (s.domains.empty()) f.fail("missing field 'domain' (or 'domains'): which aggregates and projections to run");
  Fields st = f.nested("settings", f.object("settings"));
  if (auto n = st.optional_integer("max_attempts", 1, 1000)) s.settings.max_attempts = static_cast<int>(*n);
  s.settings.initial_backoff = st.optional_millis("initial_backoff_ms", 1);
  s.settings.max_backoff = st.optional_millis("max_backoff_ms", 1);
  s.settings.query_timeout = st.optional_millis("query_timeout_ms", 1);
  s.settings.command_timeout = st.optional_millis("command_timeout_ms", 1);
  if (auto n = st.optional_integer("bus_window", 1, 100000)) s.settings.bus_window = static_cast<std::size_t>(*n);
  if (auto n = st.optional_integer("catch_up_batch", 1, 100000)) s.settings.catch_up_batch = static_cast<std::size_t>(*n);
  st.done();
  const auto& steps = f.require("steps");
  if (!steps.is_array()) f.fail(std::string("'steps' must be an array, not ") + json_kind(steps));
  if (steps.as_array().empty()) f.fail("'steps' is empty: nothing to run");
  f.done();
  std::size_t n = 0;
  for (const auto& v : steps.as_array()) s.steps.push_back(parse_step(v, file, ++n, s.cluster));
  return s;
}

Scenario load_scenario(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw ScenarioError(path, 0, "", "is a directory, not a scenario file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ScenarioError(path, 0, "", "cannot be read (no such file, or no permission)");
  std::ostringstream text;
  text << in.rdbuf();
  if (text.str().size() > 16 * 1024 * 1024) throw ScenarioError(path, 0, "", "is larger than 16 MiB: not a scenario");
  return parse_scenario(text.str(), path);
}

std::vector<std::string> ClusterSpec::node_names() const {
  std::vector<std::string> names;
  for (int i = 1; i <= nodes; ++i) names.push_back("n" + std::to_string(i));
  return names;
}

std::string CountExpectation::check(std::int64_t n) const {
  if (exactly && n != *exactly) return "exactly " + std::to_string(*exactly);
  if (at_least && n < *at_least) return "at least " + std::to_string(*at_least);
  if (at_most && n > *at_most) return "at most " + std::to_string(*at_most);
  return {};
}

} // namespace annals::scenarios
