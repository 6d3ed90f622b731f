#pragma once

#include <string_view>
#include <vector>

#include "consumers/delivery_queue.hpp"
#include "engine/core/metrics.hpp"

namespace keyflow {

// What a DeliverySender counts of its attempts, labelled by queue ("deliver" for the event
// fan-out, "rotation" for rotation webhooks): attempts by outcome (succeeded, retrying, dead)
// and their duration, connect and TLS included.
class DeliveryMetrics {
 public:
  DeliveryMetrics(Metrics& metrics, std::string_view queue);

  void record(const std::vector<DeliveryResult>& results);

 private:
  Metrics::Counter& succeeded_;
  Metrics::Counter& retrying_;
  Metrics::Counter& dead_;
  Metrics::Histogram& duration_;
};

}  // namespace keyflow
