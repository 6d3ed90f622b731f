#include "consumers/delivery_payload.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

namespace keyflow {

std::string_view event_resource(std::string_view event_type) {
  return event_type.substr(0, event_type.find('.'));
}

std::string delivery_data(const CloudEvent& event) {
  return boost::json::serialize(event.data);
}

std::string delivery_body(std::string_view delivery_id, const CloudEvent& event,
                          std::string_view data) {
  // The members in the documented order, each string quoted and escaped by Boost.JSON: the
  // bytes boost::json::serialize gives for the same object, without copying data into it.
  const std::pair<std::string_view, std::string_view> strings[] = {
      {R"({"id":)", delivery_id},
      {R"(,"event":)", event.type},
      {R"(,"resource":)", event_resource(event.type)},
      {R"(,"resourceId":)", event.subject},
      {R"(,"timestamp":)", event.time},
      {R"(,"apiVersion":)", kWebhookApiVersion},
  };
  std::string body;
  body.reserve(data.size() + 256);
  for (const auto& [member, text] : strings)
    body.append(member).append(boost::json::serialize(boost::json::string_view(text)));
  body.append(R"(,"data":)").append(data).push_back('}');
  return body;
}

std::string delivery_body(std::string_view delivery_id, const CloudEvent& event) {
  return delivery_body(delivery_id, event, delivery_data(event));
}

}  // namespace keyflow
