#include "http/router.hpp"

#include <boost/json/serialize.hpp>
#include <pqxx/except.hxx>
#include <spdlog/spdlog.h>

#include "engine/core/errc.hpp"
#include "engine/core/log_limiter.hpp"
#include "engine/core/non_blocking.hpp"
#include "http/error_mapping.hpp"

namespace keyflow::http {
namespace {

using boost::beast::http::status;

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

// Number of literal segments matched, or -1 when the pattern does not match.
int match(const std::vector<std::string>& parts, const std::vector<std::string_view>& path,
          std::map<std::string, std::string>* params) {
  if (parts.size() != path.size()) return -1;
  int literals = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].starts_with('{')) {
      if (path[i].empty()) return -1;
      if (params) (*params)[std::string(parts[i].substr(1, parts[i].size() - 2))] = path[i];
    } else if (parts[i] == path[i]) {
      ++literals;
    } else {
      return -1;
    }
  }
  return literals;
}

Response database_unavailable(std::string_view what) {
  // An outage fails every request: one line a second says so without flooding the log.
  static LogLimiter limiter;
  if (const auto count = limiter.admit(std::chrono::steady_clock::now())) {
    spdlog::error("database unavailable ({} requests since the last such line): {}", count,
                  what.substr(0, what.find('\n')));
  }
  return error_response(status::service_unavailable, "unavailable", "database unavailable");
}

}  // namespace

Response error_response(status s, std::string_view code, std::string_view message,
                        std::string_view field) {
  boost::json::object error{{"code", code}, {"message", message}};
  if (!field.empty()) error["field"] = field;
  return Response::of(s, boost::json::object{{"error", std::move(error)}});
}

void Router::add(boost::beast::http::verb method, std::string pattern, Handler handler, Runs runs) {
  std::vector<std::string> segments;
  for (const auto part : split_path(pattern))
    segments.emplace_back(part);
  if (pattern.find('{') == std::string::npos) literal_[pattern].push_back(routes_.size());
  routes_.push_back(
      {method, std::move(pattern), std::move(handler), runs, std::move(segments), routes_.size()});
}

Router::Match Router::route(const Request& request) const {
  // A pattern that is the path itself matches every segment literally: none matches better.
  if (const auto it = literal_.find(std::string_view(request.path)); it != literal_.end()) {
    for (const auto i : it->second) {
      if (routes_[i].method == request.method) return {&routes_[i], true};
    }
  }
  const auto path = split_path(request.path);
  Match found;
  int best_literals = -1;
  for (const auto& route : routes_) {
    const int literals = match(route.segments, path, nullptr);
    if (literals < 0) continue;
    found.path_known = true;
    if (route.method == request.method && literals > best_literals) {
      found.route = &route;
      best_literals = literals;
    }
  }
  return found;
}

Response Router::dispatch(Request& request, const Match& found) const {
  const Route* best = found.route;
  if (best == nullptr) {
    return found.path_known ? error_response(status::method_not_allowed, "method_not_allowed",
                                             "method not allowed on this path")
                            : error_response(status::not_found, "not_found", "no such route");
  }
  match(best->segments, split_path(request.path), &request.path_params);
  try {
    return best->handler(request);
  } catch (const WouldBlock&) {
    throw;  // the server runs the request again where it may block
  } catch (const Error& e) {
    const auto mapped = map_error(e.kind());
    return error_response(mapped.status, mapped.code, e.message(), e.field());
  } catch (const pqxx::broken_connection& e) {
    return database_unavailable(e.what());
  } catch (const pqxx::in_doubt_error& e) {
    return database_unavailable(e.what());
  } catch (const pqxx::sql_error& e) {
    // Classes 08 (connection), 53 (resources) and 57 (statement timeout, shutdown) are the
    // database's trouble, not the request's: 503, and the client may retry.
    const std::string state = e.sqlstate();
    if (state.starts_with("08") || state.starts_with("53") || state.starts_with("57")) {
      return database_unavailable(e.what());
    }
    spdlog::error("{} {} failed: {}", std::string(boost::beast::http::to_string(request.method)),
                  best->pattern, e.what());
    return error_response(status::internal_server_error, "internal_error", "internal error");
  } catch (const std::exception& e) {
    spdlog::error("{} {} failed: {}", std::string(boost::beast::http::to_string(request.method)),
                  best->pattern, e.what());
    return error_response(status::internal_server_error, "internal_error", "internal error");
  }
}

}  // namespace keyflow::http
