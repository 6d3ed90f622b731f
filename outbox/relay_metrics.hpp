#pragma once

#include "engine/core/clock.hpp"
#include "engine/core/metrics.hpp"
#include "outbox/outbox_relay.hpp"

namespace keyflow {

// The relay's figures on /metrics. Counters are read from the relay's stats, hence gauges;
// the backlog ones come from the active relay (zero on a standby), so sum or max them across
// relays. relay must outlive every scrape of metrics.
void register_relay_metrics(Metrics& metrics, const OutboxRelay& relay, const Clock& clock);

}  // namespace keyflow
