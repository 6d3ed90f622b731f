#pragma once

#include <optional>
#include <string>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include "engine/core/model.hpp"

namespace keyflow {

// The one JSON form of each resource, shared by HTTP responses and event data, so that a
// webhook receiver and an API client see the same fields.
boost::json::object to_json(const Organization& org);
boost::json::object to_json(const Project& project);
boost::json::object to_json(const Environment& environment);
boost::json::object to_json(const ApiKey& key);
boost::json::object to_json(const WebhookSubscription& sub);
boost::json::object to_json(const Actor& actor);

boost::json::array to_array(const std::vector<std::string>& items);
boost::json::value json_or_null(const std::optional<std::string>& v);
boost::json::value json_or_null(const std::optional<TimePoint>& v);
boost::json::value json_or_null(const std::optional<int>& v);
boost::json::value json_or_null(const std::optional<std::vector<int>>& v);

}  // namespace keyflow
