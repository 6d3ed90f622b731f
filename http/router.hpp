#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http/request.hpp"

namespace keyflow::http {

using Handler = std::function<Response(Request&)>;

// Method + path pattern ("/v1/api-keys/{id}/rotate") to handler. Literal segments win over
// parameters, so /v1/api-keys/verify is not taken for a key id.
class Router {
 public:
  // Where a handler may run: on the worker pool (it may block on the database), or right on
  // the I/O thread (it never blocks: health, metrics), so that it answers even while every
  // worker waits on a stalled database.
  enum class Runs { on_workers, inline_ };

  struct Route {
    boost::beast::http::verb method;
    std::string pattern;
    Handler handler;
    Runs runs = Runs::on_workers;
  };

  void add(boost::beast::http::verb method, std::string pattern, Handler handler,
           Runs runs = Runs::on_workers);

  // True when the route that would serve the request never blocks (Runs::inline_).
  bool runs_inline(const Request& request) const;

  // Runs the matching handler; engine errors become their mapped error responses, so that
  // nothing throws past this point. Unknown paths are 404, known paths with another method 405.
  Response dispatch(Request& request) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  const Route* find(const Request& request, bool* path_known) const;

  std::vector<Route> routes_;
};

}  // namespace keyflow::http
