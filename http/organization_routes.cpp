#include "engine/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/json_input.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

void add_organization_routes(Router& router, ApiContext& api) {
  router.add(verb::post, "/v1/organizations", guarded(api.auth, [&api](Request& req) {
               const JsonInput in(req.body, {"name"});
               return Response::of(
                   status::created,
                   to_json(api.organizations.create_organization(in.required_string("name"))));
             }));
  router.add(verb::get, "/v1/organizations/{id}", guarded(api.auth, [&api](Request& req) {
               return Response::of(status::ok,
                                   to_json(api.organizations.get_organization(req.param("id"))));
             }));
  router.add(verb::post, "/v1/projects", guarded(api.auth, [&api](Request& req) {
               const JsonInput in(req.body, {"organization_id", "name", "key_prefix"});
               return Response::of(
                   status::created,
                   to_json(api.organizations.create_project(
                       in.required_string("organization_id"), in.required_string("name"),
                       in.optional_string("key_prefix").value_or("kf"))));
             }));
  router.add(verb::get, "/v1/projects/{id}", guarded(api.auth, [&api](Request& req) {
               return Response::of(status::ok,
                                   to_json(api.organizations.get_project(req.param("id"))));
             }));
}

}  // namespace keyflow::http
