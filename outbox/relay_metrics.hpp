#pragma once

#include "engine/core/clock.hpp"
#include "engine/core/metrics.hpp"
#include "outbox/outbox_relay.hpp"

namespace keyflow {

// The relay's figures on /metrics. The *_total ones are counters read from the relay's stats;
// the backlog ones come from the active relay (zero on a standby), so sum or max them across
// relays. relay must outlive every scrape of metrics.
void register_relay_metrics(Metrics& metrics, const OutboxRelay& relay, const Clock& clock);

// keyflow_relay_publish_latency_seconds, for RelayOptions::publish_latency: from a change to
// Kafka's acknowledgement of its event.
Metrics::Histogram& relay_publish_latency(Metrics& metrics);

}  // namespace keyflow
