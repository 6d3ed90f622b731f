#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/http/status.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/json/value.hpp>

#include "engine/core/model.hpp"

namespace keyflow::http {

// What a handler sees of a request: already parsed, independent of the socket.
struct Request {
  boost::beast::http::verb method = boost::beast::http::verb::get;
  std::string path;
  std::map<std::string, std::string> path_params;
  std::map<std::string, std::string> query;
  std::string authorization;
  std::string body;
  std::string remote_ip;
  std::string request_id;      // the X-Request-Id answered with (request_telemetry.hpp)
  std::string traceparent;     // the W3C trace context sent, when valid (trace_context.hpp)
  std::optional<Actor> actor;  // set by the auth filter

  const std::string& param(const std::string& name) const { return path_params.at(name); }
  std::optional<std::string> query_param(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
};

struct Response {
  boost::beast::http::status status = boost::beast::http::status::ok;
  std::optional<boost::json::value> json;              // serialized as the body when set
  std::string text;                                    // the body otherwise
  std::string_view content_type = "application/json";  // a literal: set per response
  std::vector<std::pair<std::string, std::string>> headers;

  static Response of(boost::beast::http::status s, boost::json::value body) {
    Response r;
    r.status = s;
    r.json = std::move(body);
    return r;
  }
  static Response empty(boost::beast::http::status s) {
    Response r;
    r.status = s;
    r.content_type = {};
    return r;
  }
};

// {"error":{"code","message","field"}}: the one error body of the API.
Response error_response(boost::beast::http::status status, std::string_view code,
                        std::string_view message, std::string_view field = {});

}  // namespace keyflow::http
