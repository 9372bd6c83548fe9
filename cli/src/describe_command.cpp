#include "describe_command.hpp"

#include "annals/http/discovery.hpp"
#include "annals/persistence/memory_event_store.hpp"
#include "annals/runtime.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <iomanip>

namespace annals::cli {

namespace {

// One domain as JSON: what `describe --json` prints, and what the text is made from.
json::object describe_domain(const scenarios::Domain& domain) {
  RuntimeOptions o;
  o.store = memory_store();
  o.audit = false;
  o.log.level = LogLevel::off;
  Runtime rt(std::move(o));
  domain.install(rt);
  auto types = http::describe_types(rt);
  return json::object{{"name", domain.name},
                      {"description", domain.description},
                      {"aggregates", std::move(types["aggregates"])},
                      {"projections", std::move(types["projections"])}};
}

json::array runtime_codes() {
  json::array codes;
  for (auto c : errc::all()) codes.push_back(json::value(std::string(c)));
  return codes;
}

// "  name   text" rows with the names padded to one width.
void rows(std::ostream& out, const std::string& indent, const std::vector<std::pair<std::string, std::string>>& r) {
  std::size_t width = 0;
  for (const auto& [name, text] : r) width = std::max(width, name.size());
  for (const auto& [name, text] : r) out << indent << std::left << std::setw(static_cast<int>(width) + 2) << name << text << "\n";
}

void print_text(std::ostream& out, const json::object& d) {
  out << "domain " << d.at("name").as_string().c_str() << ": " << d.at("description").as_string().c_str() << "\n";
  for (const auto& av : d.at("aggregates").as_array()) {
    const auto& a = av.as_object();
    out << "\n  aggregate " << a.at("name").as_string().c_str() << "\n";
    std::vector<std::pair<std::string, std::string>> r;
    for (const auto& kv : a.at("commands").as_object()) r.emplace_back(kv.key(), shape_text(kv.value()));
    out << "    commands (name, data):\n";
    rows(out, "      ", r);
    r.clear();
    for (const auto& kv : a.at("events").as_object()) r.emplace_back(kv.key(), shape_text(kv.value()));
    out << "    events (type, data):\n";
    rows(out, "      ", r);
    r.clear();
    for (const auto& kv : a.at("rejections").as_object()) r.emplace_back(kv.key(), kv.value().as_string().c_str());
    out << "    rejection codes:" << (r.empty() ? " none declared\n" : "\n");
    rows(out, "      ", r);
  }
  for (const auto& pv : d.at("projections").as_array()) {
    const auto& p = pv.as_object();
    out << "\n  projection " << p.at("name").as_string().c_str() << "\n    follows:";
    for (const auto& e : p.at("follows").as_array()) out << " " << e.as_string().c_str();
    out << "\n    queries (name, args -> answer):\n";
    std::vector<std::pair<std::string, std::string>> r;
    for (const auto& kv : p.at("queries").as_object())
      r.emplace_back(kv.key(), shape_text(kv.value().at("args")) + " -> " + shape_text(kv.value().at("answer")));
    rows(out, "      ", r);
  }
}

} // namespace

void add_describe_command(CLI::App& app, Context& ctx) {
  struct Args {
    std::vector<std::string> domains;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  auto* sub = app.add_subcommand("describe", "Reference of each domain: commands, events, rejection codes, "
                                             "projections and their queries (from the registered types)");
  sub->add_option("--domain", a->domains, "domain(s) to describe (default: every domain of the catalog)");
  sub->add_flag("--json", a->json, "one JSON document instead of text");
  sub->callback([&ctx, a] {
    if (auto problem = ctx.catalog.unknown(a->domains); !problem.empty()) {
      ctx.fail(exit_usage, problem);
      return;
    }
    json::array domains;
    for (const auto& d : ctx.catalog.domains())
      if (a->domains.empty() || std::count(a->domains.begin(), a->domains.end(), d.name))
        domains.push_back(describe_domain(d));
    if (a->json) {
      ctx.out << json::serialize(json::object{{"domains", std::move(domains)}, {"runtime_codes", runtime_codes()}})
              << "\n";
      return;
    }
    for (std::size_t i = 0; i < domains.size(); ++i) {
      if (i) ctx.out << "\n";
      print_text(ctx.out, domains[i].as_object());
    }
    ctx.out << "\nShapes: {field: type}; field? may be left out; [T] is an array of T; {*: T} an object of T by any "
               "key; any is any JSON.\nBesides the rejection codes above, a command or query can fail with the "
               "runtime's codes:";
    for (auto c : errc::all()) ctx.out << " " << c;
    ctx.out << " (docs/http-service.md).\n";
  });
}

} // namespace annals::cli
