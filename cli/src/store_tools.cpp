// The store tools: events, streams, projections, dead-letters, rebuild,
// reconcile (docs/cli.md), and what they share.
#include "store_tools.hpp"

#include "annals/persistence/memory_event_store.hpp"
#include "annals/persistence/postgres_event_store.hpp"
#include "annals/persistence/sqlite_event_store.hpp"
#include "annals/persistence/store_error.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <filesystem>
#include <mutex>
#include <system_error>
#include <thread>

namespace annals::cli {

void add_store_tools(CLI::App& app, Context& ctx) {
  add_event_tools(app, ctx);
  add_projection_tools(app, ctx);
}

namespace tools {

void run_tool(Context& ctx, const std::function<int()>& body) {
  try {
    ctx.exit_code = body();
  } catch (const ToolError& e) {
    ctx.fail(e.code(), e.what());
  } catch (const StoreError& e) {
    ctx.fail(exit_store, e.what());
  } catch (const std::exception& e) {
    ctx.fail(exit_failed, e.what());
  }
}

namespace {

void check_domains(const Context& ctx, const StoreSelection& sel) {
  if (auto problem = ctx.catalog.unknown(sel.domains); !problem.empty()) throw ToolError(exit_usage, problem);
}

// Display width of UTF-8 text: code points, not bytes.
std::size_t text_width(const std::string& s) {
  std::size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xC0) != 0x80) ++n;
  return n;
}

} // namespace

std::shared_ptr<EventStoreProvider> open_store(const Context& ctx, const StoreSelection& sel, Access access) {
  check_domains(ctx, sel);
  if (sel.memory) return memory_store();
  if (sel.postgres()) {
    // A database without annals' schema, or with an older one, is refused
    // (exit 3): only `annals run` or a runtime initialises or migrates it.
    PostgresStoreOptions o;
    o.url = sel.path;
    o.initialize = false;
    o.read_only = access == Access::read_only;
    auto provider = postgres_store(o);
    provider->connect();  // reachable, an annals store: said now, with the reason
    return provider;
  }
  namespace fs = std::filesystem;
  std::error_code ec;
  const auto status = fs::status(sel.path, ec);
  if (!fs::exists(status))
    throw ToolError(exit_store, "no store at '" + sel.path + "' (the store tools never create one; `annals run` does)");
  if (fs::is_directory(status)) throw ToolError(exit_store, "'" + sel.path + "' is a directory, not a store file");
  // Identify the file over a read-only connection first: a tool that writes
  // must not initialize an empty file or migrate an older store either.
  SqliteStoreOptions probe;
  probe.path = sel.path;
  probe.read_only = true;
  // A read-only connection reads a store of the previous schema version as
  // it is (it only lacks the record of its users); a read-write one would
  // migrate it.
  if (!open_sqlite_store(probe)->recorded_users() && access == Access::read_write)
    throw ToolError(exit_store, "database '" + sel.path + "' has an older schema than this build writes (version "
                                  + std::to_string(sqlite_schema_version())
                                  + "), and the store tools never migrate a store: open it once for writing with "
                                    "a service or runtime of this build, then try again");
  SqliteStoreOptions o;
  o.path = sel.path;
  // A store we cannot write opens read-only for a tool that writes too:
  // SQLite's own fallback would leave -wal and -shm files behind, and the
  // write the tool needs fails with the reason either way.
  o.read_only = access == Access::read_only || !unwritable(sel).empty();
  return sqlite_store(o);
}

std::string unwritable(const StoreSelection& sel) {
  return sel.memory || sel.postgres() ? std::string() : sqlite_unwritable_reason(sel.path);
}

StoreLock own_store(const Context& ctx, const StoreSelection& sel) {
  open_store(ctx, sel, Access::read_only);  // exists, is an annals store: nothing created before that
  // The ownership lock is a file beside an SQLite store; a PostgreSQL store
  // has none yet (docs/store.md).
  if (sel.memory || sel.postgres() || !unwritable(sel).empty()) return {};
  return StoreLock::acquire(sel.path, StoreLockMode::exclusive);
}

// An integer >= min, with a message that says so (CLI11's ranges print doubles).
CLI::Validator at_least(std::int64_t min) {
  return CLI::Validator(
    [min](std::string& s) -> std::string {
      std::size_t used = 0;
      long long v = 0;
      try {
        v = std::stoll(s, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s.size() || s.empty() || v < min)
        return "expected an integer >= " + std::to_string(min) + ", got '" + s + "'";
      return {};
    },
    "");
}

void add_log_level_option(CLI::App& sub, std::string& level) {
  level = "warn";
  sub.add_option("--log-level", level,
                 "runtime log records at this level and above go to stderr (projector crashes are warn, "
                 "parked events error)")
    ->check(CLI::IsMember({"debug", "info", "warn", "error", "off"}))
    ->type_name("LEVEL")
    ->capture_default_str();
}

std::vector<DomainContents> catalog_contents(const Context& ctx) {
  std::vector<DomainContents> out;
  for (const auto& d : ctx.catalog.domains()) {
    RuntimeOptions o;
    o.store = memory_store();
    o.audit = false;
    o.log.level = LogLevel::off;
    o.worker_threads = 1;
    o.reader_threads = 1;
    Runtime rt(std::move(o));
    d.install(rt);
    DomainContents c;
    c.name = d.name;
    for (const auto& [aggregate, events] : rt.aggregate_events()) {
      c.aggregates.insert(aggregate);
      c.event_types.insert(events.begin(), events.end());
    }
    for (const auto& p : rt.projection_names()) c.projections.insert(p);
    out.push_back(std::move(c));
  }
  return out;
}

StoreUse store_use(EventStore& store, const StoreSelection& sel) {
  StoreUse use;
  if (sel.memory) return use;  // a new, empty store: nothing has used it yet
  const auto recorded = store.recorded_users();
  if (!recorded) return use;
  use.recorded = true;
  use.aggregates = recorded->aggregates;
  use.projections = recorded->projections;
  for (auto& a : store.aggregate_types()) use.aggregates.insert(std::move(a));  // events stored without a runtime
  return use;
}

namespace {

std::vector<std::string> domains_using(const std::vector<DomainContents>& contents, const StoreUse& use) {
  std::vector<std::string> out;
  auto meets = [](const std::set<std::string>& a, const std::set<std::string>& b) {
    return std::any_of(a.begin(), a.end(), [&](const std::string& n) { return b.count(n) > 0; });
  };
  for (const auto& d : contents)
    if (!use.recorded || meets(d.aggregates, use.aggregates) || meets(d.projections, use.projections))
      out.push_back(d.name);
  return out;
}

std::vector<std::string> tool_domains(const Context& ctx, const StoreSelection& sel, const StoreUse& use,
                                      const std::vector<DomainContents>& contents) {
  check_domains(ctx, sel);
  if (!use.recorded) return sel.domains.empty() ? ctx.catalog.names() : sel.domains;
  const auto using_it = domains_using(contents, use);
  for (const auto& d : sel.domains)
    if (std::find(using_it.begin(), using_it.end(), d) == using_it.end())
      throw ToolError(exit_usage, "domain '" + d + "' does not use this store; "
                                    + (using_it.empty() ? std::string("no domain of this annals does")
                                                        : "its domains are: " + join(using_it)));
  return sel.domains.empty() ? using_it : sel.domains;
}

std::vector<std::string> projections_of(const std::vector<DomainContents>& contents,
                                        const std::vector<std::string>& domains) {
  std::set<std::string> names;
  for (const auto& d : contents)
    if (std::find(domains.begin(), domains.end(), d.name) != domains.end())
      names.insert(d.projections.begin(), d.projections.end());
  return {names.begin(), names.end()};
}

// Edits (insert, delete, replace one character) between a and b.
std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

} // namespace

std::vector<std::string> tool_domains(const Context& ctx, const StoreSelection& sel, EventStore& store) {
  const auto use = store_use(store, sel);
  return tool_domains(ctx, sel, use, use.recorded ? catalog_contents(ctx) : std::vector<DomainContents>{});
}

std::vector<std::string> tool_projections(const Context& ctx, const StoreSelection& sel, EventStore& store) {
  const auto use = store_use(store, sel);
  const auto contents = catalog_contents(ctx);
  return projections_of(contents, tool_domains(ctx, sel, use, contents));
}

std::unique_ptr<Runtime> start_runtime(Context& ctx, const StoreSelection& sel, Access access,
                                       const std::string& log_level) {
  RuntimeOptions o;
  o.store = open_store(ctx, sel, access);
  const auto domains = tool_domains(ctx, sel, *o.store->connect());
  o.audit = false;  // the tools send no commands
  o.log.level = log_level_from_string(log_level).value_or(LogLevel::warn);
  auto mtx = std::make_shared<std::mutex>();
  std::ostream* err = &ctx.err;
  o.log.sink = [mtx, err](const LogRecord& r) {
    std::lock_guard<std::mutex> lock(*mtx);
    *err << Logger::format_text(r) << "\n";
    err->flush();
  };
  auto rt = std::make_unique<Runtime>(std::move(o));
  if (!domains.empty()) ctx.catalog.install(*rt, domains);  // none: an empty list would install them all
  return rt;
}

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string join(const std::set<std::string>& names) { return join(std::vector<std::string>(names.begin(), names.end())); }

std::string name_list(const std::vector<std::string>& names, std::size_t limit) {
  if (names.size() <= limit) return join(names);
  return join(std::vector<std::string>(names.begin(), names.begin() + static_cast<std::ptrdiff_t>(limit))) + " ... and "
         + std::to_string(names.size() - limit) + " more";
}

std::optional<std::string> closest(const std::string& name, const std::set<std::string>& candidates) {
  std::optional<std::string> best;
  std::size_t best_distance = std::max<std::size_t>(2, name.size() / 3) + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(name, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

void require_projection(const Context& ctx, const StoreSelection& sel, EventStore& store,
                        std::vector<std::string> loaded, const std::string& projection) {
  if (std::find(loaded.begin(), loaded.end(), projection) != loaded.end()) return;
  std::sort(loaded.begin(), loaded.end());
  const auto use = store_use(store, sel);
  if (use.recorded) {
    const auto contents = catalog_contents(ctx);
    const auto of_store = projections_of(contents, domains_using(contents, use));
    const bool in_catalog = std::any_of(contents.begin(), contents.end(),
                                        [&](const DomainContents& d) { return d.projections.count(projection) > 0; });
    const bool of_this_store = std::find(of_store.begin(), of_store.end(), projection) != of_store.end();
    if (in_catalog && !of_this_store)
      throw ToolError(exit_usage, "projection '" + projection + "' does not use this store; its projections are: "
                                    + (of_store.empty() ? std::string("none") : join(of_store)));
    if (!in_catalog && use.projections.count(projection))
      throw ToolError(exit_usage, "projection '" + projection + "' uses this store, but no domain of this annals "
                                    "registers it (its domains: " + join(ctx.catalog.names()) + ")");
  }
  throw ToolError(exit_usage, "unknown projection '" + projection + "' (known: "
                                + (loaded.empty() ? std::string("none") : join(loaded)) + ")");
}

void require_projection(const Context& ctx, const StoreSelection& sel, Runtime& rt, const std::string& projection) {
  auto loaded = rt.projection_names();
  if (std::find(loaded.begin(), loaded.end(), projection) != loaded.end()) return;
  require_projection(ctx, sel, *rt.options().store->connect(), std::move(loaded), projection);
}

WaitResult wait_caught_up(Context& ctx, Runtime& rt, const std::vector<std::string>& projections,
                          std::int64_t target, std::chrono::duration<double> timeout) {
  const auto until = std::chrono::steady_clock::now()
                     + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  for (;;) {
    bool all = true;
    for (const auto& p : projections) {
      auto st = rt.projection_status(p);
      if (!st || !st->running || st->checkpoint < target) {
        all = false;
        break;
      }
    }
    if (all) return WaitResult::caught_up;
    if (ctx.stop_requested()) return WaitResult::interrupted;
    if (std::chrono::steady_clock::now() >= until) return WaitResult::timed_out;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string lagging(Runtime& rt, const std::vector<std::string>& projections, std::int64_t target) {
  std::string out;
  for (const auto& p : projections) {
    auto st = rt.projection_status(p);
    std::string line;
    if (!st) {
      line = "projection '" + p + "': " + st.error().message;
    } else if (!st->running || st->checkpoint < target) {
      line = "projection '" + p + "' is at position " + std::to_string(st->checkpoint) + " of "
             + std::to_string(target) + (st->running ? "" : " (restarting)");
      if (st->last_error) line += " (last error: " + *st->last_error + ")";
    }
    if (!line.empty()) out += (out.empty() ? "" : "; ") + line;
  }
  return out;
}

void print_json_line(std::ostream& out, const json::value& v) { out << plain_json(v) << '\n'; }

std::string short_time(std::int64_t us) {
  std::string s = format_timestamp(us);  // 2026-11-24T10:00:00.123456Z
  if (s.size() == 27) s = s.substr(0, 23) + "Z";
  return s;
}

Table::Table(std::vector<std::string> headers, std::string right)
  : headers_(std::move(headers)), right_(std::move(right)) {
  widths_.assign(std::max(headers_.size(), right_.size()), 0);
  for (std::size_t i = 0; i < headers_.size(); ++i) widths_[i] = text_width(headers_[i]);
}

void Table::add(std::vector<std::string> row) {
  for (auto& cell : row) cell = one_line(std::move(cell));
  if (row.size() > widths_.size()) widths_.resize(row.size(), 0);
  for (std::size_t i = 0; i < row.size(); ++i) widths_[i] = std::max(widths_[i], text_width(row[i]));
  rows_.push_back(std::move(row));
}

void Table::print(std::ostream& out) {
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s;
    for (std::size_t i = 0; i < cells.size(); ++i) {
      const bool last = i + 1 == cells.size();
      const std::size_t pad = widths_[i] - std::min(widths_[i], text_width(cells[i]));
      const bool right = i < right_.size() && right_[i] == 'r';
      if (i > 0) s += "  ";
      if (right) s.append(pad, ' ');
      s += cells[i];
      if (!right && !last) s.append(pad, ' ');
    }
    out << s << '\n';
  };
  if (rows_.empty()) return;
  if (!header_done_ && !headers_.empty()) line(headers_);
  header_done_ = true;
  for (const auto& r : rows_) line(r);
  rows_.clear();
}

} // namespace tools
} // namespace annals::cli
