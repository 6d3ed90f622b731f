#include "engine/core/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/json_input.hpp"
#include "http/query_params.hpp"
#include "http/webhook_requests.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

// The webhook delivery log: what was sent where, each attempt, and replays.
void add_delivery_routes(Router& router, ApiContext& api) {
  auto list = guarded(api.auth, [&api](Request& req) {
    const auto request = read_delivery_list_request(req);
    const auto page = api.deliveries.list(*req.actor, request);
    boost::json::array deliveries;
    for (const auto& d : page.deliveries)
      deliveries.push_back(to_json(d));
    return list_page(std::move(deliveries), page.next_cursor, "/v1/webhooks/deliveries",
                     {{"subscription_id", request.subscription_id},
                      {"status", request.status},
                      {"event_type", request.event_type}},
                     request.limit);
  });
  auto get = guarded(api.auth, [&api](Request& req) {
    return Response::of(status::ok, to_json(api.deliveries.get(*req.actor, req.param("id"))));
  });
  auto retry = guarded(api.auth, [&api](Request& req) {
    read_empty_body(req.body);
    api.deliveries.retry(*req.actor, req.param("id"));
    return Response::of(status::accepted,
                        boost::json::object{{"id", req.param("id")}, {"status", "pending"}});
  });
  auto recover = guarded(api.auth, [&api](Request& req) {
    const auto since = read_recover_since(req.body);
    const auto queued = api.deliveries.recover(*req.actor, req.param("id"), since);
    return Response::of(status::accepted,
                        boost::json::object{{"queued", static_cast<std::uint64_t>(queued)}});
  });
  // Answers once the attempt is recorded: 200 whatever the receiver answered.
  auto test = guarded(api.auth, [&api](Request& req) {
    read_empty_body(req.body);
    return Response::of(status::ok, to_json(api.deliveries.send_test(*req.actor, req.param("id"),
                                                                     api.test_events)));
  });
  for (const std::string prefix : {"/v1", "/api/v1"}) {
    router.add(verb::get, prefix + "/webhooks/deliveries", list);
    router.add(verb::get, prefix + "/webhooks/deliveries/{id}", get);
    router.add(verb::post, prefix + "/webhooks/deliveries/{id}/retry", retry);
    router.add(verb::post, prefix + "/webhooks/subscriptions/{id}/recover", recover);
    router.add(verb::post, prefix + "/webhooks/subscriptions/{id}/test", test);
  }
}

}  // namespace keyflow::http
