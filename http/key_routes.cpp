#include <boost/url/encode.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>

#include "engine/errc.hpp"
#include "engine/json_render.hpp"
#include "http/api_routes.hpp"
#include "http/json_input.hpp"

namespace keyflow::http {

using boost::beast::http::status;
using boost::beast::http::verb;

namespace {

NewKey read_new_key(const std::string& body) {
  const JsonInput in(body, {"project_id", "organization_id", "environment_id", "name", "scopes",
                            "expires_at", "rotation_interval_days", "next_rotation_at",
                            "rotation_webhook_url", "enabled", "meta", "allowed_cidrs"});
  NewKey key;
  key.project_id = in.optional_string("project_id");
  key.organization_id = in.optional_string("organization_id");
  key.environment_id = in.optional_string("environment_id");
  key.name = in.required_string("name");
  key.scopes = in.optional_strings("scopes").value_or(std::vector<std::string>{});
  key.expires_at = in.optional_time("expires_at");
  if (auto days = in.optional_int("rotation_interval_days", 1, 3650)) {
    key.rotation_interval_days = static_cast<int>(*days);
  }
  key.next_rotation_at = in.optional_time("next_rotation_at");
  key.rotation_webhook_url = in.optional_string("rotation_webhook_url");
  key.enabled = in.optional_bool("enabled").value_or(true);
  key.meta = in.optional_object("meta");
  key.allowed_cidrs = in.optional_strings("allowed_cidrs").value_or(std::vector<std::string>{});
  return key;
}

// PATCH: a field that is absent stays; null clears a nullable field.
KeyPatch read_patch(const std::string& body) {
  const JsonInput in(
      body, {"name", "scopes", "expires_at", "rotation_interval_days", "rotation_webhook_url",
             "environment_id", "enabled", "meta", "allowed_cidrs"});
  auto not_null = [&](const char* field) {
    if (in.is_null(field)) {
      throw Error(errc::invalid_argument, std::string(field) + " cannot be null", field);
    }
  };
  KeyPatch p;
  if (in.has("name")) {
    not_null("name");
    p.name = in.required_string("name");
  }
  if (in.has("scopes")) {
    not_null("scopes");
    p.scopes = in.optional_strings("scopes");
  }
  if (in.has("expires_at")) p.expires_at = in.optional_time("expires_at");
  if (in.has("rotation_interval_days")) {
    const auto days = in.optional_int("rotation_interval_days", 1, 3650);
    p.rotation_interval_days = days ? std::optional<int>(static_cast<int>(*days)) : std::nullopt;
  }
  if (in.has("rotation_webhook_url")) {
    p.rotation_webhook_url = in.optional_string("rotation_webhook_url");
  }
  if (in.has("environment_id")) p.environment_id = in.optional_string("environment_id");
  if (in.has("enabled")) {
    not_null("enabled");
    p.enabled = in.optional_bool("enabled");
  }
  if (in.has("meta")) p.meta = in.optional_object("meta");
  if (in.has("allowed_cidrs")) {
    not_null("allowed_cidrs");
    p.allowed_cidrs = in.optional_strings("allowed_cidrs");
  }
  return p;
}

KeyListRequest read_list_request(const Request& req) {
  KeyListRequest r;
  r.project_id = req.query_param("project_id");
  r.organization_id = req.query_param("organization_id");
  r.environment_id = req.query_param("environment_id");
  r.state = req.query_param("state");
  r.cursor = req.query_param("cursor");
  if (auto limit = req.query_param("limit")) {
    try {
      std::size_t used = 0;
      r.limit = std::stoi(*limit, &used);
      if (used != limit->size()) throw std::invalid_argument("trailing characters");
    } catch (const std::exception&) {
      throw Error(errc::invalid_argument, "limit must be a whole number from 1 to 1000", "limit");
    }
  }
  return r;
}

// Seed 002's rotate response.
boost::json::object rotation_json(const Rotation& r) {
  const auto fresh = to_json(r.new_key);
  return {{"old_key_id", r.old_key.id},
          {"new_key_id", r.new_key.id},
          {"project_id", fresh.at("project_id")},
          {"name", r.new_key.name},
          {"key", r.plaintext},
          {"key_prefix", r.new_key.key_prefix},
          {"scopes", fresh.at("scopes")},
          {"expires_at", fresh.at("expires_at")},
          {"created_at", fresh.at("created_at")},
          {"grace_expires_at", json_or_null(r.old_key.grace_expires_at)}};
}

boost::json::object verify_json(const VerifyResult& result) {
  boost::json::object out{{"valid", result.code == VerifyCode::valid},
                          {"code", to_string(result.code)}};
  if (result.key) {
    const auto k = to_json(*result.key);
    out["key_id"] = k.at("id");
    for (const char* field :
         {"organization_id", "project_id", "environment_id", "name", "scopes", "enabled",
          "expires_at", "replaced_by_key_id", "grace_expires_at", "meta"}) {
      out[field] = k.at(field);
    }
  }
  return out;
}

}  // namespace

void add_key_routes(Router& router, ApiContext& api) {
  router.add(verb::post, "/v1/api-keys", guarded(api.auth, [&api](Request& req) {
               const auto created = api.keys.create(*req.actor, read_new_key(req.body));
               auto body = to_json(created.key);
               body["key"] = created.plaintext;
               return Response::of(status::created, std::move(body));
             }));
  router.add(
      verb::get, "/v1/api-keys", guarded(api.auth, [&api](Request& req) {
        const auto page = api.keys.list(*req.actor, read_list_request(req));
        boost::json::array keys;
        for (const auto& k : page.keys)
          keys.push_back(to_json(k));
        auto response = Response::of(status::ok, std::move(keys));
        // Seed 002's bare array stays the body; the next page travels in headers.
        if (page.next_cursor) {
          response.headers.emplace_back("X-Next-Cursor", *page.next_cursor);
          std::string next = req.path + "?";
          for (const auto& [name, value] : req.query) {
            if (name != "cursor") {
              next += name + "=" + boost::urls::encode(value, boost::urls::unreserved_chars) + "&";
            }
          }
          next += "cursor=" + boost::urls::encode(*page.next_cursor, boost::urls::unreserved_chars);
          response.headers.emplace_back("Link", "<" + next + ">; rel=\"next\"");
        }
        return response;
      }));
  router.add(verb::get, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               return Response::of(status::ok, to_json(api.keys.get(*req.actor, req.param("id"))));
             }));
  router.add(verb::patch, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               return Response::of(status::ok, to_json(api.keys.update(*req.actor, req.param("id"),
                                                                       read_patch(req.body))));
             }));
  router.add(verb::delete_, "/v1/api-keys/{id}", guarded(api.auth, [&api](Request& req) {
               api.keys.revoke(*req.actor, req.param("id"));
               return Response::empty(status::no_content);
             }));
  router.add(verb::post, "/v1/api-keys/{id}/rotate", guarded(api.auth, [&api](Request& req) {
               const JsonInput in(req.body, {"grace_period_seconds", "expires_at"});
               RotateOptions options;
               options.grace_period = std::chrono::seconds(
                   in.optional_int("grace_period_seconds", 0, 90L * 24 * 3600).value_or(0));
               options.expires_at = in.optional_time("expires_at");
               return Response::of(status::ok, rotation_json(api.keys.rotate(
                                                   *req.actor, req.param("id"), options)));
             }));
  router.add(verb::post, "/v1/api-keys/verify", guarded(api.auth, [&api](Request& req) {
               const JsonInput in(req.body, {"key", "ip", "scopes"});
               VerifyRequest request;
               request.key = in.required_string("key");
               request.ip = in.optional_string("ip");
               request.scopes = in.optional_strings("scopes").value_or(std::vector<std::string>{});
               return Response::of(status::ok, verify_json(api.keys.verify(*req.actor, request)));
             }));
}

}  // namespace keyflow::http
