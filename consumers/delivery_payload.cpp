#include "consumers/delivery_payload.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace keyflow {

std::string_view event_resource(std::string_view event_type) {
  return event_type.substr(0, event_type.find('.'));
}

std::string delivery_body(std::string_view delivery_id, const CloudEvent& event) {
  // boost::json::object keeps insertion order, so the body reads in the documented order.
  boost::json::object body;
  body["id"] = delivery_id;
  body["event"] = event.type;
  body["resource"] = event_resource(event.type);
  body["resourceId"] = event.subject;
  body["timestamp"] = event.time;
  body["apiVersion"] = kWebhookApiVersion;
  body["data"] = event.data;
  return boost::json::serialize(body);
}

}  // namespace keyflow
