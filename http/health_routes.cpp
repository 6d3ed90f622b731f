#include "http/api_routes.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

Handler guarded(const Authenticator& auth, Handler handler) {
  return [&auth, handler = std::move(handler)](Request& request) {
    request.actor = auth.authenticate(request.authorization, request.remote_ip);
    if (!request.actor) {
      Response r =
          error_response(status::unauthorized, "unauthorized", "missing or invalid bearer token");
      r.headers.emplace_back("WWW-Authenticate", "Bearer");
      return r;
    }
    return handler(request);
  };
}

void add_health_routes(Router& router, ApiContext& api) {
  // Health and metrics never touch the database, so they run on the I/O thread and answer
  // even while every worker waits on a stalled database.
  router.add(
      verb::get, "/healthz",
      [](Request&) {
        return Response::of(status::ok, boost::json::object{{"status", "ok"}});
      },
      Router::Runs::inline_);
  router.add(verb::get, "/readyz", [&api](Request&) {
    const bool database = api.database_ready();
    const bool broker = api.broker_ready();
    const bool ready = database && broker;
    return Response::of(
        ready ? status::ok : status::service_unavailable,
        boost::json::object{{"status", ready ? "ready" : "not_ready"},
                            {"checks", {{"database", database}, {"broker", broker}}}});
  });
  router.add(
      verb::get, "/metrics",
      [&api](Request&) {
        Response r;
        r.content_type = "text/plain; version=0.0.4";
        r.text = api.metrics.render();
        return r;
      },
      Router::Runs::inline_);
}

}  // namespace keyflow::http
