#include "engine/core/errc.hpp"
#include "engine/core/json_render.hpp"
#include "engine/core/time_format.hpp"
#include "http/api_routes.hpp"
#include "http/query_params.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

void add_event_routes(Router& router, ApiContext& api) {
  router.add(verb::get, "/v1/events", guarded(api.auth, [&api](Request& req) {
               EventQuery query;
               query.aggregate_id = req.query_param("aggregate_id");
               query.type = req.query_param("type");
               query.limit = read_int_param(req, "limit", 1, 1000, 100);
               boost::json::array out;
               for (auto& e : api.events.list(*req.actor, query)) {
                 boost::json::object item{{"event_id", e.event_id},
                                          {"type", e.type},
                                          {"aggregate_type", e.aggregate_type},
                                          {"aggregate_id", e.aggregate_id},
                                          {"occurred_at", format_timestamp(e.occurred_at)},
                                          {"published_at", json_or_null(e.published_at)}};
                 if (auto actor = e.data.if_contains("actor")) item["actor"] = *actor;
                 item["data"] = std::move(e.data);
                 out.push_back(std::move(item));
               }
               return Response::of(status::ok, std::move(out));
             }));
}

}  // namespace keyflow::http
