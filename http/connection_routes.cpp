#include "http/connection_routes.hpp"

#include "engine/core/errc.hpp"
#include "http/api_routes.hpp"
#include "http/connection_requests.hpp"
#include "http/json_input.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

namespace {

boost::json::object verify_json(const WriteKeyVerification& result) {
  boost::json::object out{{"valid", result.code == VerifyCode::valid},
                          {"code", to_string(result.code)}};
  if (result.connection) {
    const auto& c = *result.connection;
    out["key_id"] = result.key_id.value_or("");
    out["connection_id"] = c.id;
    out["connection_type"] = to_string(c.type);
    out["project_id"] = c.project_id;
    out["organization_id"] = c.organization_id;
  }
  return out;
}

}  // namespace

void add_connection_routes(Router& router, ConnectionService& connections,
                           const Authenticator& auth) {
  router.add(verb::post, "/v1/connections", guarded(auth, [&connections](Request& req) {
               const auto created = connections.create(*req.actor, read_new_connection(req.body));
               auto body = to_json(created.connection);
               body["key"] = created.key;
               return Response::of(status::created, std::move(body));
             }));
  router.add(verb::get, "/v1/connections", guarded(auth, [&connections](Request& req) {
               const auto project = req.query_param("project_id");
               if (!project) {
                 throw Error(errc::invalid_argument, "project_id is required", "project_id");
               }
               boost::json::array list;
               for (const auto& c : connections.list_by_project(*req.actor, *project))
                 list.push_back(to_json(c));
               return Response::of(status::ok, boost::json::object{{"connections", list}});
             }));
  router.add(verb::get, "/v1/connections/{id}", guarded(auth, [&connections](Request& req) {
               return Response::of(status::ok,
                                   to_json(connections.get(*req.actor, req.param("id"))));
             }));
  router.add(verb::delete_, "/v1/connections/{id}", guarded(auth, [&connections](Request& req) {
               connections.remove(*req.actor, req.param("id"));
               return Response::empty(status::no_content);
             }));
  router.add(verb::post, "/v1/connections/{id}/event-write-keys",
             guarded(auth, [&connections](Request& req) {
               read_empty_body(req.body);
               return Response::of(status::created,
                                   boost::json::object{{"key", connections.create_write_key(
                                                                   *req.actor, req.param("id"))}});
             }));
  router.add(verb::get, "/v1/connections/{id}/event-write-keys",
             guarded(auth, [&connections](Request& req) {
               boost::json::array keys;
               for (auto& k : connections.list_write_keys(*req.actor, req.param("id")))
                 keys.emplace_back(std::move(k));
               return Response::of(status::ok, boost::json::object{{"keys", std::move(keys)}});
             }));
  router.add(verb::delete_, "/v1/connections/{id}/event-write-keys/{key}",
             guarded(auth, [&connections](Request& req) {
               connections.delete_write_key(*req.actor, req.param("id"), req.param("key"));
               return Response::empty(status::no_content);
             }));
  router.add(verb::post, "/v1/event-write-keys/verify", guarded(auth, [&connections](Request& req) {
               return Response::of(status::ok, verify_json(connections.verify_write_key(
                                                   *req.actor, read_write_key_verify(req.body))));
             }));
}

}  // namespace keyflow::http
