#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "http/request.hpp"

namespace keyflow::http {

using Handler = std::function<Response(Request&)>;

// Method + path pattern ("/v1/api-keys/{id}/rotate") to handler. Literal segments win over
// parameters, so /v1/api-keys/verify is not taken for a key id.
class Router {
 public:
  // Where a handler may run: on the worker pool (it may block on the database); right on
  // the I/O thread (it never blocks: health, metrics), so that it answers even while every
  // worker waits on a stalled database; or on the I/O thread first, answering from memory,
  // and on the worker pool when it turns out to need the database (verify: a cached key
  // answers with no hop between threads). A cache_first handler is run inside a
  // NonBlockingScope, whose WouldBlock it lets through, and may be run twice.
  enum class Runs { on_workers, inline_, cache_first };

  struct Route {
    boost::beast::http::verb method;
    std::string pattern;
    Handler handler;
    Runs runs = Runs::on_workers;
    std::vector<std::string> segments;  // the pattern split at '/', once, when added
    std::size_t index = 0;              // its place among the routes, in the order added
  };

  void add(boost::beast::http::verb method, std::string pattern, Handler handler,
           Runs runs = Runs::on_workers);

  // The route that serves a request, looked up once per request: the server asks where it
  // runs and then dispatches it, maybe twice (Runs::cache_first), with the same match.
  struct Match {
    const Route* route = nullptr;  // null: 404 or 405
    bool path_known = false;       // some route has this path (405 rather than 404)
    // Where it runs; unknown routes (404, 405) inline.
    Runs runs() const { return route == nullptr ? Runs::inline_ : route->runs; }
  };
  Match route(const Request& request) const;

  // Runs the matching handler; engine errors become their mapped error responses, so that
  // nothing but WouldBlock throws past this point. Unknown paths are 404, known paths with
  // another method 405.
  Response dispatch(Request& request, const Match& match) const;
  Response dispatch(Request& request) const { return dispatch(request, route(request)); }

  const std::vector<Route>& routes() const { return routes_; }

 private:
  struct PathHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view path) const {
      return std::hash<std::string_view>{}(path);
    }
  };
  std::vector<Route> routes_;
  // Patterns without parameters → their routes: a request for one of them (verify, health)
  // is found with one lookup instead of a walk over every pattern.
  std::unordered_map<std::string, std::vector<std::size_t>, PathHash, std::equal_to<>> literal_;
};

}  // namespace keyflow::http
