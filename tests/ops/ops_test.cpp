// The operator's kit in ops/ (docs/operations.md, "Dashboards and alerts"):
// the Prometheus rules pass promtool and their unit tests, the Grafana
// dashboards ask only for what annals exports, and a real Prometheus scraping
// a real `annals serve` evaluates the recording rules and every dashboard
// expression.

#include "closed_port.hpp"
#include "http_client.hpp"
#include "serve_process.hpp"
#include "temp_dir.hpp"
#include "text.hpp"
#include "wait_until.hpp"

#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using annals::test::ServeProcess;
using annals::test::TempDir;
using annals::test::wait_until;
namespace http = boost::beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

const std::string source_dir = ANNALS_SOURCE_DIR;
const std::string prometheus_exe = ANNALS_PROMETHEUS;
const std::string promtool_exe = ANNALS_PROMTOOL;
const std::vector<std::string> rule_files = {source_dir + "/ops/prometheus/annals-recording-rules.yml",
                                             source_dir + "/ops/prometheus/annals-alerts.yml"};
const std::vector<std::string> dashboards = {source_dir + "/ops/grafana/annals-executive.json",
                                             source_dir + "/ops/grafana/annals-on-call.json",
                                             source_dir + "/ops/grafana/annals-debug.json"};

void require_installed(const std::string& exe) {
  if (::access(exe.c_str(), X_OK) != 0)
    FAIL(exe + " is missing: install prometheus (the Debian package has prometheus and promtool; scripts/install-deps.sh)");
}

struct ToolRun {
  int code = -1;
  std::string output;  // stdout and stderr
};

ToolRun run_promtool(const std::vector<std::string>& args) {
  require_installed(promtool_exe);
  std::string command = "'" + promtool_exe + "'";
  for (const auto& a : args) command += " '" + a + "'";
  command += " 2>&1";
  ToolRun run;
  FILE* p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  char buf[4096];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) run.output.append(buf, n);
  const int status = ::pclose(p);
  run.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

/// Every "expr" of a dashboard's panels (targets), depth first.
void collect_exprs(const json::value& v, std::vector<std::string>& out) {
  if (v.is_object()) {
    for (const auto& [key, value] : v.as_object()) {
      if (key == "expr" && value.is_string()) out.emplace_back(value.as_string());
      else collect_exprs(value, out);
    }
  } else if (v.is_array()) {
    for (const auto& e : v.as_array()) collect_exprs(e, out);
  }
}

json::value read_json(const std::string& path) {
  const auto text = annals::test::read_file(path);
  REQUIRE_FALSE(text.empty());
  return json::parse(text);
}

/// Grafana's variables replaced by what they stand for at "All" and the
/// default range, so Prometheus can parse and run the expression.
std::string as_promql(std::string expr) {
  for (const auto& [var, value] : std::vector<std::pair<std::string, std::string>>{
         {"$instance", ".*"}, {"${instance}", ".*"}, {"$__rate_interval", "1m"}, {"$__interval", "1m"}}) {
    for (auto at = expr.find(var); at != std::string::npos; at = expr.find(var)) expr.replace(at, var.size(), value);
  }
  return expr;
}

/// The annals metric and rule names an expression reads (annals_*, annals:*),
/// label values and strings left out.
std::set<std::string> names_in(const std::string& expr) {
  std::string code;  // the expression without its quoted strings
  char quote = 0;
  for (char c : expr) {
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
      code += ' ';
    } else {
      code += c;
    }
  }
  std::set<std::string> names;
  static const std::regex name("annals[_:][a-zA-Z0-9_:]*");
  for (auto it = std::sregex_iterator(code.begin(), code.end(), name); it != std::sregex_iterator(); ++it)
    names.insert(it->str());
  return names;
}

/// `record:` names and `expr:` texts of the rule files (one rule per
/// `- record:`/`- alert:` item, multi-line expressions as written).
struct Rules {
  std::set<std::string> recorded;
  std::vector<std::string> exprs;
};

Rules read_rules() {
  Rules rules;
  static const std::regex record("^\\s*- record:\\s*(\\S+)\\s*$");
  static const std::regex expr_line("^(\\s*)expr:\\s*(.*)$");
  for (const auto& file : rule_files) {
    std::ifstream in(file);
    REQUIRE(in);
    std::string line;
    std::string* block = nullptr;  // the multi-line expression being read
    std::size_t block_indent = 0;
    std::smatch m;
    while (std::getline(in, line)) {
      if (block) {
        const auto first = line.find_first_not_of(' ');
        if (first != std::string::npos && first > block_indent) {
          *block += line + "\n";
          continue;
        }
        block = nullptr;
      }
      if (std::regex_match(line, m, record)) rules.recorded.insert(m[1]);
      else if (std::regex_match(line, m, expr_line)) {
        rules.exprs.push_back(m[2] == "|" ? "" : std::string(m[2]));
        if (m[2] == "|") {
          block = &rules.exprs.back();
          block_indent = static_cast<std::size_t>(m[1].length());
        }
      }
    }
  }
  return rules;
}

/// Metric names in Prometheus' text format (`# TYPE name kind`), with the
/// series names a histogram adds.
std::set<std::string> exported_names(const std::string& metrics_text) {
  std::set<std::string> names;
  static const std::regex type_line("^# TYPE (\\S+) (\\S+)$");
  std::istringstream in(metrics_text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (!std::regex_match(line, m, type_line)) continue;
    names.insert(m[1]);
    if (m[2] == "histogram")
      for (const char* suffix : {"_bucket", "_sum", "_count"}) names.insert(std::string(m[1]) + suffix);
  }
  return names;
}

std::string open_account(const std::string& id) {
  return json::serialize(json::object{{"aggregate", "account"}, {"id", id}, {"command", "open"},
                                      {"data", json::object{{"owner", "Ada"}}}});
}
std::string money(const std::string& command, const std::string& id, int amount) {
  return json::serialize(json::object{{"aggregate", "account"}, {"id", id}, {"command", command},
                                      {"data", json::object{{"amount", amount}}}});
}

/// A short mixed load on `annals serve`: accepted and rejected commands, an
/// idempotent replay, a malformed body, queries that answer and one that fails.
void send_load(std::uint16_t port) {
  annals::test::HttpConnection c(port);
  std::int64_t last = 0;
  for (int i = 1; i <= 4; ++i) {
    const auto id = "acc-" + std::to_string(i);
    REQUIRE(c.request(http::verb::post, "/commands", open_account(id)).status == 201);
    last = c.request(http::verb::post, "/commands", money("deposit", id, 10 * i)).integer("position");
    CHECK(c.request(http::verb::post, "/commands", money("withdraw", id, 1000)).status == 422);  // insufficient funds
  }
  const annals::test::HttpHeaders key{{"Idempotency-Key", "ops-1"}};
  CHECK(c.request(http::verb::post, "/commands", money("deposit", "acc-1", 5), key).status == 200);
  CHECK(c.request(http::verb::post, "/commands", money("deposit", "acc-1", 5), key).json().at("replayed") == true);
  CHECK(c.request(http::verb::post, "/commands", "{not json").status == 400);
  for (int i = 1; i <= 4; ++i)
    CHECK(c.request(http::verb::get, "/queries/balances/balance?id=acc-" + std::to_string(i) + "&min_position="
                                       + std::to_string(last)).status == 200);
  CHECK(c.request(http::verb::get, "/queries/balances/balance?id=nobody").status == 404);
}

std::string metrics_text(std::uint16_t port) {
  annals::test::HttpConnection c(port);
  const auto r = c.request(http::verb::get, "/metrics");
  REQUIRE(r.status == 200);
  return r.body;
}

std::string url_encoded(const std::string& text) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') out += static_cast<char>(c);
    else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

/// /usr/bin/prometheus on a loopback port with its storage in `dir`,
/// scraping `target` every second and evaluating ops/prometheus' rules every
/// second. Killed (its process group) when destroyed, on failure too.
class PrometheusProcess {
public:
  PrometheusProcess(const TempDir& dir, std::uint16_t target) : log_(dir.file("prometheus.log")) {
    require_installed(prometheus_exe);
    const auto config = dir.file("prometheus.yml");
    {
      std::ofstream out(config);
      out << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
          << "rule_files:\n";
      for (const auto& f : rule_files) out << "  - '" << f << "'\n";
      out << "scrape_configs:\n  - job_name: annals\n    static_configs:\n"
          << "      - targets: ['127.0.0.1:" << target << "']\n";
    }
    port_ = static_cast<std::uint16_t>(annals::test::closed_port());
    std::vector<std::string> args{prometheus_exe,
                                  "--config.file=" + config,
                                  "--storage.tsdb.path=" + dir.file("tsdb"),
                                  "--web.listen-address=127.0.0.1:" + std::to_string(port_),
                                  "--log.level=warn"};
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its own group: killing it never reaches ctest's
      const int fd = ::open(log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(prometheus_exe.c_str(), argv.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);
  }
  ~PrometheusProcess() { stop(); }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  void stop() {
    if (pid_ <= 0) return;
    ::kill(-pid_, SIGTERM);
    if (!wait_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, 20s)) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }
  std::string log() const { return annals::test::read_file(log_); }

  /// GET `target` on Prometheus' HTTP API; status 0 if it does not answer (yet).
  annals::test::HttpResponse get(const std::string& target) const {
    try {
      annals::test::HttpConnection c(port_, 10s);
      return c.request(http::verb::get, target);
    } catch (const std::exception&) {
      return {};
    }
  }
  bool ready() const { return get("/-/ready").status == 200; }
  /// /api/v1/query?query=`promql`: the answer's JSON (status, data or error).
  json::value query(const std::string& promql) const {
    const auto r = get("/api/v1/query?query=" + url_encoded(promql));
    if (r.status == 0) return json::object{{"status", "unreachable"}};
    return json::parse(r.body);
  }

private:
  std::string log_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

std::vector<std::string> dashboard_exprs() {
  std::vector<std::string> exprs;
  for (const auto& d : dashboards) collect_exprs(read_json(d), exprs);
  return exprs;
}

} // namespace

TEST_CASE("ops: promtool check rules accepts the recording rules and the alerts of ops/prometheus") {
  std::vector<std::string> args{"check", "rules"};
  args.insert(args.end(), rule_files.begin(), rule_files.end());
  const auto run = run_promtool(args);
  INFO(run.output);
  CHECK(run.code == 0);
  CHECK(annals::test::contains(run.output, "SUCCESS: 11 rules found"));
  CHECK(annals::test::contains(run.output, "SUCCESS: 5 rules found"));
}

TEST_CASE("ops: every alert fires on its synthetic series and stays silent on the near misses (promtool test rules)") {
  const auto run = run_promtool({"test", "rules", source_dir + "/tests/ops/alerts_test.yml"});
  INFO(run.output);
  CHECK(run.code == 0);
  CHECK(annals::test::contains(run.output, "SUCCESS"));
}

TEST_CASE("ops: every alert has severity page or ticket and a runbook section that docs/operations.md has") {
  const auto doc = annals::test::read_file(source_dir + "/docs/operations.md");
  const auto alerts = annals::test::read_file(source_dir + "/ops/prometheus/annals-alerts.yml");
  static const std::regex alert("- alert: (\\S+)");
  int count = 0;
  for (auto it = std::sregex_iterator(alerts.begin(), alerts.end(), alert); it != std::sregex_iterator(); ++it) {
    const std::string name = (*it)[1];
    INFO(name);
    ++count;
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    CHECK(annals::test::contains(alerts, "runbook: \"docs/operations.md#" + lower + "\""));
    // The anchor is the heading "### AnnalsXxx".
    CHECK(annals::test::contains(doc, "\n### " + name + "\n"));
  }
  CHECK(count == 5);
  static const std::regex severity("severity: (\\S+)");
  for (auto it = std::sregex_iterator(alerts.begin(), alerts.end(), severity); it != std::sregex_iterator(); ++it)
    CHECK(((*it)[1] == "page" || (*it)[1] == "ticket"));
}

TEST_CASE("ops: the dashboards' and rules' PromQL parses and names only metrics that annals serve exports or the rules record") {
  TempDir dir;
  ServeProcess serve(dir, {"--domain", "bank", "--store", dir.file("bank.db"), "--port", "0"});
  const auto port = serve.port();
  INFO(serve.err());
  REQUIRE(port != 0);
  send_load(port);
  const auto exported = exported_names(metrics_text(port));
  REQUIRE(exported.count("annals_commands_total") == 1);
  const auto rules = read_rules();
  REQUIRE(rules.recorded.size() == 11);
  REQUIRE(rules.exprs.size() == 16);
  const auto exprs = dashboard_exprs();
  REQUIRE(exprs.size() >= 30);

  // Parsing: each expression as a recording rule, checked by promtool.
  const auto check_file = dir.file("dashboard-exprs.yml");
  {
    std::ofstream out(check_file);
    out << "groups:\n  - name: dashboards\n    rules:\n";
    for (std::size_t i = 0; i < exprs.size(); ++i)
      out << "      - record: dashboard_expr_" << i << "\n        expr: " << json::serialize(json::value(as_promql(exprs[i])))
          << "\n";
  }
  const auto run = run_promtool({"check", "rules", check_file});
  INFO(run.output);
  CHECK(run.code == 0);

  // Names: metrics from the scrape, rule names from ops/prometheus.
  std::vector<std::string> all = exprs;
  all.insert(all.end(), rules.exprs.begin(), rules.exprs.end());
  std::set<std::string> unknown;
  for (const auto& e : all) {
    const auto names = names_in(e);
    for (const auto& n : names)
      if (exported.count(n) == 0 && rules.recorded.count(n) == 0) unknown.insert(n);
  }
  for (const auto& n : unknown) UNSCOPED_INFO("not exported by annals serve nor recorded by a rule: " << n);
  CHECK(unknown.empty());
  // Every dashboard has the node variable, and its options come from an exported metric.
  for (const auto& d : dashboards) {
    INFO(d);
    const auto doc = read_json(d);
    bool has_instance = false;
    for (const auto& v : doc.at("templating").at("list").as_array()) {
      if (v.at("name") != "instance") continue;
      has_instance = true;
      const std::string definition(v.at("definition").as_string());
      for (const auto& n : names_in(definition)) CHECK(exported.count(n) == 1);
    }
    CHECK(has_instance);
  }
  CHECK(serve.stop() == 0);
}

TEST_CASE("ops: a real Prometheus scraping annals serve under load evaluates every recording rule, and every dashboard expression runs") {
  TempDir dir;
  ServeProcess serve(dir, {"--domain", "bank", "--store", dir.file("bank.db"), "--port", "0"});
  const auto port = serve.port();
  INFO(serve.err());
  REQUIRE(port != 0);
  PrometheusProcess prometheus(dir, port);
  const bool ready = wait_until([&] { return prometheus.ready(); }, 60s, 50ms);
  INFO(prometheus.log());
  REQUIRE(ready);
  // Scraped once before the load: annals registers its series at 0, so the
  // load's counts are increases Prometheus can rate.
  json::value up;
  const bool scraped = wait_until([&] {
    up = prometheus.query("up{job=\"annals\"} == 1");
    return up.at("status") == "success" && !up.at("data").at("result").as_array().empty();
  }, 60s, 100ms);
  INFO(json::serialize(up));
  REQUIRE(scraped);
  send_load(port);

  const auto rules = read_rules();
  for (const auto& name : rules.recorded) {
    INFO(name);
    json::value last;
    // A rate needs a scrape after the load; the rules are evaluated every second.
    const bool has_value = wait_until([&] {
      last = prometheus.query(name);
      if (last.at("status") != "success") return false;
      for (const auto& sample : last.at("data").at("result").as_array())
        if (sample.at("value").at(1) != "NaN") return true;  // NaN: a ratio of rates still 0
      return false;
    }, 60s, 200ms);
    INFO(json::serialize(last));
    CHECK(has_value);
  }
  // What the load did, as the rules see it: no failed command, more reads than nothing.
  const auto success = prometheus.query("annals:command_success:ratio_rate5m{aggregate=\"account\"}");
  INFO(json::serialize(success));
  REQUIRE(success.at("data").at("result").as_array().size() == 1);
  CHECK(success.at("data").at("result").at(0).at("value").at(1) == "1");
  const auto errors = prometheus.query("annals:command_errors:ratio_rate5m");
  INFO(json::serialize(errors));
  REQUIRE(errors.at("data").at("result").as_array().size() == 1);
  CHECK(errors.at("data").at("result").at(0).at("value").at(1) == "0");
  const auto replays = prometheus.query("annals:idempotent_replays:rate5m{aggregate=\"account\"} > 0");
  INFO(json::serialize(replays));
  CHECK(replays.at("data").at("result").as_array().size() == 1);
  const auto read_write = prometheus.query("annals:read_write:ratio_rate5m > 0");
  CHECK(read_write.at("data").at("result").as_array().size() == 1);

  // Every dashboard expression runs, and the rules loaded are healthy with no alert firing.
  for (const auto& e : dashboard_exprs()) {
    INFO(e);
    const auto answer = prometheus.query(as_promql(e));
    INFO(json::serialize(answer));
    CHECK(answer.at("status") == "success");
  }
  const auto loaded = json::parse(prometheus.get("/api/v1/rules").body);
  int rule_count = 0;
  for (const auto& group : loaded.at("data").at("groups").as_array()) {
    for (const auto& rule : group.at("rules").as_array()) {
      INFO(json::serialize(rule));
      ++rule_count;
      CHECK(rule.at("health") == "ok");
      if (rule.at("type") == "alerting") CHECK(rule.at("state") == "inactive");
    }
  }
  CHECK(rule_count == 16);

  prometheus.stop();
  CHECK(serve.stop() == 0);
}
